"""A new session starts without any proof of identity.

Rasa's own session start carries every slot into the next session
(`carry_over_slots_to_new_session: true`): a verified order and email would then live forever.
This one carries what helps the customer (a rating already given, say) and drops everything an
identity or a money decision rests on, so a new session proves the order again.
"""
from __future__ import annotations

from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

IDENTITY_SLOTS = ("order_id", "email", "verified", "proposal", "failed_verifications", "refund_reason",
                  "new_address", "requested_slot", "session_started_metadata")


def carried_slots(slots: Dict[str, Any]) -> List[EventType]:
    """SlotSet events for the slots a new session keeps."""
    return [SlotSet(name, value) for name, value in slots.items()
            if name not in IDENTITY_SLOTS and value is not None]


class ActionSessionStart(Action):
    def name(self) -> str:
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[str, Any]) -> List[EventType]:
        return [SessionStarted(), *carried_slots(tracker.slots), ActionExecuted("action_listen")]
