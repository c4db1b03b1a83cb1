"""The transactional outbox: the columns every outbox table shares and the one delivery loop over them.

Helpdesk tickets, emails and warehouse orders are each a table of messages to the outside world,
written in the same transaction as what they announce (or swept from it), and kept until they
were delivered. `Outbox.deliver_due` delivers what is due, the same way for all of them:

1. claim one row in a short transaction, moving its next try past the send (so that another
   worker leaves it alone while this one is sending);
2. send with no transaction open (on SQLite a write transaction is the whole store's write lock);
3. record the result in another short transaction: delivered (with what the receiver answered,
   through `on_delivered`), or the next try after an exponential backoff.

A crash between 2 and 3 means one more try once the claim runs out, with the same idempotency
key, so a receiver that honours it keeps the message once. Nothing is dropped after many tries:
a message waits, with its last error, until the receiver takes it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Generic, NamedTuple, Optional, TypeVar

import requests
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from careline.db.engine import UTCDateTime
from careline.shared import utcnow

P = TypeVar("P")  # what a claimed row carries to the send (read inside the claim's transaction)
R = TypeVar("R")  # what the receiver answered to a delivery

#: The longest backoff between two tries, in seconds.
MAX_BACKOFF_S = 300.0
#: How long a claimed row is left alone beyond the longest a send may take (then another try may claim it).
CLAIM_MARGIN_S = 30.0


class OutboxColumns:
    """The delivery state of an outbox row (a declarative mixin: each table gets its own columns)."""

    attempts = sa.Column(sa.Integer, nullable=False, default=0)
    next_attempt_at = sa.Column(UTCDateTime, nullable=False)
    delivered_at = sa.Column(UTCDateTime, index=True)
    last_error = sa.Column(sa.Text)


@dataclass(frozen=True)
class Sent(Generic[R]):
    """What one try gave: no `error` when the receiver took the message, and what it answered."""

    error: Optional[str] = None
    receipt: Optional[R] = None


class Tally(NamedTuple):
    """Messages delivered and tries that failed in one call of `deliver_due`."""

    delivered: int
    failed: int


def backoff(attempts: int, max_backoff_s: float = MAX_BACKOFF_S) -> timedelta:
    """How long to wait after `attempts` failed tries: 2, 4, 8 ... seconds, at most `max_backoff_s`."""
    return timedelta(seconds=min(max_backoff_s, 2 ** min(attempts, 16)))


def post_webhook(http: requests.Session, url: str, body: str, key: str, timeout_s: float) -> Sent[requests.Response]:
    """POST a JSON `body` to a webhook with `Idempotency-Key: key` (every try of a message carries the
    same key, so the receiver can drop repeats). 2xx, and 409 (the receiver has it already), deliver."""
    try:
        response = http.post(url, data=body, timeout=timeout_s,
                             headers={"Content-Type": "application/json", "Idempotency-Key": key})
    except requests.RequestException as error:
        return Sent(error=f"{type(error).__name__}: {error}")
    if 200 <= response.status_code < 300 or response.status_code == 409:
        return Sent(receipt=response)
    return Sent(error=f"HTTP {response.status_code}: {response.text[:200]}")


class Outbox(Generic[P, R]):
    """Delivers the due rows of one outbox table (a model with `OutboxColumns` and an `id`)."""

    def __init__(self, engine: Engine, table: Any, *, read: Callable[[Any], P], send: Callable[[P], Sent[R]],
                 send_timeout_s: float, max_backoff_s: float = MAX_BACKOFF_S, now: Callable[[], datetime] = utcnow,
                 on_delivered: Optional[Callable[[Session, Any, Optional[R]], None]] = None) -> None:
        """`read` turns a claimed row into what `send` needs (plain values: the row's session is closed
        by then); `send_timeout_s` is the longest a send may take; `on_delivered(session, row, receipt)`
        runs in the transaction that records a delivery (e.g. to keep a tracking number)."""
        self._sessions = sessionmaker(bind=engine, future=True)
        self._table = table
        self._read = read
        self._send = send
        self._claim = timedelta(seconds=2 * send_timeout_s + CLAIM_MARGIN_S)
        self._max_backoff = max_backoff_s
        self._now = now
        self._on_delivered = on_delivered

    def backoff(self, attempts: int) -> timedelta:
        return backoff(attempts, self._max_backoff)

    def deliver_due(self, limit: int = 20) -> Tally:
        """Try at most `limit` rows that are due, oldest first."""
        delivered = failed = 0
        for _ in range(limit):
            claimed = self._claim_next()
            if claimed is None:
                break
            row_id, payload = claimed
            result = self._send(payload)
            self._record(row_id, result)
            if result.error is None:
                delivered += 1
            else:
                failed += 1
        return Tally(delivered, failed)

    def _claim_next(self) -> Optional[tuple[int, P]]:
        table = self._table
        with self._sessions() as session, session.begin():
            row = session.execute(
                sa.select(table).where(table.delivered_at.is_(None), table.next_attempt_at <= self._now())
                .order_by(table.id).limit(1).with_for_update(skip_locked=True)
            ).scalar_one_or_none()
            if row is None:
                return None
            row.next_attempt_at = self._now() + self._claim
            return int(row.id), self._read(row)

    def _record(self, row_id: int, result: Sent[R]) -> None:
        with self._sessions() as session, session.begin():
            row = session.get(self._table, row_id)
            if row is None:
                return
            row.attempts += 1
            if result.error is None:
                first = row.delivered_at is None
                row.delivered_at = row.delivered_at or self._now()
                row.last_error = None
                if first and self._on_delivered is not None:
                    self._on_delivered(session, row, result.receipt)
            else:
                row.next_attempt_at = self._now() + self.backoff(row.attempts)
                row.last_error = result.error[:1000]

    def pending(self) -> int:
        """Rows not delivered yet."""
        with self._sessions() as session:
            waiting: int = session.execute(sa.select(sa.func.count(self._table.id))
                                           .where(self._table.delivered_at.is_(None))).scalar_one()
            return waiting
