"""Conversation helpers over plain event dictionaries (no Rasa imports).

- which request started the current identity check, and what the customer wrote since,
- how many identity checks failed in this conversation,
- how many times in a row the bot has just said the same thing (the no-loop guard),
- the bot's latest question (its latest message with buttons) and which action asked it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional

ORDER_REQUESTS = (
    "order_status",
    "cancel_order",
    "return_item",
    "request_refund",
    "dispute_charge",
    "change_address",
    "payment_issue",
    "delivery_problem",
)
IDENTITY_FORM = "order_form"
MAX_FAILED_VERIFICATIONS = 3
#: The bot never says the same prompt three times in a row: the third time becomes another offer.
MAX_SAME_PROMPT = 2
#: The payloads of buttons that answer a yes/no question.
YES_NO = ("/affirm", "/deny")

def _intent(event: Dict[str, Any]) -> Optional[str]:
    return ((event.get("parse_data") or {}).get("intent") or {}).get("name")


def order_topic(events: Iterable[Dict[str, Any]]) -> str:
    """The request that started the latest identity check (`order_status` if none did).

    It is the customer's message just before the identity form was last activated, so that
    an answer given inside the form ("it arrived broken") cannot change what was asked.
    """
    history = list(events)
    for index in range(len(history) - 1, -1, -1):
        event = history[index]
        if event.get("event") == "active_loop" and event.get("name") == IDENTITY_FORM:
            for earlier in reversed(history[:index]):
                if earlier.get("event") == "user":
                    intent = _intent(earlier)
                    return intent if intent in ORDER_REQUESTS else "order_status"
            break
    for event in reversed(history):
        intent = _intent(event) if event.get("event") == "user" else None
        if intent in ORDER_REQUESTS:
            return intent
    return "order_status"


def _topic_start(history: List[Dict[str, Any]]) -> int:
    """Index of the customer message that started the current request (0 when none did)."""
    for index in range(len(history) - 1, -1, -1):
        event = history[index]
        if event.get("event") == "active_loop" and event.get("name") == IDENTITY_FORM:
            return next((i for i in range(index - 1, -1, -1) if history[i].get("event") == "user"), 0)
    return next((i for i in range(len(history) - 1, -1, -1)
                 if history[i].get("event") == "user" and _intent(history[i]) in ORDER_REQUESTS), 0)


def topic_texts(events: Iterable[Dict[str, Any]], latest: Optional[str] = None) -> List[str]:
    """What the customer wrote since they made the current request, oldest first (that message too).

    `latest` is the message being handled when it is not in `events` yet. A detail given early
    ("refund for CL-100003, it never arrived") is found here instead of being asked for again.
    """
    history = list(events)
    texts = [event.get("text") or "" for event in history[_topic_start(history):] if event.get("event") == "user"]
    if latest and (not texts or texts[-1] != latest):
        texts.append(latest)
    return texts


def bot_turns(events: Iterable[Dict[str, Any]]) -> List[List[str]]:
    """What the bot said in each of its turns (between two customer messages), oldest first."""
    turns: List[List[str]] = [[]]
    for event in events:
        if event.get("event") == "user":
            turns.append([])
        elif event.get("event") == "bot" and event.get("text"):
            turns[-1].append(str(event["text"]))
    return [turn for turn in turns if turn]


def times_in_a_row(events: Iterable[Dict[str, Any]], text: str) -> int:
    """How many of the bot's turns in a row before the customer's latest message said `text`.

    The no-loop guard: when it is MAX_SAME_PROMPT already, saying it again would be the third time.
    What the bot has said so far in the current turn does not count.
    """
    history = list(events)
    last_user = next((i for i in range(len(history) - 1, -1, -1) if history[i].get("event") == "user"), 0)
    count = 0
    for turn in reversed(bot_turns(history[:last_user])):
        if text not in turn:
            break
        count += 1
    return count


@dataclass(frozen=True)
class Question:
    """The bot's latest question: its text, its buttons and the action that asked it ("" if unknown)."""

    text: str
    buttons: List[Dict[str, Any]]
    asker: str

    def offers(self, *payloads: str) -> bool:
        """Whether one of its buttons answers one of `payloads`."""
        return any(button.get("payload") in payloads for button in self.buttons)

    @property
    def yes_no(self) -> bool:
        """A yes/no question: an offer, "did it work out?", "would you like a person?"."""
        return self.offers(*YES_NO)


def latest_question(events: Iterable[Dict[str, Any]]) -> Optional[Question]:
    """The bot's latest message with buttons (None when it never asked one).

    Whatever is asked later (the rating, a menu of requests) replaces it as the latest question, so
    an older yes/no question is retired; answers without buttons (an FAQ) leave it standing.
    """
    history = list(events)
    for index in range(len(history) - 1, -1, -1):
        event = history[index]
        buttons = ((event.get("data") or {}).get("buttons") or []) if event.get("event") == "bot" else []
        if buttons:
            asker = next((str(history[j].get("name")) for j in range(index - 1, -1, -1)
                          if history[j].get("event") == "action"), "")
            return Question(str(event.get("text") or ""), list(buttons), asker)
    return None


def failed_verifications(value: object) -> int:
    """The slot's count as a whole number (slots arrive as floats or junk)."""
    try:
        return max(0, int(float(value)))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0


def is_locked(value: object) -> bool:
    return failed_verifications(value) >= MAX_FAILED_VERIFICATIONS
