"""Shared rate limits in a real Redis (tests/redis_server.py): one budget for all processes, and never
unlimited while Redis is down.

Each `RedisLimits.from_url` has its own connections, as each Rasa server process would.
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Iterator, List

import pytest
import redis

from careline.shared.ratelimit import Limit, MessageGate, RateLimitUnavailable
from careline.shared.redis_limits import PREFIX, RedisLimits, RedisRateLimiter
from tests.redis_server import RedisServer, running_redis


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    with running_redis() as started:
        yield started


@pytest.fixture
def up(server: RedisServer) -> RedisServer:
    """The module's Redis, running (a test before may have stopped it)."""
    if not server.running:
        server.restart()
    return server


@pytest.fixture
def limits(up: RedisServer) -> Iterator[RedisLimits]:
    opened = RedisLimits.from_url(up.url, fail_fast_s=0.2)
    yield opened
    opened.close()


def _name() -> str:
    return "t" + uuid.uuid4().hex[:12]


def _process(server: RedisServer) -> RedisLimits:
    """What another Rasa server process would open."""
    return RedisLimits.from_url(server.url, fail_fast_s=0.2)


def test_two_processes_share_one_budget(up):
    name, limit = _name(), Limit(per_minute=6, burst=3)
    first, second = _process(up).limiter(name, limit), _process(up).limiter(name, limit)
    assert [first.hit("1.2.3.4").allowed, second.hit("1.2.3.4").allowed, first.hit("1.2.3.4").allowed] == [True] * 3
    refused = second.hit("1.2.3.4")
    assert not refused.allowed and 9.0 < refused.retry_after_s <= 10.0, refused
    assert first.blocked("1.2.3.4") and second.blocked("1.2.3.4")
    assert first.hit("5.6.7.8").allowed, "keys are independent"
    other = _process(up).limiter(_name(), limit)
    assert other.hit("1.2.3.4").allowed, "limiters of other names are independent"


