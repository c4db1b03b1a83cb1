"""What every channel shares: the message gate built from settings, and the caller's address.

The limits are one budget for all Rasa servers when CARELINE_REDIS_URL is set (the prod profile sets
it): their buckets are in Redis (careline.shared.redis_limits), and a limiter raises
RateLimitUnavailable while Redis does not answer, which each channel answers politely (never
unlimited). Without it they are this process's, in memory.
"""
from __future__ import annotations

import asyncio
import logging
import re
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any, AsyncIterator, Dict, List, Optional

from careline.access import messenger, webchat
from careline.shared.ratelimit import Limit, LogThrottle, MessageGate, RateLimiter
from careline.shared.unavailable import Unavailable
from careline.shared.redis_limits import LOG_EVERY_S, RedisLimits
from careline.shared.settings import Settings, load_settings

#: Sender ids other channels own: a REST caller may not write into a web or Messenger conversation.
RESERVED_PREFIXES = (webchat.SENDER_PREFIX, messenger.SENDER_PREFIX)
SENDER_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")

logger = logging.getLogger(__name__)
_refusals: Dict[str, LogThrottle] = {}


@lru_cache(maxsize=1)
def settings() -> Settings:
    return load_settings()


def _per_address(per_minute: float) -> Limit:
    """A client address's budget: `per_minute`, with a burst of half a minute's worth (at least 5)."""
    return Limit(per_minute, burst=max(5, int(per_minute // 2)))


@lru_cache(maxsize=1)
def shared_limits() -> Optional[RedisLimits]:
    """The Redis server that holds every server's buckets (CARELINE_REDIS_URL), or None: in memory."""
    url = settings().redis_url
    return RedisLimits.from_url(url) if url else None


def limiter(name: str, limit: Limit) -> RateLimiter:
    """The limiter `name`: shared in Redis when there is one, else this process's own."""
    shared = shared_limits()
    return shared.limiter(name, limit) if shared is not None else RateLimiter(limit)


@lru_cache(maxsize=1)
def gate() -> MessageGate:
    """One gate per process (shared by all with Redis), so a sender's limit holds across channels."""
    current = settings()
    return MessageGate(
        max_chars=current.max_message_chars,
        per_sender=Limit(current.sender_per_minute, burst=max(3, int(current.sender_per_minute // 2))),
        per_address=_per_address(current.address_per_minute),
        limiters=lambda kind, limit: limiter(f"gate_{kind}", limit),
    )


@lru_cache(maxsize=1)
def reads() -> RateLimiter:
    """Reads of stored conversations (REST's GET /messages, web session requests), per client address.

    A budget apart from the message gate's.
    """
    return limiter("reads", _per_address(settings().address_per_minute))


@lru_cache(maxsize=1)
def seen_writes() -> RateLimiter:
    """The website widget's `seen` marks written for one client address (each one a store write).

    A budget apart from the others; a conversation's own marks are paced by careline.access.seen_marks.
    """
    return limiter("seen_writes", _per_address(settings().address_per_minute))


def retry_after(error: Unavailable) -> Dict[str, str]:
    """The Retry-After header for a request refused because the limits are unavailable."""
    return {"Retry-After": str(max(1, round(error.retry_after_s)))}


def report_unavailable(channel: str, what: str, error: Unavailable) -> None:
    """Log that `channel` refused `what` because a shared part is unavailable: one line per channel every 10 s."""
    throttle = _refusals.setdefault(channel, LogThrottle(LOG_EVERY_S))
    left_out = throttle.due()
    if left_out is not None:
        more = f" ({left_out} more since the last line)" if left_out else ""
        logger.error("%s: %s refused with a polite 'try again': %s%s", channel, what, error.detail, more)


class ArrivalOrder:
    """Messages of one conversation (or one socket) handled in the order they arrived at this process.

    A turn is taken before the handler's first `await`, and asyncio's lock wakes its waiters first come
    first served, so a later message cannot overtake an earlier one while that one waits for a rate-limit
    check in a thread or for the store. Across Rasa servers, the lock store's tickets keep the order.
    """

    def __init__(self) -> None:
        self._turns: Dict[str, List[Any]] = {}   # key -> [asyncio.Lock, holders and waiters]

    @asynccontextmanager
    async def turn(self, key: str) -> AsyncIterator[None]:
        entry = self._turns.setdefault(key, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if not entry[1]:
                self._turns.pop(key, None)

    def __len__(self) -> int:
        return len(self._turns)


@lru_cache(maxsize=1)
def arrivals() -> ArrivalOrder:
    """One arrival order per process, shared by the channels."""
    return ArrivalOrder()


def client_address(request: Any) -> str:
    """The caller's address: the one the prod profile's nginx vouches for (a `Forwarded` header with the
    secret the Rasa servers know, which Sanic puts in `remote_addr`), else the connecting peer's."""
    if request is None:
        return "unknown"
    return str(getattr(request, "remote_addr", "") or getattr(request, "ip", "") or "unknown")


def sender_problem(sender: Any) -> Optional[str]:
    """Why `sender` cannot name a conversation, or None when it can."""
    if not isinstance(sender, str) or not sender:
        return "a 'sender' string is required (there is no default conversation)"
    if not SENDER_PATTERN.match(sender):
        return "'sender' must be 1-128 letters, digits or . _ : @ - and start with a letter or digit"
    if sender.startswith(RESERVED_PREFIXES):
        return (f"'sender' may not start with {' or '.join(RESERVED_PREFIXES)} "
                "(those conversations belong to other channels)")
    return None
