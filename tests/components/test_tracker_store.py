"""CarelineTrackerStore on real SQLite files (and a real PostgreSQL for the outage): the bounded tracker has
the state of the whole conversation, only new events are read and written, servers see each other's writes,
and a database outage fails loudly instead of answering from memory."""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Iterator, List

import pytest
import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (ActionExecuted, ActionExecutionRejected, ActiveLoop, BotUttered,
                                     ConversationPaused, Event, SessionStarted, SlotSet, UserUttered)
from rasa.shared.core.trackers import DialogueStateTracker

from careline.shared.settings import PROJECT_ROOT
from components.runtime.tracker_store import (POLICY_TURNS, CarelineTrackerStore, TrackerStoreUnavailable,
                                              _Conversations, prediction_tracker, window_start)
from tests import pg


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(PROJECT_ROOT / "domain.yml"))


@pytest.fixture
def server() -> Iterator[pg.PostgresServer]:
    """A throwaway PostgreSQL server of the test's own (the test stops or hangs it); removed afterwards."""
    try:
        started = pg.start_server()
    except pg.PostgresUnavailable as error:
        pg.unavailable(str(error))
        return
    try:
        yield started
    finally:
        started.stop()


def _url(tmp_path: Path, name: str = "tracker.db") -> str:
    return f"sqlite:///{tmp_path / name}"


def _turn(number: int, clock: List[float], slots: dict = None, bot: str = "ok") -> List[Event]:
    """One customer turn as Rasa stores it: the message, the bot's action and words, listening again."""
    def at() -> float:
        clock[0] += 0.01
        return clock[0]

    events: List[Event] = [UserUttered(f"message {number}", {"name": "faq", "confidence": 0.9},
                                       parse_data={"intent": {"name": "faq", "confidence": 0.9},
                                                   "text": f"message {number}"}, timestamp=at())]
    events.append(ActionExecuted("utter_faq", timestamp=at()))
    events.append(BotUttered(f"{bot} {number}", timestamp=at()))
    for name, value in (slots or {}).items():
        events.append(SlotSet(name, value, timestamp=at()))
    events.append(ActionExecuted(ACTION_LISTEN_NAME, timestamp=at()))
    return events


async def _say(store: CarelineTrackerStore, sender: str, events: List[Event]) -> None:
    tracker = await store.get_or_create_tracker(sender)
    for event in events:
        tracker.update(event)
    await store.save(tracker)


