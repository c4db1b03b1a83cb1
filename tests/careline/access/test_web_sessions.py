"""Website chat sessions are issued and remembered by the server (a real SQLite store)."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from careline.access import webchat
from careline.access.web_sessions import ABSOLUTE, IDLE, WebSessions, main, token_hash
from careline.db.engine import make_engine
from careline.db.models.access import WebSession
from tests.conftest import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def engine(fresh_store_url: str):
    return make_engine(fresh_store_url)


@pytest.fixture
def sessions(engine, clock) -> WebSessions:
    return WebSessions(engine, clock=clock)


def _row(engine, sender: str) -> WebSession:
    with engine.connect() as connection:
        return connection.execute(sa.select(WebSession).where(WebSession.sender == sender)).one()


def test_an_issued_session_stores_only_a_hash_of_its_token(sessions, engine, clock):
    opened = sessions.issue("web:203.0.113.7")
    assert webchat.valid_token(opened.token) and opened.sender == webchat.sender_for(opened.token)
    row = _row(engine, opened.sender)
    assert row.token_hash == token_hash(opened.token) != opened.token
    assert row.client == "web:203.0.113.7"
    assert row.created_at == row.last_seen_at == clock.now and row.expires_at == clock.now + ABSOLUTE
    assert row.revoked_at is None
    with engine.connect() as connection:
        dump = " ".join(str(v) for v in connection.execute(sa.select(WebSession)).one())
    assert opened.token not in dump


def test_the_issued_token_resumes_its_own_conversation(sessions):
    first = sessions.issue("web:1.1.1.1")
    again = sessions.open(first.token, "web:2.2.2.2")
    assert (again.token, again.sender, again.resumed) == (first.token, first.sender, True)


@pytest.mark.parametrize("forged", [
    "A" * 43,                                     # the right shape, never issued
    "not-a-token", None, 42, {"x": 1}, "",
])
def test_a_token_the_server_never_issued_gets_a_fresh_session(sessions, engine, forged):
    opened = sessions.open(forged, "web:6.6.6.6")
    assert not opened.resumed and opened.token != forged
    assert _row(engine, opened.sender).client == "web:6.6.6.6"


def test_a_conversation_id_is_not_a_token(sessions):
    victim = sessions.issue("web:1.1.1.1")
    forged = victim.sender[len("web-"):] + "abc"   # 43 characters of the right alphabet
    assert webchat.valid_token(forged)
    stolen = sessions.open(forged, "web:6.6.6.6")
    assert stolen.sender != victim.sender and not stolen.resumed


def test_use_is_recorded_and_idle_sessions_expire(sessions, engine, clock):
    opened = sessions.issue("web:1.1.1.1")
    clock.now += IDLE - timedelta(minutes=1)
    assert sessions.touch(opened.sender)
    assert _row(engine, opened.sender).last_seen_at == clock.now, "touched"
    clock.now += timedelta(seconds=20)
    assert sessions.touch(opened.sender)
    assert _row(engine, opened.sender).last_seen_at == clock.now - timedelta(seconds=20), "at most once a minute"
    clock.now += IDLE - timedelta(minutes=1)
    assert sessions.resume(opened.token) == opened.sender, "used within the idle time: still live"
    clock.now += IDLE + timedelta(seconds=1)
    assert sessions.resume(opened.token) is None and not sessions.touch(opened.sender)
    fresh = sessions.open(opened.token, "web:1.1.1.1")
    assert not fresh.resumed and fresh.sender != opened.sender, "a new conversation after expiry"


def test_a_session_ends_after_the_absolute_lifetime_even_when_used(sessions, clock):
    opened = sessions.issue("web:1.1.1.1")
    for _ in range(ABSOLUTE.days):
        clock.now += timedelta(days=1) - timedelta(minutes=5)
        sessions.resume(opened.token)
    clock.now += timedelta(days=1)
    assert sessions.resume(opened.token) is None


def test_a_revoked_session_is_over_for_every_tab(sessions, engine, clock):
    opened = sessions.issue("web:1.1.1.1")
    assert sessions.revoke(sender=opened.sender)
    assert _row(engine, opened.sender).revoked_at == clock.now
    assert sessions.resume(opened.token) is None and not sessions.touch(opened.sender)
    assert not sessions.revoke(sender=opened.sender), "already revoked"
    other = sessions.issue("web:1.1.1.1")
    assert sessions.revoke(token=other.token) and sessions.resume(other.token) is None
    with pytest.raises(ValueError):
        sessions.revoke()


def test_ops_revoke_by_conversation_id(fresh_store_url, engine, monkeypatch, capsys):
    monkeypatch.setenv("CARELINE_STORE_DB_URL", fresh_store_url)
    opened = WebSessions(engine).issue("web:1.1.1.1")
    assert main(["revoke", opened.sender]) == 0
    assert WebSessions(engine).resume(opened.token) is None
    assert main(["revoke", "web-nothing"]) == 1 and "no live session" in capsys.readouterr().err
    assert main([]) == 2


def test_purge_removes_long_ended_sessions_only(sessions, engine, clock):
    ended = sessions.issue("web:1.1.1.1")
    sessions.revoke(sender=ended.sender)
    clock.now += timedelta(days=100)
    live = sessions.issue("web:2.2.2.2")
    assert sessions.purge() == 1
    assert sessions.resume(live.token) == live.sender
