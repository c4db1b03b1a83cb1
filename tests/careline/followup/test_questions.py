"""Whether the customer answers a follow-up, and that what the system triggers is never shown or counted
as the customer's words (the widget, tickets, the desk, frustration)."""
from __future__ import annotations

from careline.access.webchat import history
from careline.followup import FOLLOW_UP_INTENT, latest_question_was_follow_up
from careline.handoff.ticket import build_ticket
from careline.nlu.frustration_model import turns_from_events
from careline.shared import said_by_customer


def _user(intent, text="", frustration=0.0):
    return {"event": "user", "text": text or intent, "timestamp": 1.0,
            "parse_data": {"intent": {"name": intent}, "frustration": {"score": frustration}}}


def _action(name):
    return {"event": "action", "name": name}


TRIGGERED = _user(FOLLOW_UP_INTENT, f"EXTERNAL: {FOLLOW_UP_INTENT}")
ASKED = [_user("request_refund", "refund please", 0.4), _action("action_order_request"),
         {"event": "bot", "text": "Done: I've refunded $20.00."}, _action("action_listen"),
         TRIGGERED, _action("action_follow_up"),
         {"event": "bot", "text": "Did it arrive?", "data": {"buttons": [{"title": "Yes", "payload": "/affirm"}]}},
         _action("action_listen")]


def test_a_yes_right_after_the_follow_up_answers_it():
    assert latest_question_was_follow_up(ASKED + [_user("affirm", "yes")])
    acknowledged = ASKED + [_user("affirm", "yes"), _action("action_acknowledge_frustration")]
    assert latest_question_was_follow_up(acknowledged)


def test_anything_in_between_means_it_is_not_an_answer_to_the_follow_up():
    assert not latest_question_was_follow_up(ASKED + [_user("faq", "how long do refunds take"),
                                                      _action("utter_faq"), _action("action_listen"),
                                                      _user("affirm", "yes")])
    assert not latest_question_was_follow_up(ASKED[:4] + [_user("affirm", "yes")])
    assert not latest_question_was_follow_up([])
    assert not latest_question_was_follow_up(ASKED), "no answer yet"


def test_what_the_system_triggered_is_not_what_the_customer_said():
    assert not said_by_customer(TRIGGERED) and said_by_customer(_user("affirm", "yes"))
    assert not said_by_customer({"event": "bot", "text": "hi"})
    shown = history(ASKED)
    assert [item["role"] for item in shown] == ["customer", "bot", "bot"]
    assert all("EXTERNAL" not in item["text"] for item in shown)
    ticket = build_ticket("conv-1", "socketio", "follow_up", ASKED)
    assert [line.text for line in ticket.transcript if line.role == "customer"] == ["refund please"]
    assert ticket.intents == ["request_refund"]
    assert [turn.intent for turn in turns_from_events(ASKED)] == ["request_refund"]
