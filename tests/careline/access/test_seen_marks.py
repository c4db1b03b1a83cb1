"""What a website customer has seen, on a real SQLite store: never in the future, never backwards."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import List

import pytest

from careline.access.seen_marks import SEEN_EVERY_S, SeenMarks, SeenPacing, seen_moment
from careline.db import make_engine
from careline.shared import Limit, RateLimiter
from tests.conftest import Clock

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=timezone.utc)


def test_a_mark_is_the_time_on_screen_or_now_once_the_newest_message_is_on_screen():
    before = NOW - timedelta(minutes=5)
    assert seen_moment(before.timestamp(), before.timestamp(), NOW) == NOW, "the newest message seen: all of it"
    assert seen_moment(before.timestamp(), NOW.timestamp() - 10, NOW) == before, "a newer message is not on screen"
    assert seen_moment(before.timestamp(), None, NOW) == before
    assert seen_moment((NOW + timedelta(days=3)).timestamp(), None, NOW) == NOW, "never in the future"
    assert seen_moment((NOW + timedelta(days=3)).timestamp(), (NOW + timedelta(days=4)).timestamp(), NOW) == NOW
    for junk in (None, "1700000000", True, float("nan"), float("inf"), -5, 0, {"at": 1}):
        assert seen_moment(junk, None, NOW) is None


@pytest.fixture
def marks(fresh_store_url):
    clock = Clock(NOW)
    return SeenMarks(make_engine(fresh_store_url), clock=clock), clock


def test_a_mark_only_moves_forward_and_never_past_now(marks):
    store, clock = marks
    assert store.seen_at("web-a") is None
    assert store.mark("web-a", NOW - timedelta(minutes=3)) == NOW - timedelta(minutes=3)
    assert store.mark("web-a", NOW - timedelta(minutes=9)) == NOW - timedelta(minutes=3), "an old tab cannot un-see"
    assert store.mark("web-a", NOW + timedelta(hours=1)) == NOW, "nobody sees the future"
    clock.now += timedelta(minutes=1)
    assert store.mark("web-a", clock.now) == clock.now and store.seen_at("web-a") == clock.now
    assert store.seen_at("web-b") is None, "one mark per conversation"


class Ticks:
    """A settable monotonic clock (seconds)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_many_sockets_on_one_conversation_make_one_write_per_interval_with_the_newest_mark():
    ticks = Ticks()
    pacing = SeenPacing(every_s=SEEN_EVERY_S, clock=ticks)
    assert pacing.offer("web-a", "10.0.0.1", 100.0) == 0, "the first mark is written at once"
    assert pacing.take("web-a") == 100.0 and pacing.take("web-a") is None
    ticks.now += 0.1
    assert pacing.offer("web-a", "10.0.0.2", 101.0) == pytest.approx(SEEN_EVERY_S - 0.1), "the next waits its turn"
    for socket in range(40):  # forty sockets of the same session, from anywhere: they join the waiting mark
        assert pacing.offer("web-a", f"10.0.1.{socket}", 101.0 + socket) is None
    assert pacing.offer("web-a", "10.0.0.3", 50.0) is None
    ticks.now = 1000.0 + SEEN_EVERY_S  # its turn
    assert pacing.take("web-a") == 140.0, "the newest mark waiting is the one written"
    ticks.now += 0.5
    assert pacing.offer("web-a", "10.0.0.1", 141.0) == pytest.approx(SEEN_EVERY_S - 0.5), "then the next turn"
    assert pacing.offer("web-b", "10.0.0.1", 141.0) == 0, "each conversation has its own turn"


def test_one_address_has_a_budget_of_writes_across_conversations():
    ticks = Ticks()
    pacing = SeenPacing(per_address=RateLimiter(Limit(per_minute=60, burst=5), clock=ticks), clock=ticks)
    scheduled = [pacing.offer(f"web-{n}", "10.0.0.9", 100.0) for n in range(12)]
    assert scheduled == [0] * 5 + [None] * 7, "five writes, then the address waits for its budget"
    assert pacing.offer("web-other", "10.0.0.10", 100.0) == 0, "another address is not held back"
    ticks.now += 1.0
    assert pacing.offer("web-11", "10.0.0.9", 100.0) == 0, "a second later, one more"


