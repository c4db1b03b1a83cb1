"""What a website customer has seen, on a real SQLite store: never in the future, never backwards."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from careline.access.seen_marks import SeenMarks, seen_moment
from careline.db import make_engine
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
