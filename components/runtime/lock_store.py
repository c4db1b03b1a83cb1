"""Careline's lock store: one conversation is handled by one Rasa server at a time, messages in arrival order.

Rasa serialises the messages of a conversation with ticket locks: each message draws a ticket and waits
until the tickets before it are served. With several Rasa servers the locks must live in Redis. Rasa's
RedisLockStore reads a lock, changes it in Python and writes it back, so two servers drawing a ticket at the
same moment can both get the same number and handle one conversation at once (events stored twice or out of
order); and a waiting message looks again only once a second. This store:

- changes every lock atomically (Redis WATCH/MULTI: a change that raced with another is redone);
- polls every POLL_S (20 ms) instead of every second;
- uses Redis when CARELINE_REDIS_URL is set (the prod profile), else the process's memory (one server);
- when Redis does not answer, fails the message with LockStoreUnavailable (a LockError) that says so; it
  never falls back to memory, where two servers could cross one conversation.

endpoints.yml: `lock_store: {type: components.runtime.lock_store.CarelineLockStore}`.
"""
from __future__ import annotations

import json
import logging
import os
from contextlib import asynccontextmanager
from typing import Any, AsyncGenerator, Callable, Dict, Optional, Tuple, TypeVar

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, LockStore

from careline.shared.redis_limits import safe_url
from careline.shared.unavailable import Unavailable

logger = logging.getLogger(__name__)

POLL_S = 0.02
REDIS_TIMEOUT_S = 2.0
KEY_PREFIX = "careline:lock:"
T = TypeVar("T")
Change = Callable[[Optional[TicketLock]], Tuple[Optional[TicketLock], T]]


class LockStoreUnavailable(LockError, Unavailable):
    """The lock store (Redis) did not answer: the message is not handled rather than handled unlocked."""

    part = "the conversation locks"

    def __init__(self, detail: str) -> None:
        LockError.__init__(self, detail)
        Unavailable.__init__(self, detail)


class CarelineLockStore(LockStore):
    """See the module docstring."""

    def __init__(self, endpoint_config: Any = None, url: Optional[str] = None) -> None:
        self.url = url if url is not None else os.environ.get("CARELINE_REDIS_URL", "").strip()
        self._memory: Dict[str, str] = {}
        self._redis: Any = None
        if self.url:
            import redis  # type: ignore[import-untyped]

            self._redis = redis.Redis.from_url(self.url, socket_timeout=REDIS_TIMEOUT_S,
                                               socket_connect_timeout=REDIS_TIMEOUT_S, health_check_interval=30)
        super().__init__()

    @property
    def where(self) -> str:
        return f"Redis at {safe_url(self.url)}" if self._redis is not None else "this process's memory"

    # --- storage -------------------------------------------------------------------------------------

    def _change(self, conversation_id: str, change: Change[T]) -> T:
        """Apply `change` to the conversation's lock atomically; a lock changed to None is deleted."""
        key = KEY_PREFIX + conversation_id
        if self._redis is None:
            lock, result = change(_parse(self._memory.get(key)))
            if lock is None:
                self._memory.pop(key, None)
            else:
                self._memory[key] = lock.dumps()
            return result
        import redis

        try:
            with self._redis.pipeline() as pipe:
                while True:
                    try:
                        pipe.watch(key)
                        lock, result = change(_parse(pipe.get(key)))
                        pipe.multi()
                        if lock is None:
                            pipe.delete(key)
                        else:
                            pipe.set(key, lock.dumps(), ex=int(LOCK_LIFETIME * 10))
                        pipe.execute()
                        return result
                    except redis.WatchError:
                        continue  # another server changed the lock meanwhile: redo with its version
        except redis.RedisError as error:
            logger.error("lock store: %s is not answering (%s); the message for conversation %s is refused "
                         "rather than handled without a lock", self.where, error, conversation_id)
            raise LockStoreUnavailable(f"the lock store ({self.where}) is not answering: {error}") from error

    def get_lock(self, conversation_id: str) -> Optional[TicketLock]:
        return self._change(conversation_id, lambda lock: (lock, lock))

    def delete_lock(self, conversation_id: str) -> None:
        self._change(conversation_id, lambda lock: (None, None))

    def save_lock(self, lock: TicketLock) -> None:
        self._change(lock.conversation_id, lambda _: (lock, None))

    # --- Rasa's read-change-write steps, each made atomic ---------------------------------------------

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        def draw(lock: Optional[TicketLock]) -> Tuple[Optional[TicketLock], int]:
            lock = lock or TicketLock(conversation_id)
            return lock, lock.issue_ticket(lock_lifetime)

        return self._change(conversation_id, draw)

    def update_lock(self, conversation_id: str) -> None:
        def expire(lock: Optional[TicketLock]) -> Tuple[Optional[TicketLock], None]:
            if lock is not None:
                lock.remove_expired_tickets()
            return lock, None

        self._change(conversation_id, expire)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        self.cleanup(conversation_id, ticket_number)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Serve the ticket; delete the lock when nobody waits (one atomic step, not Rasa's three)."""
        def done(lock: Optional[TicketLock]) -> Tuple[Optional[TicketLock], None]:
            if lock is None:
                return None, None
            lock.remove_ticket_for(ticket_number)
            return (lock if lock.is_someone_waiting() else None), None

        self._change(conversation_id, done)

    @asynccontextmanager
    async def lock(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME,
                   wait_time_in_seconds: float = POLL_S) -> AsyncGenerator[TicketLock, None]:
        """Rasa's ticket lock, polled every POLL_S whatever the caller asks (Rasa's default is 1 s)."""
        async with super().lock(conversation_id, lock_lifetime, min(wait_time_in_seconds, POLL_S)) as lock:
            yield lock


def _parse(raw: Optional[Any]) -> Optional[TicketLock]:
    if not raw:
        return None
    return TicketLock.from_dict(json.loads(raw))