def _stored(url: str, sender: str) -> List[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as db:
            rows = db.execute(sa.text("SELECT data FROM events WHERE sender_id = :s ORDER BY id"), {"s": sender})
            return [json.loads(row[0])["event"] for row in rows]
    finally:
        engine.dispose()


def test_the_window_starts_at_the_listen_before_the_oldest_kept_turn():
    clock = [1000.0]
    events: List[Event] = [ActionExecuted(ACTION_LISTEN_NAME, timestamp=clock[0])]
    for number in range(5):
        events += _turn(number, clock)
    start = window_start(events, 2)
    assert isinstance(events[start], ActionExecuted) and events[start].action_name == ACTION_LISTEN_NAME
    assert isinstance(events[start + 1], UserUttered) and events[start + 1].text == "message 3"
    assert window_start(events, 50) == 0


def test_the_bounded_tracker_has_the_whole_conversations_state_but_only_the_last_turns(tmp_path, domain):
    async def run() -> None:
        url = _url(tmp_path)
        store = CarelineTrackerStore(domain, url, window_turns=4)
        clock = [time.time()]
        tracker = await store.get_or_create_tracker("c1")
        tracker.update(SessionStarted(timestamp=clock[0]))
        tracker.update(ActionExecuted(ACTION_LISTEN_NAME, timestamp=clock[0]))
        await store.save(tracker)
        await _say(store, "c1", _turn(0, clock, {"order_id": "CL-100003", "email": "a@example.net"}))
        await _say(store, "c1", _turn(1, clock) + [ActiveLoop("order_form", timestamp=clock[0] + 0.001)])
        for number in range(2, 60):
            await _say(store, "c1", _turn(number, clock, {"refund_reason": "late"} if number == 30 else None))
        await _say(store, "c1", [ConversationPaused(timestamp=clock[0] + 0.5)])

        bounded = await store.get_or_create_tracker("c1")
        full = await SQLTrackerStore(domain, host=url).retrieve("c1")
        assert full is not None and len(full.events) > 200
        assert len(bounded.events) < 40, "the processor gets the last turns, not the whole conversation"
        for name in ("order_id", "email", "refund_reason", "verified"):
            assert bounded.get_slot(name) == full.get_slot(name)
        assert bounded.active_loop_name == full.active_loop_name == "order_form"
        assert bounded.is_paused() and full.is_paused()
        assert bounded.latest_message.text == full.latest_message.text == "message 59"
        assert [e.text for e in bounded.events if isinstance(e, UserUttered)] == \
            [f"message {n}" for n in range(56, 60)]
        assert isinstance(bounded.events[0], SessionStarted), "actions bind proofs to the session's start"
        assert bounded.events[0].timestamp == next(e for e in full.events if isinstance(e, SessionStarted)).timestamp
        assert bounded.copy().get_slot("order_id") == "CL-100003", "Rasa's copy replays the bounded events"
        stored = _stored(url, "c1")
        assert stored == [e.as_dict()["event"] for e in full.events] and len(stored) == len(full.events)

    asyncio.run(run())


def test_only_new_events_are_read_and_two_servers_see_each_others_turns(tmp_path, domain):
    async def run() -> None:
        url = _url(tmp_path)
        first, second = CarelineTrackerStore(domain, url, window_turns=3), CarelineTrackerStore(domain, url,
                                                                                               window_turns=3)
        clock = [time.time()]
        await _say(first, "c2", _turn(0, clock, {"order_id": "CL-100001"}))
        await _say(second, "c2", _turn(1, clock, {"email": "b@example.net"}))
        await _say(first, "c2", _turn(2, clock))
        for number in range(3, 12):
            await _say(first if number % 2 else second, "c2", _turn(number, clock))
        for store in (first, second):
            tracker = await store.get_or_create_tracker("c2")
            assert tracker.get_slot("order_id") == "CL-100001" and tracker.get_slot("email") == "b@example.net"
            assert tracker.latest_message.text == "message 11"
        reads: List[str] = []
        engine = first.engine
        sa.event.listen(engine, "before_cursor_execute", lambda *args: reads.append(args[2]))
        await first.get_or_create_tracker("c2")
        assert len(reads) == 1 and "events.id >" in reads[0], "a known conversation reads only what is new"
        assert _stored(url, "c2").count("user") == 12
        with first.engine.connect() as db:  # a process crash loses no committed turn; no fsync per commit
            assert db.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert db.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL

    asyncio.run(run())


def test_a_tracker_from_elsewhere_is_saved_as_rasa_does(tmp_path, domain):
    async def run() -> None:
        url = _url(tmp_path)
        store = CarelineTrackerStore(domain, url)
        clock = [time.time()]
        await _say(store, "c3", _turn(0, clock))
        full = await store.retrieve("c3")
        assert full is not None
        for event in _turn(1, clock):
            full.update(event)
        await store.save(full)          # e.g. the HTTP API's events route with a tracker it built
        await store.save(full)          # saving twice stores nothing twice
        assert _stored(url, "c3").count("user") == 2
        tracker = await store.get_or_create_tracker("c3")
        assert tracker.latest_message.text == "message 1"

    asyncio.run(run())


def test_a_database_outage_fails_the_turn_and_a_restart_within_the_retry_time_loses_nothing(domain, server):
    url = server.create_database("tracker")

    async def run() -> None:
        store = CarelineTrackerStore(domain, url, retry_s=1.0)
        clock = [time.time()]
        await _say(store, "c4", _turn(0, clock))
        server._run(str(server.bin_dir / "pg_ctl"), "stop", "-m", "fast", "-w", "-D", str(server.data_dir))
        started = time.monotonic()
        with pytest.raises(TrackerStoreUnavailable):
            await _say(store, "c4", _turn(1, clock))
        assert time.monotonic() - started < 10
        with pytest.raises(TrackerStoreUnavailable):
            await store.retrieve("c4")   # never "no such conversation" while the database is away

        patient = CarelineTrackerStore.__new__(CarelineTrackerStore)
        patient.__dict__.update(store.__dict__)
        patient.retry_s = 30.0
        restart = asyncio.get_running_loop().run_in_executor(None, lambda: (time.sleep(1.5), server._run(
            str(server.bin_dir / "pg_ctl"), "start", "-w", "-D", str(server.data_dir), "-l",
            str(server.log_file), "-o", f"-p {server.port} -c listen_addresses=127.0.0.1 "
            f"-c unix_socket_directories={server.root}")))
        await _say(patient, "c4", _turn(2, clock))   # retried until the database is back
        await restart
        stored = _stored(url, "c4")
        assert stored.count("user") == 2, "the turn that failed was not stored; the one after the restart was"
        tracker = await patient.get_or_create_tracker("c4")
        assert tracker.latest_message.text == "message 2"

    asyncio.run(run())


def test_the_cache_counts_a_conversation_as_it_grows_and_keeps_within_its_budget(tmp_path, domain):
    async def run() -> None:
        store = CarelineTrackerStore(domain, _url(tmp_path), window_turns=2)
        store._conversations = _Conversations(max_conversations=10, max_events=60)
        clock = [time.time()]
        await _say(store, "small", _turn(0, clock))
        for number in range(30):          # one long chat: it outgrows the whole budget
            await _say(store, "long", _turn(number, clock))
        assert store._conversations.events <= 60
        tracker = await store.get_or_create_tracker("long")   # read again from the database: nothing lost
        assert tracker.latest_message.text == "message 29"

    asyncio.run(run())


def test_a_hung_database_fails_the_turn_in_time_and_never_freezes_the_server(domain, server):
    processes: List[int] = []
    try:
        url = server.create_database("tracker")

        async def run() -> None:
            store = CarelineTrackerStore(domain, url, retry_s=2.0)
            clock = [time.time()]
            await _say(store, "c5", _turn(0, clock))
            found = subprocess.run(["pgrep", "-f", str(server.data_dir)], capture_output=True, text=True)
            for postmaster in found.stdout.split():   # the server and every backend it started
                children = subprocess.run(["pgrep", "-P", postmaster], capture_output=True, text=True)
                processes.extend(int(pid) for pid in [postmaster, *children.stdout.split()])
            assert processes
            for pid in processes:
                os.kill(pid, signal.SIGSTOP)
            ticks: List[float] = []

            async def tick() -> None:      # another conversation's work on the same event loop
                while True:
                    ticks.append(time.monotonic())
                    await asyncio.sleep(0.05)

            ticking = asyncio.create_task(tick())
            started = time.monotonic()
            with pytest.raises(TrackerStoreUnavailable):
                await _say(store, "c5", _turn(1, clock))
            ticking.cancel()
            took = time.monotonic() - started
            for pid in processes:   # before the loop ends: asyncio.run waits for the thread still in the query
                os.kill(pid, signal.SIGCONT)
            assert took < 5
            gaps = [later - earlier for earlier, later in zip(ticks, ticks[1:])]
            assert len(ticks) > 20 and max(gaps) < 0.5, "the event loop went on while the database hung"

        asyncio.run(run())
    finally:
        for pid in processes:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


def test_the_policies_window_keeps_the_state_and_the_last_turns_only(domain):
    """prediction_tracker: the tracker itself while it is short; then the state before the policies' window
    (slots, active loop, pause) and the last POLICY_TURNS customer turns."""
    clock = [1000.0]
    events: List[Event] = [SessionStarted(timestamp=999.0), ActionExecuted(ACTION_LISTEN_NAME, timestamp=999.5)]
    for number in range(POLICY_TURNS):
        events += _turn(number, clock, slots={"order_id": "CL-100003"} if number == 0 else None)
    short = DialogueStateTracker.from_events("p1", events, domain.slots, domain=domain)
    assert prediction_tracker(short, domain) is short
    events += [ActiveLoop("identity_form", timestamp=clock[0] + 0.001),
               ActionExecutionRejected("identity_form", timestamp=clock[0] + 0.002)]  # stays until it runs again
    for number in range(POLICY_TURNS, 3 * POLICY_TURNS):
        events += _turn(number, clock)
    events += [ConversationPaused(timestamp=clock[0] + 0.001)]
    long = DialogueStateTracker.from_events("p1", events, domain.slots, domain=domain)
    window = prediction_tracker(long, domain)
    said = [e.text for e in window.events if isinstance(e, UserUttered)]
    assert said == [f"message {n}" for n in range(2 * POLICY_TURNS, 3 * POLICY_TURNS)]
    assert window.get_slot("order_id") == "CL-100003" and window.active_loop_name == "identity_form"
    assert long.active_loop.rejected and window.active_loop.rejected
    assert window.is_paused() and window.latest_message.text == long.latest_message.text
    assert window.latest_action_name == long.latest_action_name == ACTION_LISTEN_NAME
    assert isinstance(window.events[0], SessionStarted) and window.sender_id == "p1"
