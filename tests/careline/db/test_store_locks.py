"""Who holds the store's locks, and for how long: the outbox never holds SQLite's write lock over an
HTTP call, and readers of Rasa's tracker database (the desk's analytics, `make review`) open it read-only."""
from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from careline.db.engine import make_engine, make_readonly_engine
from careline.desk.app import Desk
from careline.handoff.ticket import TicketFacts, build_ticket
from careline.handoff.outbox import HelpdeskOutbox
from careline.handoff.tickets import TicketService
from careline.shared.settings import load_settings
from ops import review
from tests.fakes.helpdesk import FakeHelpdesk

EVENTS = [{"event": "user", "text": "get me a person", "timestamp": 1_700_000_000,
           "parse_data": {"intent": {"name": "human_handoff"}}}]


def _sqlite_path(url: str) -> str:
    return url[len("sqlite:///"):]


def _write_now(path: str, sql: str, *params) -> None:
    """One short write from another connection that will not wait for a lock (0.2 s at most)."""
    connection = sqlite3.connect(path, timeout=0.2, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute(sql, params)
        connection.execute("COMMIT")
    finally:
        connection.close()


def test_the_store_takes_writes_while_the_helpdesk_is_slow_to_answer(fresh_store_url):
    engine = make_engine(fresh_store_url)
    draft = build_ticket("conv-slow", "rest", "customer_request", EVENTS, TicketFacts())
    TicketService(engine).open(draft, "conv-slow:handoff")
    with FakeHelpdesk() as helpdesk:
        helpdesk.delay_s = 3.0
        outbox = HelpdeskOutbox(engine, helpdesk.url, timeout_s=10)
        result = {}
        worker = threading.Thread(target=lambda: result.update(sent=outbox.deliver_due()))
        worker.start()
        deadline = time.monotonic() + 10
        while not helpdesk.requests and time.monotonic() < deadline:
            time.sleep(0.02)
        assert helpdesk.requests, "the outbox never called the helpdesk"
        try:
            _write_now(_sqlite_path(fresh_store_url), "UPDATE customers SET phone = ? WHERE id = 1", "+1 555 0199")
            assert worker.is_alive(), "the write went through only after the helpdesk answered"
        finally:
            worker.join(timeout=20)
    assert result["sent"] == (1, 0) and outbox.pending() == 0
    assert len(helpdesk.tickets) == 1


@pytest.fixture
def tracker_file(tmp_path: Path) -> Path:
    """A tracker database as Rasa leaves it: SQLite's default (rollback) journal, an events table."""
    path = tmp_path / "tracker.db"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id TEXT, type_name TEXT, "
                       "action_name TEXT, data TEXT)")
    connection.executemany("INSERT INTO events (sender_id, type_name, data) VALUES (?, 'user', '{}')",
                           [("a",), ("b",)])
    connection.commit()
    connection.close()
    return path


def _events(engine) -> int:
    with engine.connect() as db:
        return db.execute(sa.text("SELECT count(*) FROM events")).scalar_one()


def test_the_readonly_engine_reads_but_cannot_write(tracker_file):
    engine = make_engine(f"sqlite:///{tracker_file}", read_only=True)
    assert _events(engine) == 2
    assert sa.inspect(engine).get_table_names() == ["events"]
    with pytest.raises(sa.exc.OperationalError), engine.begin() as db:
        db.execute(sa.text("INSERT INTO events (sender_id, type_name, data) VALUES ('x', 'user', '{}')"))
    with pytest.raises(sa.exc.OperationalError), engine.begin() as db:
        db.execute(sa.text("PRAGMA journal_mode=WAL"))
    assert _events(engine) == 2
    journal = sqlite3.connect(tracker_file).execute("PRAGMA journal_mode").fetchone()[0]
    assert journal == "delete", "opening it changed nothing about the file"


def test_the_readonly_engine_takes_no_lock_while_rasa_writes(tracker_file):
    engine = make_readonly_engine(f"sqlite:///{tracker_file}")
    with engine.connect() as db:  # like `make review`: read, then work while the connection is open
        assert len(db.execute(sa.text("SELECT id FROM events")).all()) == 2
        _write_now(str(tracker_file), "INSERT INTO events (sender_id, type_name, data) VALUES ('c', 'user', '{}')")
    rasa = sqlite3.connect(tracker_file, isolation_level=None)
    rasa.execute("BEGIN IMMEDIATE")  # Rasa is in the middle of saving a turn
    rasa.execute("INSERT INTO events (sender_id, type_name, data) VALUES ('d', 'user', '{}')")
    try:
        started = time.monotonic()
        assert _events(engine) == 3, "the committed events, read without waiting"
        assert time.monotonic() - started < 1
    finally:
        rasa.execute("COMMIT")
        rasa.close()
    assert _events(engine) == 4


def test_a_tracker_database_that_does_not_exist_yet_reads_as_empty(tmp_path):
    engine = make_readonly_engine(f"sqlite:///{tmp_path / 'not-yet.db'}")
    assert sa.inspect(engine).get_table_names() == []
    assert not (tmp_path / "not-yet.db").exists(), "reading does not create it"


def test_the_desk_reads_the_tracker_store_read_only(tracker_file, fresh_store_url):
    desk = Desk(load_settings(environ={"CARELINE_STORE_DB_URL": fresh_store_url,
                                       "CARELINE_TRACKER_DB_URL": f"sqlite:///{tracker_file}"}))
    assert _events(desk.tracker_engine) == 2
    with pytest.raises(sa.exc.OperationalError, match="readonly|read-only"), desk.tracker_engine.begin() as db:
        db.execute(sa.text("DELETE FROM events"))


def test_review_exports_while_rasa_is_writing(tracker_file, tmp_path, monkeypatch):
    monkeypatch.setenv("CARELINE_TRACKER_DB_URL", f"sqlite:///{tracker_file}")
    rasa = sqlite3.connect(tracker_file, isolation_level=None)
    rasa.execute("BEGIN IMMEDIATE")
    rasa.execute("INSERT INTO events (sender_id, type_name, data) VALUES ('e', 'user', '{}')")
    try:
        started = time.monotonic()
        assert review.export(tmp_path / "review.yml", 0.6) == 0
        assert time.monotonic() - started < 5, "the export waited for Rasa's write lock"
    finally:
        rasa.execute("COMMIT")
        rasa.close()
    assert (tmp_path / "review.yml").exists()


def test_the_readonly_engine_on_postgresql(pg_url):
    writer = make_engine(pg_url)
    reader = make_readonly_engine(pg_url)
    with reader.connect() as db:
        orders = db.execute(sa.text("SELECT count(*) FROM orders")).scalar_one()
    assert orders == 1000
    with pytest.raises(sa.exc.DBAPIError, match="read-only"), reader.begin() as db:
        db.execute(sa.text("UPDATE customers SET phone = '+1 555 0199' WHERE id = 1"))
    with reader.connect() as db, writer.begin() as rw:
        db.execute(sa.text("SELECT count(*) FROM customers")).scalar_one()
        rw.execute(sa.text("UPDATE customers SET phone = '+1 555 0100' WHERE id = 1"))
    reader.dispose()
    writer.dispose()
