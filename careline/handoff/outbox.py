"""Delivering stored tickets to an external helpdesk: the outbox worker's logic.

`HelpdeskOutbox.deliver_due` sends what is due with a timeout, an `Idempotency-Key` header (the
helpdesk can drop repeats), and on failure schedules the next try with exponential backoff;
`python -m careline.handoff` runs it as a worker process.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Optional, Tuple

import requests
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from careline.db import OutboxMessage
from careline.shared import utcnow

logger = logging.getLogger(__name__)


#: How long a claimed message is left alone beyond twice the HTTP timeout (then another try may claim it).
CLAIM_MARGIN_S = 30.0


@dataclass(frozen=True)
class _Claimed:
    """An outbox message taken out of the store for one delivery attempt."""

    id: int
    payload: str
    idempotency_key: str


class HelpdeskOutbox:
    """Delivers queued tickets to the helpdesk webhook, retrying with backoff until it answers."""

    def __init__(self, engine: Engine, url: str, timeout_s: float = 5.0, max_backoff_s: float = 300.0,
                 http: Optional[requests.Session] = None, now: Callable[[], datetime] = utcnow) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"helpdesk URL must be http(s), got {url!r}")
        self._sessions = sessionmaker(bind=engine, future=True)
        self._url = url
        self._timeout = timeout_s
        self._max_backoff = max_backoff_s
        self._http = http or requests.Session()
        self._now = now

    def backoff(self, attempts: int) -> timedelta:
        return timedelta(seconds=min(self._max_backoff, 2 ** min(attempts, 16)))

    def deliver_due(self, limit: int = 20) -> Tuple[int, int]:
        """Try every message that is due; return (delivered, failed).

        No transaction is open during an HTTP call (on SQLite a write transaction is the whole
        store's write lock): each message is claimed in a short transaction, which moves its next
        try past the call so that another worker leaves it alone, then sent, then its result is
        recorded in another short transaction. A crash in between means one more try once the
        claim runs out, with the same Idempotency-Key, so the helpdesk still keeps it once.
        """
        delivered = failed = 0
        for _ in range(limit):
            message = self._claim_next()
            if message is None:
                break
            error = self._send(message)
            self._record(message.id, error)
            delivered, failed = (delivered + 1, failed) if error is None else (delivered, failed + 1)
        return delivered, failed

    def _claim_next(self) -> Optional[_Claimed]:
        with self._sessions() as session, session.begin():
            message = session.execute(
                sa.select(OutboxMessage).where(OutboxMessage.delivered_at.is_(None),
                                               OutboxMessage.next_attempt_at <= self._now())
                .order_by(OutboxMessage.id).limit(1).with_for_update(skip_locked=True)
            ).scalar_one_or_none()
            if message is None:
                return None
            message.next_attempt_at = self._now() + timedelta(seconds=2 * self._timeout + CLAIM_MARGIN_S)
            return _Claimed(message.id, message.payload, message.idempotency_key)

    def _record(self, message_id: int, error: Optional[str]) -> None:
        with self._sessions() as session, session.begin():
            message = session.get(OutboxMessage, message_id)
            if message is None:
                return
            message.attempts += 1
            if error is None:
                message.delivered_at = message.delivered_at or self._now()
                message.last_error = None
            else:
                message.next_attempt_at = self._now() + self.backoff(message.attempts)
                message.last_error = error[:1000]

    def _send(self, message: _Claimed) -> Optional[str]:
        try:
            response = self._http.post(
                self._url, data=message.payload, timeout=self._timeout,
                headers={"Content-Type": "application/json", "Idempotency-Key": message.idempotency_key},
            )
        except requests.RequestException as error:
            return f"{type(error).__name__}: {error}"
        if 200 <= response.status_code < 300 or response.status_code == 409:
            return None
        return f"HTTP {response.status_code}: {response.text[:200]}"

    def pending(self) -> int:
        with self._sessions() as session:
            waiting: int = session.execute(sa.select(sa.func.count(OutboxMessage.id))
                                           .where(OutboxMessage.delivered_at.is_(None))).scalar_one()
            return waiting
