"""Website sessions over the real socket.io channel: the server issues, remembers and revokes them.

The attack: any token of the right shape was accepted, so a client could choose its own token (and
plant it in someone else's browser, then read that conversation later).
"""
from __future__ import annotations

import hashlib
import queue
import secrets
import time
from typing import Any, List, Optional, Tuple

import pytest
import requests
import socketio
import sqlalchemy as sa

from careline.access import webchat
from careline.access.web_sessions import WebSessions
from careline.db.engine import make_engine
from careline.shared.settings import load_settings

pytestmark = pytest.mark.e2e

WAIT_S = 60


class Widget:
    """What the chat widget does, with python-socketio instead of a browser."""

    def __init__(self, system) -> None:
        self.settings = load_settings(environ=system.env)
        self.events: queue.Queue[Tuple[str, Any]] = queue.Queue()
        self.sio = socketio.Client(reconnection=False)
        for name in ("session_confirm", "history", "bot_uttered", "session_required", "session_ended"):
            self.sio.on(name, lambda data=None, name=name: self.events.put((name, data)))
        self.sio.connect(self.settings.rasa_url, socketio_path="/socket.io", transports=["polling"],
                         headers={"Origin": self.settings.web_url}, wait_timeout=WAIT_S)

    def wait(self, name: str) -> Any:
        while True:
            got, data = self.events.get(timeout=WAIT_S)
            if got == name:
                return data

    def start(self, token: Optional[str]) -> Tuple[str, List[dict]]:
        self.sio.emit("session_request", {"session_id": token})
        return self.wait("session_confirm"), self.wait("history")

    def say(self, text: str, **extra: Any) -> dict:
        self.sio.emit("user_uttered", {"message": text, **extra})
        return self.wait("bot_uttered")

    def close(self) -> None:
        """Close without waiting for the pending long-poll (websocket-client is not installed)."""
        self.sio.eio.disconnect(abort=True)


@pytest.fixture
def widget(system):
    opened: List[Widget] = []

    def make() -> Widget:
        opened.append(Widget(system))
        return opened[-1]

    yield make
    for each in opened:
        each.close()


def _rows(system, token: str):
    engine = make_engine(load_settings(environ=system.env).store_db_url)
    with engine.connect() as connection:
        return connection.execute(sa.text("SELECT sender, client, revoked_at FROM web_sessions WHERE token_hash = :h"),
                                  {"h": hashlib.sha256(token.encode()).hexdigest()}).all()


def _user_events(system, sender: str) -> list:
    tracker = requests.get(f"{system.rasa_url}/conversations/{sender}/tracker",
                           params={"token": system.token}, timeout=10).json()
    return [e for e in tracker["events"] if e["event"] == "user"]


def test_a_token_the_client_made_up_is_replaced(system, widget):
    chosen = secrets.token_urlsafe(32)           # the right shape; the server never issued it
    assert webchat.valid_token(chosen)
    victim = widget()
    token, history = victim.start(chosen)       # e.g. planted in the victim's browser
    assert token != chosen and history == []
    victim.say("my secret question about order CL-100001")
    attacker = widget()
    stolen, seen = attacker.start(chosen)
    assert stolen not in (chosen, token)
    assert "secret question" not in str(seen)
    assert _rows(system, chosen) == [], "nothing was stored for the made-up token"


def test_an_issued_session_is_remembered_resumed_and_stamped(system, widget):
    first = widget()
    token, _ = first.start(None)
    [(sender, client, revoked)] = _rows(system, token)
    assert sender == webchat.sender_for(token) and client == "web:127.0.0.1" and revoked is None
    first.say("hello there", metadata={"display": "hello there", "careline_client": "rest:10.0.0.1"})
    first.close()
    again = widget()
    resumed, history = again.start(token)
    assert resumed == token and any(item["text"] == "hello there" for item in history)
    metadata = _user_events(system, sender)[-1]["metadata"]
    assert metadata["careline_client"] == "web:127.0.0.1", "set by the server, whatever the client sent"
    assert "display" not in metadata, "nothing else the client sends is kept"


def test_ending_the_chat_revokes_the_session(system, widget):
    customer = widget()
    token, _ = customer.start(None)
    customer.say("hello")
    customer.sio.emit("session_end", {})
    customer.wait("session_ended")
    [(_, _, revoked)] = _rows(system, token)
    assert revoked is not None
    fresh, history = widget().start(token)
    assert fresh != token and history == [], "a revoked token opens nothing"


def _stored(system, sender: str, count: int, timeout_s: float = 10) -> None:
    """Wait until `count` customer messages of `sender` are stored (the turn is stored after its reply)."""
    deadline = time.monotonic() + timeout_s
    while len(_user_events(system, sender)) < count:
        assert time.monotonic() < deadline, f"{count} messages of {sender} were not stored in {timeout_s:.0f}s"
        time.sleep(0.05)


def test_a_session_revoked_by_ops_stops_an_open_socket(system, widget):
    customer = widget()
    token, _ = customer.start(None)
    sender = webchat.sender_for(token)
    customer.say("hello")
    _stored(system, sender, 1)   # the reply is on screen before the turn is stored
    assert WebSessions(make_engine(load_settings(environ=system.env).store_db_url)).revoke(sender=sender)
    answer = customer.say("I want a refund")
    assert answer["error"] == "session_ended"
    customer.wait("session_required")
    time.sleep(1)
    assert len(_user_events(system, sender)) == 1, "the message never reached the conversation"


def test_hostile_socket_packets_are_dropped_and_the_socket_lives_on(system, widget):
    customer = widget()
    token, _ = customer.start(None)
    sender = webchat.sender_for(token)
    customer.sio.emit("user_uttered", {"message": "\ud800"})           # sent as the escape \ud800
    customer.sio.emit("user_uttered", {"message": "ok", "metadata": {"display": "x\udfff"}})
    nested: Any = "deep"
    for _ in range(100):
        nested = [nested]
    customer.sio.emit("user_uttered", {"message": "hi", "metadata": nested})
    assert customer.say("hello")["text"], "the socket still works"
    _stored(system, sender, 1)
    assert [e["text"] for e in _user_events(system, sender)] == ["hello"]
