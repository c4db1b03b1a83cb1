"""The bot did not understand: rephrase with suggestions, then offer a person."""
from __future__ import annotations

from typing import List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from careline.fallback import consecutive_misses, fallback_reply


class ActionFallback(Action):
    def name(self) -> str:
        return "action_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        intents = [
            (event.get("parse_data") or {}).get("intent", {}).get("name") or ""
            for event in tracker.events
            if event.get("event") == "user"
        ]
        ranking = [
            (entry.get("name", ""), float(entry.get("confidence") or 0.0))
            for entry in tracker.latest_message.get("intent_ranking") or []
        ]
        reply = fallback_reply(consecutive_misses(intents), ranking)
        dispatcher.utter_message(
            text=reply.text,
            buttons=[{"title": title, "payload": payload} for title, payload in reply.buttons],
        )
        return []
