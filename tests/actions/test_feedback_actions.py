"""The rating (CSAT) form's validation and storage on a real SQLite store."""
from __future__ import annotations

import asyncio

import sqlalchemy as sa
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions import deps
from actions.feedback import NO_COMMENT, ActionStoreFeedback, ValidateFeedbackForm
from careline.db.models.feedback import Feedback
from careline.shared import render
from tests.actions.conftest import make_tracker, run_action, user_event

THANKS, SKIPPED = render("utter_feedback_thanks"), render("utter_feedback_skipped")


def _feedback():
    with Session(deps.store_engine()) as session:
        return session.execute(sa.select(Feedback.conversation_id, Feedback.handled_by, Feedback.rating,
                                         Feedback.comment)).all()


def _required(slots):
    form = ValidateFeedbackForm()
    tracker = make_tracker([user_event("goodbye", "bye")], slots=slots)
    return asyncio.run(form.required_slots(["feedback_rating", "feedback_comment"], CollectingDispatcher(),
                                           tracker, {}))


def test_ratings_and_comments_are_read_from_free_text():
    form, tracker, dispatcher = ValidateFeedbackForm(), make_tracker([]), CollectingDispatcher()
    assert form.validate_feedback_rating("4 stars", dispatcher, tracker, {}) == {"feedback_rating": "4"}
    assert form.validate_feedback_rating("where is my order", dispatcher, tracker, {}) == {
        "feedback_rating": None, "feedback_skipped": True}
    assert form.validate_feedback_comment("no comment", dispatcher, tracker, {}) == {"feedback_comment": NO_COMMENT}
    assert form.validate_feedback_comment("quicker please", dispatcher, tracker, {}) == {
        "feedback_comment": "quicker please"}


def test_a_rating_is_stored_once_and_the_form_is_not_asked_again():
    slots = {"feedback_rating": "5", "feedback_comment": "very quick"}
    messages, events = run_action(ActionStoreFeedback(), make_tracker([user_event("inform", "very quick")],
                                                                      slots=slots))
    assert messages[0]["text"] == THANKS and SlotSet("feedback_rating", None) in events
    assert _feedback() == [("test-conversation", "bot", 5, "very quick")]
    assert _required({}) == [], "already rated: goodbye needs no second rating"


def test_moving_on_skips_the_rating_without_storing():
    messages, _ = run_action(ActionStoreFeedback(), make_tracker([], slots={"feedback_skipped": True}))
    assert messages[0]["text"] == SKIPPED and _feedback() == []
    assert _required({}) == ["feedback_rating", "feedback_comment"]
    assert _required({"feedback_skipped": True}) == []