def test_the_newest_message_sent_is_remembered_and_the_memory_is_bounded():
    pacing = SeenPacing(max_conversations=3)
    assert pacing.newest("web-a") is None
    pacing.sent("web-a", [100.0, None, "junk", 250.5, float("nan"), 120.0])
    pacing.sent("web-a", [200.0])
    assert pacing.newest("web-a") == 250.5, "never goes back"
    pacing.sent("web-b", [None])
    assert pacing.newest("web-b") is None and len(pacing) == 1, "nothing to remember: nothing kept"
    for name in ("web-b", "web-c", "web-d"):
        pacing.sent(name, [300.0])
    assert len(pacing) == 3 and pacing.newest("web-a") is None, "the least recently used is forgotten"
    for n in range(100):
        pacing.offer(f"web-x{n}", "10.0.0.1", 1.0)
    assert len(pacing) == 3


def test_a_mark_moving_too_little_is_not_written_unless_it_covers_a_new_message():
    pacing = SeenPacing(min_move=timedelta(seconds=2))
    assert pacing.worth_writing("web-a", NOW), "nothing known: written"
    pacing.written("web-a", NOW)
    assert not pacing.worth_writing("web-a", NOW - timedelta(minutes=1)), "behind the store's mark"
    assert not pacing.worth_writing("web-a", NOW), "the same"
    assert not pacing.worth_writing("web-a", NOW + timedelta(seconds=1.5)), "moves 1.5 s: not written"
    assert pacing.worth_writing("web-a", NOW + timedelta(seconds=2))
    pacing.sent("web-a", [(NOW + timedelta(seconds=1)).timestamp()])  # a reply, then the customer sees it
    assert pacing.worth_writing("web-a", NOW + timedelta(seconds=1.2)), "it covers a message the store's does not"
    assert not pacing.worth_writing("web-a", NOW + timedelta(seconds=0.5)), "one that does not cover it"


def test_paced_marks_on_a_real_store_never_run_ahead_of_now_nor_back(marks):
    """The channel's way (channels/webchat.py): offer; at its turn take, seen_moment, write if worth it."""
    store, clock = marks
    ticks = Ticks()
    pacing = SeenPacing(clock=ticks)
    newest = NOW - timedelta(seconds=30)
    pacing.sent("web-a", [newest.timestamp()])
    turns: List[float] = []   # when the writes offered are due
    writes = 0
    for _ in range(200):  # 20 s of ten sockets sending a mark every 0.1 s, old ones and "tomorrow"
        ticks.now += 0.1
        clock.now += timedelta(seconds=0.1)
        for socket in range(10):
            at = (newest + (timedelta(days=1) if socket % 3 else -timedelta(minutes=5))).timestamp()
            wait = pacing.offer("web-a", "10.0.0.1", at)
            if wait is not None:
                turns.append(ticks.now + wait)
        while turns and turns[0] <= ticks.now + 1e-9:
            turns.pop(0)
            at = pacing.take("web-a")
            moment = seen_moment(at, pacing.newest("web-a"), clock.now)
            if moment is not None and pacing.worth_writing("web-a", moment):
                before = store.seen_at("web-a")
                pacing.written("web-a", store.mark("web-a", moment))
                writes += 1
                assert before is None or store.seen_at("web-a") > before, "never backwards"
                assert store.seen_at("web-a") <= clock.now, "never ahead of now"
    assert 9 <= writes <= 11, f"one write every 2 s of the 20, not {writes}"
    assert store.seen_at("web-a") >= clock.now - timedelta(seconds=SEEN_EVERY_S + 0.2)
