"""Handoff over real HTTP: ticket stored, bot paused, messages kept, hand-back through Rasa's API."""
from __future__ import annotations

import json
import sqlite3
import time
import uuid

import pytest
import requests

pytestmark = pytest.mark.e2e


def _delivered(system, sender):
    return [t for t in system.helpdesk.tickets.values() if t["conversation_id"] == sender]


def _wait_for(condition, seconds=30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return False


def test_a_customer_who_wants_a_person_gets_a_ticket_a_pause_and_a_handback(system):
    sender = f"e2e-{uuid.uuid4().hex}"
    system.say(sender, "where is my order CL-100001")
    system.say(sender, "maria.lopez@example.com")
    system.helpdesk.down = True  # the helpdesk is down when the handoff happens (it serves this test only)
    try:
        handoff = " ".join(system.say(sender, "THIS IS RIDICULOUS, I want to talk to a human now!!!"))
        assert handoff.startswith("I'm bringing in a person from our team.")
        with sqlite3.connect(system.var_dir / "careline.db") as db:
            rows = db.execute("SELECT reason, priority, summary, transcript, intents, frustration, status "
                              "FROM tickets WHERE conversation_id = ?", (sender,)).fetchall()
            queued = db.execute("SELECT o.idempotency_key FROM outbox o JOIN tickets t ON t.id = o.ticket_id "
                                "WHERE t.conversation_id = ?", (sender,)).fetchall()
        assert len(rows) == 1 and len(queued) == 1
        reason, priority, summary, transcript, intents, frustration, status = rows[0]
        assert status == "open" and reason in ("frustration", "customer_request") and priority >= 60
        assert summary.startswith("Maria wants to know where their order is with order CL-100001.")
        assert "maria.lopez@example.com" not in transcript and "[email]" in transcript
        assert json.loads(intents)[-1] == "human_handoff"
        assert json.loads(frustration)[-1] >= 0.8

        key = queued[0][0]
        assert _wait_for(lambda: key in system.helpdesk.requests, 15), "the outbox keeps trying"
        assert _delivered(system, sender) == [], "nothing reached the helpdesk while it was down"
    finally:
        system.helpdesk.down = False
    assert _wait_for(lambda: _delivered(system, sender), 30), "delivered once the helpdesk is back"
    delivered = _delivered(system, sender)
    assert len(delivered) == 1 and delivered[0]["summary"] == summary
    assert delivered[0]["transcript"][-1]["role"] == "customer" and "[email]" in json.dumps(delivered[0])

    waiting = " ".join(system.say(sender, "hello? are you there?"))
    assert "in the queue" in waiting or "back " in waiting, "a waiting customer hears where they stand"
    params = {"token": system.token}
    tracker = requests.get(f"{system.rasa_url}/conversations/{sender}/tracker", params=params, timeout=10).json()
    assert tracker["slots"]["handoff_ticket"] and tracker["latest_message"]["text"] == "hello? are you there?"

    resumed = requests.post(f"{system.rasa_url}/conversations/{sender}/tracker/events", params=params,
                            json={"event": "slot", "name": "handoff_ticket", "value": None}, timeout=10)
    assert resumed.status_code == 200
    handback = requests.post(f"{system.rasa_url}/conversations/{sender}/execute", params=params,
                             json={"name": "action_handback"}, timeout=30).json()
    assert handback["messages"][0]["text"].startswith("Thanks for waiting, Maria.")
    after = " ".join(system.say(sender, "thank you so much"))
    assert "welcome" in after or "Happy to help" in after, "the bot answers again after the hand-back"


def test_frustration_is_acknowledged_first_and_a_second_outburst_goes_to_a_person(system):
    sender = f"e2e-{uuid.uuid4().hex}"
    first = system.say(sender, "I already told you, WHERE IS MY ORDER??")
    assert first[0].startswith("I'm sorry you've had to repeat yourself."), first
    assert "order number" in " ".join(first[1:]), "then straight to resolving it"
    second = " ".join(system.say(sender, "this is ridiculous, third time I'm asking!!!"))
    assert second.startswith("I'm bringing in a person from our team.")
    with sqlite3.connect(system.var_dir / "careline.db") as db:
        reason = db.execute("SELECT reason FROM tickets WHERE conversation_id = ?", (sender,)).fetchone()[0]
    assert reason == "frustration"
