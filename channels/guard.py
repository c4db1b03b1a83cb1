"""What every channel shares: the message gate built from settings, and the caller's address."""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Optional

from careline.access import messenger, webchat
from careline.shared.ratelimit import Limit, MessageGate, RateLimiter
from careline.shared.settings import Settings, load_settings

#: Sender ids other channels own: a REST caller may not write into a web or Messenger conversation.
RESERVED_PREFIXES = (webchat.SENDER_PREFIX, messenger.SENDER_PREFIX)
SENDER_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")


@lru_cache(maxsize=1)
def settings() -> Settings:
    return load_settings()


def _per_address(per_minute: float) -> Limit:
    """A client address's budget: `per_minute`, with a burst of half a minute's worth (at least 5)."""
    return Limit(per_minute, burst=max(5, int(per_minute // 2)))


@lru_cache(maxsize=1)
def gate() -> MessageGate:
    """One gate per process, so a sender's limit holds across channels."""
    current = settings()
    return MessageGate(
        max_chars=current.max_message_chars,
        per_sender=Limit(current.sender_per_minute, burst=max(3, int(current.sender_per_minute // 2))),
        per_address=_per_address(current.address_per_minute),
    )


@lru_cache(maxsize=1)
def reads() -> RateLimiter:
    """Reads of stored conversations (REST's GET /messages, web session requests), per client address.

    A budget apart from the message gate's.
    """
    return RateLimiter(_per_address(settings().address_per_minute))


@lru_cache(maxsize=1)
def seen_writes() -> RateLimiter:
    """The website widget's `seen` marks written for one client address (each one a store write).

    A budget apart from the others; a conversation's own marks are paced by careline.access.seen_marks.
    """
    return RateLimiter(_per_address(settings().address_per_minute))


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
