"""Rate limits shared by every process (several Rasa servers behind nginx): token buckets in Redis.

The same buckets as careline.shared.ratelimit.RateLimiter (up to `burst` tokens, refilled at
`per_minute / 60` a second, one taken per hit), kept in Redis so that a customer's budget is one
budget however many servers answer them. Each operation is one Lua script (EVALSHA, loaded again
when Redis has forgotten it, e.g. after a restart), so it is atomic across processes, and its
clock is the Redis server's (TIME), so servers whose clocks disagree still agree on every bucket.
A bucket lives in the hash `careline:rl:<limiter name>:<key>` ({tokens, seen}) and expires when it
would be full again anyway, so idle keys vanish without changing any answer.

When Redis fails (refuses connections, times out, any Redis error) a limiter raises
RateLimitUnavailable: at once when Redis refuses, within its 0.5 s timeouts when it hangs. Callers
refuse the request, never let it through unlimited. After a failure, calls fail at once for
FAIL_FAST_S (a hung Redis does not stall every turn), then Redis is tried again. Failures are
logged as one line at most every LOG_EVERY_S, with the number left out, and the first success
after them is logged too.
"""
from __future__ import annotations

import hashlib
import logging
import math
import re
import threading
import time
from typing import Any, Callable, List, Optional
from urllib.parse import urlsplit, urlunsplit

import redis  # type: ignore[import-untyped]  # no py.typed in redis 4.6

from redis.backoff import NoBackoff  # type: ignore[import-untyped]
from redis.retry import Retry  # type: ignore[import-untyped]

from careline.shared.ratelimit import Limit, LogThrottle, RateLimitUnavailable, RateLimiter, Verdict

logger = logging.getLogger(__name__)

PREFIX = "careline:rl"
#: Seconds to connect to Redis and to wait for each answer.
TIMEOUT_S = 0.5
#: After a failure, calls fail at once for this long before Redis is tried again.
FAIL_FAST_S = 1.0
#: At most one log line about failures this often.
LOG_EVERY_S = 10.0
#: The Retry-After a caller refused because of the failure suggests.
RETRY_AFTER_S = 10.0
#: Keys longer than this are stored by their SHA-256 (a Redis key stays small whatever a client sends).
MAX_KEY_CHARS = 200
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

# Shared by the scripts: the Redis server's time in seconds, and the bucket refilled up to it.
_NOW_AND_BUCKET = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'seen')
local tokens = tonumber(state[1])
local seen = tonumber(state[2])
if tokens == nil or seen == nil then
  tokens = burst
  seen = now
end
tokens = math.min(burst, tokens + math.max(0, now - seen) * rate)
"""

# KEYS[1] the bucket; ARGV burst, rate (tokens a second), ttl (ms). Returns {allowed 0|1, tokens left}.
HIT = _NOW_AND_BUCKET + """
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'seen', string.format('%.6f', now))
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
return {allowed, string.format('%.17g', tokens)}
"""

# KEYS[1] the bucket; ARGV burst, rate. Returns 1 while it has no token left (nothing is taken).
BLOCKED = _NOW_AND_BUCKET + """
if tokens < 1 then
  return 1
end
return 0
"""

# KEYS[1] the bucket; ARGV burst. One token back (never above the burst) if the bucket exists.
GIVE_BACK = """
local tokens = tonumber(redis.call('HGET', KEYS[1], 'tokens'))
if tokens ~= nil then
  redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', math.min(tonumber(ARGV[1]), tokens + 1)))
