"""Asking the customer for a 1-5 rating (and an optional comment) when they say goodbye."""
from __future__ import annotations

from typing import Any, Dict, List

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.deps import feedback_service
from careline.feedback.csat import MAX_COMMENT, no_comment, parse_rating
from careline.shared import render

SLOTS = ("feedback_rating", "feedback_comment", "feedback_skipped")
NO_COMMENT = "(none)"  # the slot's value when the customer had nothing to add (never shown)


class ValidateFeedbackForm(FormValidationAction):
    def name(self) -> str:
        return "validate_feedback_form"

    async def required_slots(self, domain_slots: List[str], dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: DomainDict) -> List[str]:
        if tracker.get_slot("feedback_skipped") or (
                tracker.get_slot("feedback_rating") is None and feedback_service().already_rated(tracker.sender_id)):
            return []
        return list(domain_slots)

    def validate_feedback_rating(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                 domain: DomainDict) -> Dict[str, Any]:
        rating = parse_rating(value if isinstance(value, str) else None)
        if rating is None:  # the customer moved on instead of rating
            return {"feedback_rating": None, "feedback_skipped": True}
        return {"feedback_rating": str(rating)}

    def validate_feedback_comment(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                  domain: DomainDict) -> Dict[str, Any]:
        text = value if isinstance(value, str) else ""
        return {"feedback_comment": NO_COMMENT if no_comment(text) else text[:MAX_COMMENT]}


class ActionStoreFeedback(Action):
    def name(self) -> str:
        return "action_store_feedback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        rating = tracker.get_slot("feedback_rating")
        if tracker.get_slot("feedback_skipped"):
            dispatcher.utter_message(text=render("utter_feedback_skipped"))
        elif rating:
            comment = tracker.get_slot("feedback_comment") or ""
            feedback_service().record(tracker.sender_id, int(rating), "" if comment == NO_COMMENT else comment)
            dispatcher.utter_message(text=render("utter_feedback_thanks"))
        else:
            dispatcher.utter_message(text=render("utter_feedback_goodbye"))
        return [SlotSet(name, None) for name in SLOTS]
