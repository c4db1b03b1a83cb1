"""A determined stranger against the running system (issue 13): every attack over real HTTP."""
from __future__ import annotations

import sqlite3
import time
import uuid

import pytest
import requests

from careline.shared import render
from careline.shared.settings import load_settings

pytestmark = pytest.mark.e2e
DENIAL, LOCKED = render("utter_identity_denied"), render("utter_identity_locked")


def _shop(system, sql, *args):
    with sqlite3.connect(system.var_dir / "careline.db") as db:
        return db.execute(sql, args).fetchall()


def _forged_call(action: str, slots: dict) -> dict:
    sender = f"forged-{uuid.uuid4().hex}"
    return {
        "next_action": action, "sender_id": sender, "version": "3.6.21", "domain": {},
        "tracker": {"sender_id": sender, "slots": slots,
                    "latest_message": {"text": "yes", "intent": {"name": "affirm"}},
                    "events": [], "paused": False, "followup_action": None, "active_loop": {},
                    "latest_action_name": "action_listen"},
    }


@pytest.fixture(scope="module")
def system(limits_system):
    """Not the shared system: these attacks lock an order's check for everyone (CL-100001) and spend the
    ticket budget of 127.0.0.1, which the shared system's other tests need."""
    return limits_system


def test_the_action_server_runs_nothing_without_rasas_credential(system):
    """A forged tracker posted straight to :5055/webhook moved money before; now it gets 401 and nothing runs."""
    settings = load_settings(environ=system.env)
    forged = _forged_call("action_answer_yes", {
        "order_id": "CL-100002", "email": "maria.lopez@example.com",
        "proposal": '{"kind": "cancel", "order_number": "CL-100002", "id": "' + "a" * 32 + '"}'})
    before = _shop(system, "SELECT COUNT(*) FROM decisions")[0][0]
    for query in ("", "?token=", "?token=guess", f"?token={system.token}"):  # the Rasa API token is not it either
        response = requests.post(f"{settings.actions_url}/webhook{query}", json=forged, timeout=10)
        assert response.status_code == 401, query
    for route in ("/actions", "/webhook"):
        assert requests.get(f"{settings.actions_url}{route}", timeout=10).status_code in (401, 405)
    assert requests.get(f"{settings.actions_url}/health", timeout=10).status_code == 200
    assert _shop(system, "SELECT COUNT(*) FROM decisions")[0][0] == before
    assert _shop(system, "SELECT status FROM orders WHERE number = 'CL-100002'") == [("processing",)]
    # with the right credential, a made-up proposal is still nothing: only the server's own signed ones count
    ok = requests.post(f"{settings.actions_url}/webhook?token={settings.actions_token}", json=forged, timeout=10)
    assert ok.status_code == 200 and "Great! What can I help you with?" in ok.text
    assert _shop(system, "SELECT COUNT(*) FROM decisions")[0][0] == before


def test_guessing_the_email_from_new_conversations_locks_the_order_for_everyone(system):
    """141 guesses from fresh senders found a real email before; now the 5th failure locks the check."""
    started = time.monotonic()
    replies = []
    for attempt in range(6):
        sender = f"guesser-{uuid.uuid4().hex}"  # a new conversation every time (or /restart): no fresh strikes
        replies.append(" ".join(system.say(sender, f"where is CL-100001 guess{attempt}@example.com")))
    elapsed = time.monotonic() - started
    assert all(DENIAL in reply for reply in replies[:4]), replies
    assert all(LOCKED in reply for reply in replies[4:]), replies
    maria = f"maria-{uuid.uuid4().hex}"
    right = " ".join(system.say(maria, "where is CL-100001 maria.lopez@example.com"))
    assert LOCKED in right and "Brass table lamp" not in right, "the same answer, even with the right email"
    audit = _shop(system, "SELECT outcome, COUNT(*) FROM verification_attempts WHERE order_number = 'CL-100001' "
                          "GROUP BY outcome ORDER BY outcome")
    assert audit == [("denied", 5), ("locked", 2)]
    print(f"identity check: {len(replies)} guesses in {elapsed:.1f}s, 4 checked before the lock; "
          "one more is checked per cool-off hour")


def test_a_new_session_asks_to_prove_the_order_again(system):
    sender = f"e2e-{uuid.uuid4().hex}"
    system.say(sender, "where is my order CL-100003")
    assert "CL-100003" in " ".join(system.say(sender, "jkim88@example.net"))
    first = " ".join(system.say(sender, "where is my order"))
    assert "CL-100003" in first, "within the session the proof is renewed"
    system.say(sender, "/session_start")
    again = " ".join(system.say(sender, "where is my order"))
    assert "which email address" in again.lower() and "CL-100003" not in again, "the proof ended with the session"
    assert "CL-100003" in " ".join(system.say(sender, "jkim88@example.net"))


def test_a_flood_of_handoffs_from_new_senders_is_limited_per_address(system):
    """Fake tickets from ever new senders filled the agents' queue; one address now opens at most five an hour."""
    TOO_MANY_TICKETS = render("utter_handoff_too_many")

    before = _shop(system, "SELECT COUNT(*) FROM tickets")[0][0]
    replies = [" ".join(system.say(f"flood-{uuid.uuid4().hex}", "I want to talk to a human")) for _ in range(7)]
    opened = _shop(system, "SELECT COUNT(*) FROM tickets")[0][0] - before
    assert opened == 5 - before and all(TOO_MANY_TICKETS in reply for reply in replies[opened:]), replies


def test_an_integration_names_its_customers_so_one_cannot_lock_out_the_rest(system):
    """Every REST customer shared the integration's address: ten failed checks locked everyone out."""
    for attempt in range(10):
        reply = " ".join(system.say(f"careless-{uuid.uuid4().hex}", f"where is CL-3{attempt:05d} x{attempt}@y.com",
                                    client="198.51.100.23"))
        assert DENIAL in reply or LOCKED in reply
    locked = " ".join(system.say(f"careless-{uuid.uuid4().hex}", "where is CL-100003 jkim88@example.net",
                                 client="198.51.100.23"))
    assert LOCKED in locked, "that customer's address is locked"
    james = " ".join(system.say(f"james-{uuid.uuid4().hex}", "where is CL-100003 jkim88@example.net",
                                client="203.0.113.77"))
    assert "CL-100003" in james and LOCKED not in james, "another customer of the same integration is not"
