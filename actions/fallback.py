"""The bot did not understand: re-ask its pending question, ask which of two close requests was meant,
or ask to rephrase with suggestions, then offer a person (careline/nlu/clarification.py decides which).

A yes/no question the bot asked is still the question: an answer it cannot read ("it doesn't
fit" to "Shall I create a return?") gets that question again with its buttons, never a generic
"didn't get that" whose "yes" would mean something else. An offer of a person is sealed like any
proposal, so that a typed "yes" to it brings one in. Right after a person gave the conversation
back, a message the bot cannot read ("is anyone coming?") gets the offer of a person again. A
message the bot cannot read that names an order number ("CL-100001? maria@example.com") starts the
identity check for it, as "where is my order" would.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.deps import fallback_thresholds
from actions.identity import pending_proposal, person_offered
from careline.dialogue.conversation import IDENTITY_FORM, MAX_SAME_PROMPT, latest_question, times_in_a_row
from careline.money.identity import find_order_number
from careline.nlu.clarification import clarification, consecutive_misses, fallback_reply
from careline.shared import button, render

QUESTION = re.compile(r"[^.!?]*\?")


def pending_question(tracker: Tracker) -> Optional[Dict[str, Any]]:
    """The bot's latest yes/no question (its last sentence and buttons) while its proposal is pending.

    None when something else was asked since (the rating, a menu): that question is retired.
    """
    proposal = pending_proposal(tracker)
    if proposal is None or proposal.kind == "handoff":
        return None
    question = latest_question(tracker.events)
    if question is None or not question.offers("/affirm"):
        return None
    asked = QUESTION.findall(question.text)
    return {"text": asked[-1].strip() if asked else question.text, "buttons": question.buttons}


def just_handed_back(tracker: Tracker, within_messages: int = 2) -> bool:
    """Whether a person gave the conversation back to the bot at most `within_messages` customer messages ago."""
    seen = 0
    for event in reversed(list(tracker.events)):
        if event.get("event") == "user":
            seen += 1
            if seen > within_messages:
                return False
        elif event.get("event") == "action" and event.get("name") == "action_handback":
            return seen >= 1
    return False


class ActionOutOfScope(Action):
    """Outside what the bot does: say so and what it can do, or, while its yes/no question is open,
    ask that question again ("they're too small" to "Shall I create a return?")."""

    def name(self) -> str:
        return "action_out_of_scope"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        question = pending_question(tracker)
        if question is not None:
            text = render("utter_reask_out_of_scope", question=question["text"])
            if times_in_a_row(tracker.events, text) < MAX_SAME_PROMPT:
                dispatcher.utter_message(text=text, buttons=question["buttons"])
                return []
        dispatcher.utter_message(response="utter_out_of_scope")
        return []


class ActionFallback(Action):
    """Also Rasa's core fallback (config.yml): when no rule fits a message the bot did understand (a
    change of mind the rules do not know), it answers, then forgets the message (UserUtteranceReverted),
    so the conversation goes on from where it was instead of predicting this action again and again."""

    def name(self) -> str:
        return "action_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        not_understood = (tracker.latest_message.get("intent") or {}).get("name") == "nlu_fallback"
        events = self._answer(dispatcher, tracker, not_understood)
        return events if not_understood else events + [UserUtteranceReverted()]

    @staticmethod
    def _answer(dispatcher: CollectingDispatcher, tracker: Tracker, not_understood: bool) -> List[EventType]:
        if just_handed_back(tracker):  # "is anyone coming?" right after a person finished
            dispatcher.utter_message(text=render("utter_after_handback"),
                                     buttons=[button("utter_button_person_please", "/human_handoff"),
                                              button("utter_button_no_thanks", "/deny")])
            return person_offered(tracker, tracker.get_slot("order_id") or "")
        question = pending_question(tracker)
        if question is None and not_understood and not tracker.active_loop.get("name") and \
                find_order_number(tracker.latest_message.get("text")):
            return [FollowupAction(IDENTITY_FORM)]  # "CL-100001? maria@example.com": check that order
        if question is not None:
            text = render("utter_reask", question=question["text"])
            if times_in_a_row(tracker.events, text) < MAX_SAME_PROMPT:
                dispatcher.utter_message(text=text, buttons=question["buttons"])
                return []
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
        if reply.text == render("utter_fallback_offer_person"):  # a yes/no question: "yes" means a person
            return person_offered(tracker, tracker.get_slot("order_id") or "")
        return []
