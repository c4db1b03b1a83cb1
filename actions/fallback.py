"""The bot did not understand: ask which of two close requests was meant, or to rephrase with
suggestions, then offer a person (careline/nlu/clarification.py decides which)."""
from __future__ import annotations

from typing import List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.deps import fallback_thresholds
from careline.nlu.clarification import clarification, consecutive_misses, fallback_reply


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
        latest = tracker.latest_message or {}
        topic = (((latest.get("response_selector") or {}).get("faq") or {}).get("response") or {}).get(
            "intent_response_key")
        threshold, ambiguity = fallback_thresholds()
        reply = clarification(ranking, topic, threshold, ambiguity) or fallback_reply(consecutive_misses(intents),
                                                                                     ranking)
        dispatcher.utter_message(
            text=reply.text,
            buttons=[{"title": title, "payload": payload} for title, payload in reply.buttons],
        )
        return []