end
return 0
"""


def safe_url(url: str) -> str:
    """`url` without its user name and password (for log lines and error messages)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class RedisLimits:
    """One Redis server holding the buckets of every shared limiter of a process (thread-safe).

    Nothing connects until the first limiter is used.
    """

    def __init__(self, client: redis.Redis, where: str, timeout_s: float = TIMEOUT_S,
                 fail_fast_s: float = FAIL_FAST_S, log_every_s: float = LOG_EVERY_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.where = where
        self.timeout_s = timeout_s
        self._client = client
        self._fail_fast_s = fail_fast_s
        self._clock = clock
        self._scripts = {name: client.register_script(source)
                         for name, source in (("hit", HIT), ("blocked", BLOCKED), ("give_back", GIVE_BACK))}
        self._failed_at: Optional[float] = None
        self._failure = ""
        self._lock = threading.Lock()
        self._log = LogThrottle(log_every_s, clock=clock)

    @classmethod
    def from_url(cls, url: str, timeout_s: float = TIMEOUT_S, **kwargs: Any) -> RedisLimits:
        """Limits on the Redis server at `url` (redis://[:password@]host:port/db), with short timeouts."""
        client: redis.Redis = redis.Redis.from_url(
            url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s,
            # once more on a fresh connection after a broken one (Redis restarted), never after a timeout
            retry=Retry(NoBackoff(), 1), retry_on_error=[redis.ConnectionError])
        return cls(client, safe_url(url), timeout_s=timeout_s, **kwargs)

    def limiter(self, name: str, limit: Limit) -> RedisRateLimiter:
        """The shared limiter `name` (its keys are `careline:rl:<name>:<key>`)."""
        return RedisRateLimiter(self, name, limit)

    def close(self) -> None:
        self._client.close()

    def run(self, script: str, name: str, keys: List[str], args: List[Any]) -> Any:
        """Run one of the scripts; RateLimitUnavailable when Redis does not answer."""
        with self._lock:
            failed_at, failure = self._failed_at, self._failure
        if failed_at is not None and self._clock() - failed_at < self._fail_fast_s:
            raise RateLimitUnavailable(f"rate limit {name!r} unavailable: Redis at {self.where} failed "
                                       f"{self._clock() - failed_at:.1f}s ago ({failure})", RETRY_AFTER_S)
        try:
            answer = self._scripts[script](keys=keys, args=args)
        except (redis.RedisError, OSError) as error:
            self._failed(name, error)
            raise RateLimitUnavailable(f"rate limit {name!r} unavailable: Redis at {self.where} failed "
                                       f"({_describe(error)})", RETRY_AFTER_S) from error
        if failed_at is not None:
            self._recovered()
        return answer

    def _failed(self, name: str, error: BaseException) -> None:
        with self._lock:
            self._failed_at, self._failure = self._clock(), _describe(error)
        left_out = self._log.due()
        if left_out is not None:
            more = f"; {left_out} more failures since the last line" if left_out else ""
            logger.error("rate limits unavailable: Redis at %s failed for %r (%s): messages are refused until it "
                         "answers; is it running, and is CARELINE_REDIS_URL right? (`make redis` installs it)%s",
                         self.where, name, _describe(error), more)

    def _recovered(self) -> None:
        with self._lock:
            if self._failed_at is None:
                return
            self._failed_at, self._failure = None, ""
        logger.warning("rate limits: Redis at %s answers again", self.where)


def _describe(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class RedisRateLimiter(RateLimiter):
    """A RateLimiter whose buckets are in Redis, shared by every process using the same name.

    A RateLimiter wherever one is expected (it keeps nothing in memory). Every method raises
    RateLimitUnavailable when Redis does not answer.
    """

    def __init__(self, limits: RedisLimits, name: str, limit: Limit) -> None:
        if not NAME_PATTERN.match(name):
            raise ValueError(f"a shared limiter's name is 1-64 lowercase letters, digits or _, got {name!r}")
        super().__init__(limit, max_keys=1)
        self.name = name
        self._limits = limits
        self._burst = str(limit.burst)
        self._rate_arg = repr(self._rate)
        full_ms = math.ceil(limit.burst / self._rate * 1000)  # an idle bucket is full again after this
        self._ttl_ms = str(full_ms + 1000)

    def key(self, key: str) -> str:
        """The Redis key of `key`'s bucket."""
        if len(key) > MAX_KEY_CHARS:
            key = "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
        return f"{PREFIX}:{self.name}:{key}"

    def hit(self, key: str) -> Verdict:
        allowed, tokens = self._limits.run("hit", self.name, [self.key(key)], [self._burst, self._rate_arg,
                                                                             self._ttl_ms])
        if int(allowed):
            return Verdict(True)
        return Verdict(False, max(0.0, (1.0 - float(tokens)) / self._rate))

    def blocked(self, key: str) -> bool:
        return bool(int(self._limits.run("blocked", self.name, [self.key(key)], [self._burst, self._rate_arg])))

    def give_back(self, key: str) -> None:
        self._limits.run("give_back", self.name, [self.key(key)], [self._burst])
