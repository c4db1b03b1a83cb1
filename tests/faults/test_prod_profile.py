"""The prod profile end to end: conversations through nginx on two Rasa servers, stored in PostgreSQL, and the
supervisor bringing back an action server and a Rasa server killed with -9 while conversations go on."""
from __future__ import annotations

import re
import time
import uuid

import pytest

pytestmark = pytest.mark.faults

PROCESSES = ("postgres", "redis", "actions", "rasa-1", "rasa-2", "nginx", "web", "desk", "mail", "worker")


def _sender() -> str:
    return f"prod-{uuid.uuid4().hex}"


def _text(answers) -> str:
    return " ".join(answers)


def test_a_conversation_through_nginx_is_served_by_both_servers_and_stored_in_postgres(prod_system):
    sender = _sender()
    before = prod_system.served_counts()
    assert "Careline" in _text(prod_system.say(sender, "hello"))
    assert "order number" in _text(prod_system.say(sender, "hi, where is my order?"))
    assert "email" in _text(prod_system.say(sender, "it's CL-100001"))
    answer = _text(prod_system.say(sender, "maria.lopez@example.com"))
    assert answer.startswith("Thanks, Maria.") and "CL-100001" in answer and "Brass table lamp" in answer

    deadline = time.monotonic() + 5   # nginx writes a request's log line once its answer is sent
    while sum((prod_system.served_counts() - before).values()) < 4 and time.monotonic() < deadline:
        time.sleep(0.1)
    served = prod_system.served_counts() - before
    assert sum(served.values()) == 4 and len(served) == 1, served  # one conversation, one server (its order)
    for _ in range(12):
        prod_system.say(_sender(), "hello")
    assert set(prod_system.served_counts() - before) == {"rasa-1", "rasa-2"}  # conversations spread over both

    events = prod_system.tracker_events(sender)
    users = [row for row in events if row[0] == "user"]
    assert len(users) == 4 and any("CL-100001" in row[3] for row in users)
    assert ("user", "order_status", None) in [row[:3] for row in events]
    assert any(row[2] == "action_order_request" for row in events)


def test_the_action_server_killed_with_minus_9_comes_back_and_the_conversation_continues(prod_system):
    sender = _sender()
    assert "order number" in _text(prod_system.say(sender, "hi, where is my order?"))
    restarts = prod_system.restarts()["actions"]

    old = prod_system.kill("actions")
    new = prod_system.wait_healthy_again("actions", old)

    assert "email" in _text(prod_system.say(sender, "it's CL-100001"))
    answer = _text(prod_system.say(sender, "maria.lopez@example.com"))  # runs action_order_request on the new one
    assert answer.startswith("Thanks, Maria.") and "Brass table lamp" in answer
    log = prod_system.supervisor_log()
    assert re.search(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ actions exited \(signal 9\) after \d+\.\ds; "
                     r"restart #\d+ in 1s$", log, re.M), log[-2000:]
    assert f"actions is healthy again (pid {new})" in log
    assert prod_system.restarts()["actions"] == restarts + 1


def test_rasa_1_killed_with_minus_9_rasa_2_answers_with_the_history_and_rasa_1_comes_back(prod_system):
    sender = _sender()
    prod_system.say(sender, "hello")
    prod_system.say(sender, "hi, where is my order?")
    assert "email" in _text(prod_system.say(sender, "it's CL-100001"))
    restarts = prod_system.restarts()["rasa-1"]
    served_before = len(prod_system.backend_of_requests())

    old = prod_system.kill("rasa-1")
    try:
        # The order number came in an earlier turn, perhaps to rasa-1: rasa-2 reads the history from PostgreSQL.
        answer = _text(prod_system.say(sender, "maria.lopez@example.com"))
        assert answer.startswith("Thanks, Maria.") and "CL-100001" in answer and "Brass table lamp" in answer
        others = [_sender() for _ in range(3)]
        for other in others:  # every message answered while rasa-1 is down
            assert "Careline" in _text(prod_system.say(other, "hello"))
        assert set(prod_system.backend_of_requests()[served_before:]) == {"rasa-2"}
    finally:  # the next test finds the whole system up
        new = prod_system.wait_healthy_again("rasa-1", old)

    assert prod_system.restarts()["rasa-1"] == restarts + 1
    served_before = len(prod_system.backend_of_requests())
    for _ in range(20):  # new conversations, until one is hashed to rasa-1
        prod_system.say(_sender(), "hello")
        if "rasa-1" in prod_system.backend_of_requests()[served_before:]:
            break
    assert "rasa-1" in prod_system.backend_of_requests()[served_before:]  # back in nginx's rotation
    assert f"rasa-1 is healthy again (pid {new})" in prod_system.supervisor_log()
    users = [row for row in prod_system.tracker_events(sender) if row[0] == "user"]
    assert len(users) == 4  # each message stored once, none lost or doubled by the kill


def test_make_status_lists_every_process_its_health_and_restart_count(prod_system):
    status = prod_system.status()
    assert re.search(r"^supervisor\s+watching\s+pid=\d+ since .* \(prod profile\)$", status, re.M), status
    for name in PROCESSES:
        assert re.search(rf"^{re.escape(name)}\s+healthy\s+pid=\d+ port=\S+ restarts=\d+$", status, re.M), status
    assert set(prod_system.restarts()) == set(PROCESSES)


def test_make_reload_reaches_every_rasa_server(prod_system):
    output = prod_system.make("reload").stdout
    assert "reload: rasa-1: already serving" in output and "reload: rasa-2: already serving" in output, output
