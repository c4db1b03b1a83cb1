"""What the system triggers (a follow-up) is never shown or counted as the customer's words (the widget,
tickets, the desk, frustration)."""
from __future__ import annotations

from careline.access.webchat import history
from careline.followup import FOLLOW_UP_INTENT
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
