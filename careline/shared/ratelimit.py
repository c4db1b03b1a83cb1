"""Token-bucket rate limits keyed by sender or address, with bounded memory.

Pure and thread-safe: the clock is injectable for tests. A bucket holds up to `burst`
tokens and refills at `per_minute / 60` tokens a second; every message takes one.
`RateLimiter` keeps its buckets in this process's memory; careline.shared.redis_limits keeps the
same buckets in Redis, shared by every process (several Rasa servers), and raises
`RateLimitUnavailable` when Redis cannot answer: callers refuse the request, never let it through.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple

from careline.shared.catalogue import render
from careline.shared.events import EXTERNAL_INTENT_PREFIX
from careline.shared.unavailable import Unavailable


@dataclass(frozen=True)
class Limit:
    per_minute: float
    burst: int

    def __post_init__(self) -> None:
        if self.per_minute <= 0 or self.burst < 1:
            raise ValueError(f"a rate limit needs per_minute > 0 and burst >= 1, got {self}")


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after_s: float = 0.0


class RateLimitUnavailable(Unavailable):
    """A shared limiter's store (Redis) did not answer: refuse the request (never let it through unlimited).

    `retry_after_s` is a polite hint for the caller (a Retry-After header).
    """

    part = "the shared rate limits"


class LogThrottle:
    """At most one log line every `every_s` seconds for one kind of failure (thread-safe).

    `due()` is the number of failures left out since the last line (0 or more) when a line is due now,
    or None when this one should be left out too.
    """

    def __init__(self, every_s: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._every_s = every_s
        self._clock = clock
        self._last: Optional[float] = None
        self._left_out = 0
        self._lock = threading.Lock()

    def due(self) -> Optional[int]:
        now = self._clock()
        with self._lock:
            if self._last is not None and now - self._last < self._every_s:
                self._left_out += 1
                return None
            left_out, self._left_out, self._last = self._left_out, 0, now
            return left_out


class RateLimiter:
    """One bucket per key; the least recently seen keys are forgotten beyond `max_keys`."""

    def __init__(self, limit: Limit, max_keys: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._limit = limit
        self._rate = limit.per_minute / 60.0
        self._max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, Tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def blocked(self, key: str) -> bool:
        """True while `key` has no token left (nothing is taken)."""
        now = self._clock()
        with self._lock:
            tokens, seen = self._buckets.get(key, (float(self._limit.burst), now))
        return min(float(self._limit.burst), tokens + (now - seen) * self._rate) < 1.0

    def hit(self, key: str) -> Verdict:
        """Take one token for `key` if there is one; otherwise say how long until there is."""
        now = self._clock()
        with self._lock:
            tokens, seen = self._buckets.pop(key, (float(self._limit.burst), now))
            tokens = min(float(self._limit.burst), tokens + (now - seen) * self._rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        return Verdict(True) if allowed else Verdict(False, (1.0 - tokens) / self._rate)

    def give_back(self, key: str) -> None:
        """Return the token an allowed `hit` took (e.g. the attempt turned out to be a good one)."""
        with self._lock:
            if key in self._buckets:
                tokens, seen = self._buckets[key]
                self._buckets[key] = (min(float(self._limit.burst), tokens + 1.0), seen)


#: Makes a gate's limiter from its kind ("senders" or "addresses") and its limit.
LimiterFactory = Callable[[str, Limit], RateLimiter]


class MessageGate:
    """The checks every channel applies to a customer message before the bot sees it.

    Its limiters are in memory unless `limiters` makes them (e.g. shared ones in Redis).
    """

    def __init__(self, max_chars: int, per_sender: Limit, per_address: Limit,
                 clock: Callable[[], float] = time.monotonic, limiters: Optional[LimiterFactory] = None) -> None:
        self.max_chars = max_chars

        def in_memory(_kind: str, limit: Limit) -> RateLimiter:
            return RateLimiter(limit, clock=clock)

        make = limiters or in_memory
        self._senders = make("senders", per_sender)
        self._addresses = make("addresses", per_address)

    def check(self, sender: str, address: str, text: str) -> GateResult:
        """None-problem result when the message may go on; else the status and the polite answer.

        Raises RateLimitUnavailable when a shared limiter cannot answer (the message must not go on).
        """
        if not text.strip():
            return GateResult(400, "empty_message", render("utter_message_empty"))
        if text.lstrip().upper().startswith("/" + EXTERNAL_INTENT_PREFIX):  # only the system triggers these
            return GateResult(400, "reserved_intent", render("utter_message_empty"))
        if len(text) > self.max_chars:
            return GateResult(413, "message_too_long",
                              render("utter_message_too_long", length=len(text), limit=self.max_chars))
        for limiter, key in ((self._addresses, address), (self._senders, sender)):
            if key:
                verdict = limiter.hit(key)
                if not verdict.allowed:
                    return GateResult(429, "rate_limited", render("utter_slow_down"),
                                      retry_after_s=verdict.retry_after_s)
        return GateResult(200, "", "")


@dataclass(frozen=True)
class GateResult:
    status: int
    error: str
    reply: str
    retry_after_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == 200

    def headers(self) -> Dict[str, str]:
        return {"Retry-After": str(max(1, round(self.retry_after_s + 0.5)))} if self.status == 429 else {}
