"""A real conversation over HTTP with the real servers, surviving a restart."""
from __future__ import annotations

import sqlite3
import stat
import uuid

import pytest
import requests

pytestmark = pytest.mark.e2e


def _tracker_events(system, sender: str):
    with sqlite3.connect(system.var_dir / "tracker.db") as db:
        return db.execute(
            "SELECT type_name, intent_name, action_name, data FROM events "
            "WHERE sender_id = ? ORDER BY id", (sender,),
        ).fetchall()


def test_conversation_is_stored_and_continues_after_a_restart(lifecycle_system):
    """On the system for restarts: the shared system's tests should not find its servers going down."""
    system = lifecycle_system
    sender = f"e2e-{uuid.uuid4().hex}"

    greeting = " ".join(system.say(sender, "hello"))
    assert "Careline" in greeting

    ask_number = " ".join(system.say(sender, "hi, where is my order?"))
    assert "order number" in ask_number and "CL-123456" in ask_number

    ask_email = " ".join(system.say(sender, "it's CL-100001"))
    assert "email" in ask_email

    events = _tracker_events(system, sender)
    user_texts = [row[3] for row in events if row[0] == "user"]
    assert any("CL-100001" in data for data in user_texts)
    assert ("user", "order_status", None) in [(r[0], r[1], r[2]) for r in events]
    assert any(r[0] == "active_loop" and "order_form" in r[3] for r in events)

    system.make("down")
    system.make("up")

    answer = " ".join(system.say(sender, "maria.lopez@example.com"))
    assert answer.startswith("Thanks, Maria.")
    assert "CL-100001" in answer and "Brass table lamp" in answer

    after = _tracker_events(system, sender)
    assert len(after) > len(events)
    assert any(r[2] == "action_order_request" for r in after)


def test_identity_check_denies_uniformly(system):
    sender = f"e2e-{uuid.uuid4().hex}"
    system.say(sender, "I want a refund for CL-100001")
    denial = " ".join(system.say(sender, "jkim88@example.net"))
    unknown = f"e2e-{uuid.uuid4().hex}"
    system.say(unknown, "where is CL-999998")
    denial_unknown = " ".join(system.say(unknown, "maria.lopez@example.com"))
    assert "couldn't find an order that matches" in denial
    assert denial == denial_unknown
    assert "Maria" not in denial


def test_out_of_scope_and_bot_challenge_over_http(system):
    sender = f"e2e-{uuid.uuid4().hex}"
    assert "I'm a bot" in " ".join(system.say(sender, "are you a real person?"))
    out_of_scope = " ".join(system.say(sender, "what's the weather like in Paris tomorrow"))
    assert "outside what I can help with" in out_of_scope and "order" in out_of_scope


def test_http_api_needs_the_token(system):
    sender = f"e2e-{uuid.uuid4().hex}"
    system.say(sender, "hello")
    tracker_url = f"{system.rasa_url}/conversations/{sender}/tracker"
    assert requests.get(tracker_url, timeout=10).status_code in (401, 403)
    assert requests.get(tracker_url, params={"token": "wrong"}, timeout=10).status_code in (401, 403)
    ok = requests.get(tracker_url, params={"token": system.token}, timeout=10)
    assert ok.status_code == 200
    assert ok.json()["sender_id"] == sender


def test_parse_returns_the_frustration_score(system):
    parse_url = f"{system.rasa_url}/model/parse"
    assert requests.post(parse_url, json={"text": "hi"}, timeout=10).status_code in (401, 403)
    angry = requests.post(parse_url, params={"token": system.token}, timeout=30,
                          json={"text": "WHERE IS MY REFUND?? third time I'm asking!!!"}).json()
    calm = requests.post(parse_url, params={"token": system.token}, timeout=30,
                         json={"text": "could you check my order please"}).json()
    assert angry["frustration"]["level"] == "high" and "repeated_punctuation" in angry["frustration"]["signals"]
    assert calm["frustration"]["level"] == "low" and calm["frustration"]["score"] < 0.5


def test_databases_logs_and_pid_files_are_private(system):
    """After `make up` (seed, Rasa, the supervisor's logs and pid files) only the owner can read var/."""
    folders = [system.var_dir, system.var_dir / "run", system.var_dir / "log"]
    assert {str(f): oct(stat.S_IMODE(f.stat().st_mode)) for f in folders} == {str(f): "0o700" for f in folders}
    files = [path for folder in folders for path in folder.iterdir() if path.is_file()]
    assert {"careline.db", "tracker.db", "rasa.log", "rasa.pid"} <= {path.name for path in files}
    readable = {path.name: oct(stat.S_IMODE(path.stat().st_mode)) for path in files
                if stat.S_IMODE(path.stat().st_mode) & 0o077}
    assert readable == {}
