"""Order requests: collect and check the customer's identity, then answer about the order."""
from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import date
from typing import Any, Dict, List, Optional

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.deps import order_repository
from careline.identity import find_email, find_order_number, normalize_email, normalize_order_number, verify
from careline.replies import DENIAL, ORDER_REQUESTS, order_reply

ASK_ORDER_ID = (
    "Sure, I can look into that. What's your order number? It starts with CL followed by "
    "six digits, like CL-123456, and it's in your confirmation email."
)
ASK_EMAIL = (
    "Thanks. And which email address did you use for that order? I need both to make sure "
    "the order is really yours."
)
BAD_ORDER_NUMBER = (
    "Hmm, that doesn't look like one of our order numbers. They start with CL followed by "
    "six digits, like CL-123456."
)
BAD_EMAIL = "That doesn't look like a complete email address. Could you type it again, like name@example.com?"


def requested_order_topic(tracker: Tracker) -> str:
    """The latest order request the customer made in this conversation (status by default)."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            intent = (event.get("parse_data") or {}).get("intent", {}).get("name")
            if intent in ORDER_REQUESTS:
                return intent
    return "order_status"


class ValidateOrderForm(FormValidationAction):
    """Fills order number and email from free text too, and rejects malformed values."""

    def name(self) -> str:
        return "validate_order_form"

    @staticmethod
    def _from_text(tracker: Tracker, slot: str, finder) -> Dict[str, Any]:
        if tracker.get_slot("requested_slot") != slot:
            return {}
        value: Optional[str] = finder(tracker.latest_message.get("text"))
        return {slot: value} if value else {}

    async def extract_order_id(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        return self._from_text(tracker, "order_id", find_order_number)

    async def extract_email(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        return self._from_text(tracker, "email", find_email)

    def validate_order_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        number = normalize_order_number(value)
        if number is None:
            dispatcher.utter_message(text=BAD_ORDER_NUMBER)
        return {"order_id": number}

    def validate_email(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        address = normalize_email(value)
        if address is None:
            dispatcher.utter_message(text=BAD_EMAIL)
        return {"email": address}


class ActionOrderRequest(Action):
    """Answers the customer's order request once number and email match the same order."""

    def name(self) -> str:
        return "action_order_request"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        order = verify(order_repository(), tracker.get_slot("order_id"), tracker.get_slot("email"))
        if order is None:
            dispatcher.utter_message(text=DENIAL)
            return [SlotSet("order_id", None), SlotSet("email", None)]
        dispatcher.utter_message(text=order_reply(requested_order_topic(tracker), order, date.today()))
        return []



class _AskAction(Action, ABC):
    """Sends one fixed question of the identity check (a form's `action_ask_<slot>`).

    Abstract, so that rasa-sdk registers only the concrete subclasses.
    """

    action_name: str

    @property
    @abstractmethod
    def question(self) -> str:
        """The text the customer is asked."""

    def name(self) -> str:
        return self.action_name

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        dispatcher.utter_message(text=self.question)
        return []


class ActionAskOrderId(_AskAction):
    action_name = "action_ask_order_id"
    question = ASK_ORDER_ID


class ActionAskEmail(_AskAction):
    action_name = "action_ask_email"
    question = ASK_EMAIL
