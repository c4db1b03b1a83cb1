"""Acknowledging a customer's frustration before answering them."""
from __future__ import annotations

from typing import List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionReverted, EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from careline.dialogue.replies import acknowledgement

ACTION_NAME = "action_acknowledge_frustration"


class ActionAcknowledgeFrustration(Action):
    """Says one empathetic line, then steps aside (ActionReverted) so the usual answer follows."""

    def name(self) -> str:
        return ACTION_NAME

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        earlier = sum(1 for e in tracker.events if e.get("event") == "action" and e.get("name") == ACTION_NAME)
        signals = (tracker.latest_message.get("frustration") or {}).get("signals") or []
        dispatcher.utter_message(text=acknowledgement(signals, earlier))
        return [ActionReverted()]
