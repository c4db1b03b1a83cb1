"""The bot writes first: a follow-up ("did it work out?") and a late-order notice.

Thin adapters over careline.followup (the schedule in the store) and careline.dialogue.followups
(the words). The worker triggers `EXTERNAL_follow_up` / `EXTERNAL_late_order` with the follow-up's
id; the id is only a pointer: the store says whether that follow-up is due and belongs to this very
conversation, and marks it sent once, so a follow-up never reaches another customer or twice.
A yes (`action_follow_up_yes`) closes the case and the rating follows; a no (`action_follow_up_no`)
hands the conversation to a person with a ticket that names the case.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.deps import follow_up_schedule, late_remedy_days
from actions.handoff import hand_off
from careline.dialogue.followups import follow_up_question, late_notice
from careline.followup import ENTITY
from careline.shared import button, render
from careline.shared.clock import utctoday

logger = logging.getLogger(__name__)

FOLLOW_UP_REASON = "follow_up"  # careline/handoff/ticket.py: the customer said the case did not work out


def watch_order(tracker: Tracker, order_number: str) -> None:
    """A verified customer asked where their order is: if it becomes late, this conversation hears first.

    Best effort: the customer's answer never waits on it, so a store failure is logged, not raised.
    """
    try:
        follow_up_schedule().watch_order(tracker.sender_id, tracker.get_latest_input_channel(), order_number)
    except Exception:  # noqa: BLE001 - the order's status is answered whatever happens here
        logger.exception("could not remember that %s asked about %s", tracker.sender_id, order_number)


def _follow_up_id(tracker: Tracker) -> Optional[str]:
    entities: List[Dict[str, Any]] = tracker.latest_message.get("entities") or []
    found = next((e.get("value") for e in entities if isinstance(e, dict) and e.get("entity") == ENTITY), None)
    return str(found) if found is not None else None


def yes_no() -> List[Dict[str, str]]:
    return [button("utter_button_follow_up_yes", "/affirm"), button("utter_button_follow_up_no", "/deny")]


def late_order_buttons() -> List[Dict[str, str]]:
    return [button("utter_button_where_is_it_now", "/order_status"),
            button("utter_button_delivery_problem", "/delivery_problem")]


class ActionFollowUp(Action):
    """Ask whether the case worked out (run by `EXTERNAL_follow_up`); silent unless the follow-up is due here."""

    def name(self) -> str:
        return "action_follow_up"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        follow_up_id = _follow_up_id(tracker)
        if follow_up_id is None or tracker.is_paused():
            return []
        case = follow_up_schedule().ask(follow_up_id, tracker.sender_id, tracker.get_latest_input_channel())
        if case is None:
            return []
        dispatcher.utter_message(text=follow_up_question(case.kind, case.order_number, case.amount, case.reference,
                                                         case.first_name), buttons=yes_no())
        return []


class ActionFollowUpYes(Action):
    """It worked out: record it (the rating form follows, data/rules/followup.yml)."""

    def name(self) -> str:
        return "action_follow_up_yes"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        case = follow_up_schedule().answer(tracker.sender_id, resolved=True)
        dispatcher.utter_message(text=render("utter_follow_up_glad" if case else "utter_nothing_pending"))
        return []


class ActionFollowUpNo(Action):
    """It did not work out: record it and hand the conversation to a person with the case named on the ticket."""

    def name(self) -> str:
        return "action_follow_up_no"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        case = follow_up_schedule().answer(tracker.sender_id, resolved=False)
        if case is None:
            dispatcher.utter_message(text=render("utter_anything_else"))
            return []
        return hand_off(dispatcher, tracker, preface=render("utter_follow_up_sorry"), reason=FOLLOW_UP_REASON,
                        case=case.describe())


class ActionLateOrderNotice(Action):
    """Tell the customer an order they asked about is running late (run by `EXTERNAL_late_order`)."""

    def name(self) -> str:
        return "action_late_order_notice"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        follow_up_id = _follow_up_id(tracker)
        if follow_up_id is None or tracker.is_paused():
            return []
        case = follow_up_schedule().ask(follow_up_id, tracker.sender_id, tracker.get_latest_input_channel(),
                                        late_notice=True)
        if case is None or case.order_number is None or case.promised_date is None:
            return []
        dispatcher.utter_message(text=late_notice(case.order_number, case.promised_date, utctoday(),
                                                  late_remedy_days()), buttons=late_order_buttons())
        return []
