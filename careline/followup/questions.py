"""The follow-up in the conversation: the external intents that start it, and whether it awaits an answer.

The worker triggers `EXTERNAL_follow_up` (or `EXTERNAL_late_order` for a late-order notice) with the
follow-up's id as the entity `follow_up_id`; the action it starts (`action_follow_up`) asks the
question, and the customer's next yes or no answers it (`action_follow_up_yes`/`_no`).
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from careline.shared import said_by_customer

FOLLOW_UP_INTENT = "EXTERNAL_follow_up"
LATE_ORDER_INTENT = "EXTERNAL_late_order"
ENTITY = "follow_up_id"
ASK_ACTION = "action_follow_up"
#: Actions that are no answer of the bot's own (listening, a reverted acknowledgement).
NOT_QUESTIONS = ("action_listen", "action_acknowledge_frustration")


def latest_question_was_follow_up(events: Iterable[Mapping[str, Any]]) -> bool:
    """Whether the bot's last turn before the customer's latest message was a follow-up's question.

    For routing a "yes" or "no" (Rasa event dictionaries, oldest first): the customer is answering
    the follow-up only if nothing else was said since it asked.
    """
    history = list(events)
    latest = next((i for i in range(len(history) - 1, -1, -1) if said_by_customer(history[i])), None)
    if latest is None:
        return False
    for event in reversed(history[:latest]):
        if event.get("event") == "user" and said_by_customer(event):
            return False
        if event.get("event") == "action" and event.get("name") not in NOT_QUESTIONS:
            return bool(event.get("name") == ASK_ACTION)
    return False