def test_concurrent_hits_never_take_more_than_the_burst(up):
    name, limit = _name(), Limit(per_minute=0.06, burst=40)  # practically no refill during the test
    allowed: List[bool] = []
    lock = threading.Lock()

    def spend() -> None:
        limiter = _process(up).limiter(name, limit)
        mine = [limiter.hit("flood").allowed for _ in range(25)]
        with lock:
            allowed.extend(mine)

    threads = [threading.Thread(target=spend) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(allowed) == 150 and allowed.count(True) == 40


def test_a_bucket_refills_at_its_rate(limits):
    limiter = limits.limiter(_name(), Limit(per_minute=600, burst=2))  # 10 tokens a second
    assert [limiter.hit("a").allowed for _ in range(3)] == [True, True, False]
    refused = limiter.hit("a")
    assert 0.0 < refused.retry_after_s <= 0.1
    time.sleep(refused.retry_after_s + 0.03)
    assert not limiter.blocked("a"), "refilled; looking does not take it"
    assert limiter.hit("a").allowed and not limiter.hit("a").allowed


def test_a_token_given_back_can_be_taken_again_but_never_beyond_the_burst(up, limits):
    limiter = limits.limiter(_name(), Limit(per_minute=1, burst=2))
    assert limiter.hit("a").allowed and limiter.hit("a").allowed and not limiter.hit("a").allowed
    limiter.give_back("a")
    assert limiter.hit("a").allowed and not limiter.hit("a").allowed
    for _ in range(5):
        limiter.give_back("a")
    assert [limiter.hit("a").allowed for _ in range(3)] == [True, True, False]
    limiter.give_back("unknown")
    assert not redis.Redis.from_url(up.url).exists(limiter.key("unknown")), "no bucket is made"


def test_idle_buckets_expire_when_they_would_be_full_again(up, limits):
    raw = redis.Redis.from_url(up.url)
    limiter = limits.limiter(_name(), Limit(per_minute=6000, burst=5))  # full again 50 ms after the last hit
    assert limiter.hit("idle").allowed
    key = limiter.key("idle")
    assert key == f"{PREFIX}:{limiter.name}:idle" and raw.hgetall(key).keys() == {b"tokens", b"seen"}
    assert 0 < raw.pttl(key) <= 1050
    slow = limits.limiter(_name(), Limit(per_minute=1, burst=3))  # full again after 3 minutes
    slow.hit("idle")
    assert 180_000 < raw.pttl(slow.key("idle")) <= 181_000
    time.sleep(1.2)
    assert not raw.exists(key), "an idle key vanishes"
    assert [limiter.hit("idle").allowed for _ in range(6)] == [True] * 5 + [False], "as a full bucket"


def test_long_keys_are_stored_by_their_hash(limits):
    limiter = limits.limiter(_name(), Limit(60, 1))
    long_key = "x" * 500
    assert limiter.key(long_key) == limiter.key(long_key) != limiter.key(long_key + "y")
    assert len(limiter.key(long_key)) < 100
    assert limiter.hit(long_key).allowed and not limiter.hit(long_key).allowed


def test_names_are_checked():
    with pytest.raises(ValueError, match="lowercase"):
        RedisRateLimiter(RedisLimits.from_url("redis://127.0.0.1:1/0"), "gate:senders", Limit(60, 1))


def test_two_gates_share_the_budgets(up):
    def gate_of(limits: RedisLimits, prefix: str) -> MessageGate:
        return MessageGate(max_chars=100, per_sender=Limit(60, 2), per_address=Limit(60, 3),
                           limiters=lambda kind, limit: limits.limiter(f"{prefix}_{kind}", limit))

    prefix = _name()
    first, second = gate_of(_process(up), prefix), gate_of(_process(up), prefix)
    assert [first.check("s", "1.2.3.4", "hi").status, second.check("s", "1.2.3.4", "hi").status,
            first.check("s", "1.2.3.4", "hi").status] == [200, 200, 429], "the sender's 2 across both"
    refused = second.check("t", "1.2.3.4", "hi")  # the third check above took the address's third token
    assert refused.status == 429 and refused.error == "rate_limited", "the address's 3 across both"
    assert first.check("t", "5.6.7.8", "hi").ok


def test_a_stopped_redis_is_a_quick_clear_error_never_unlimited_and_it_recovers(up, caplog):
    limits = RedisLimits.from_url(up.url, fail_fast_s=0.2)
    limiter = limits.limiter(_name(), Limit(per_minute=60, burst=1))
    assert limiter.hit("a").allowed
    up.stop()
    caplog.set_level(logging.WARNING, logger="careline.shared.redis_limits")
    for call in (limiter.hit, limiter.blocked, limiter.give_back):
        started = time.monotonic()
        with pytest.raises(RateLimitUnavailable) as raised:
            call("a")
        assert time.monotonic() - started < 1.0
        assert f"Redis at redis://127.0.0.1:{up.port}/0" in raised.value.detail and raised.value.retry_after_s > 0
    secret = RedisLimits.from_url(f"redis://:hunter2secret@127.0.0.1:{up.port}/0").limiter("t", Limit(60, 1))
    with pytest.raises(RateLimitUnavailable) as raised:
        secret.hit("a")
    assert f"127.0.0.1:{up.port}" in raised.value.detail and "hunter2" not in raised.value.detail
    for _ in range(20):
        with pytest.raises(RateLimitUnavailable):
            limiter.hit("b")
    errors = [r for r in caplog.records if r.levelno == logging.ERROR and "Redis at" in r.getMessage()]
    assert len(errors) == 2, "one line per Redis client, not a flood"
    assert all("make redis" in r.getMessage() and "hunter2" not in r.getMessage() for r in errors)
    up.restart()
    deadline = time.monotonic() + 3
    while True:
        try:
            verdict = limiter.hit("c")
            break
        except RateLimitUnavailable:
            assert time.monotonic() < deadline, "it never worked again"
            time.sleep(0.05)
    assert verdict.allowed and not limiter.hit("c").allowed, "limited again (a fresh Redis, scripts loaded again)"
    assert any("answers again" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    limits.close()


def test_a_hung_redis_times_out_then_calls_fail_at_once(up):
    limits = RedisLimits.from_url(up.url, fail_fast_s=1.0)
    limiter = limits.limiter(_name(), Limit(per_minute=60, burst=5))
    assert limiter.hit("a").allowed
    up.pause()
    try:
        started = time.monotonic()
        with pytest.raises(RateLimitUnavailable, match="TimeoutError"):
            limiter.hit("a")
        assert 0.4 < time.monotonic() - started < 1.0, "the 0.5 s read timeout, not a hang"
        started = time.monotonic()
        with pytest.raises(RateLimitUnavailable, match=r"failed [0-9.]+s ago"):
            limiter.hit("a")
        assert time.monotonic() - started < 0.05, "fails at once after a failure"
    finally:
        up.resume()
    time.sleep(1.05)
    assert limiter.hit("a").allowed, "tried again after the fail-fast time"
    limits.close()
