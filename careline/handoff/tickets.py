"""Handoff tickets in the store, and their delivery to an external helpdesk through an outbox.

Opening a ticket writes the ticket and its outbox message in one transaction, so a ticket
is never lost and never sent without being stored. `HelpdeskOutbox.deliver_due` sends what
is due with a timeout, an `Idempotency-Key` header (the helpdesk can drop repeats), and on
failure schedules the next try with exponential backoff; `python -m careline.handoff.tickets` runs
it as a worker.
"""
from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Dict, List, Optional, Tuple

import requests
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from careline.db import DecisionRecord, Order, OutboxMessage, Ticket
from careline.handoff.ticket import HandoffLimits, TicketDraft
from careline.shared import utcnow

logger = logging.getLogger(__name__)
HELPDESK = "helpdesk"


@dataclass(frozen=True)
class OpenedTicket:
    id: int
    queue_position: int
    created: bool


def ticket_payload(ticket: Ticket, draft: TicketDraft) -> Dict[str, Any]:
    """The JSON the helpdesk receives (already redacted)."""
    return {
        "ticket_id": ticket.id,
        "conversation_id": draft.conversation_id,
        "channel": draft.channel,
        "reason": draft.reason,
        "priority": draft.priority,
        "summary": draft.summary,
        "customer": draft.facts.customer_name,
        "order_number": draft.facts.order_number,
        "intents": draft.intents,
        "frustration": draft.frustration,
        "decisions": [dict(d) for d in draft.facts.decisions],
        "transcript": [asdict(line) for line in draft.transcript],
        "created_at": ticket.created_at.isoformat(timespec="seconds"),
    }


class TicketService:
    def __init__(self, engine: Engine, now: Callable[[], datetime] = utcnow) -> None:
        self._sessions = sessionmaker(bind=engine, future=True, expire_on_commit=False)
        self._now = now

    def open(self, draft: TicketDraft, idempotency_key: str, customer_id: Optional[int] = None,
             client: Optional[str] = None) -> OpenedTicket:
        """Store the ticket and queue it for the helpdesk; the same key opens it only once.

        The ticket links the verified order named in `draft.facts`, if any, and remembers the
        client (network address) that opened it, so that a flood of handoffs can be limited.
        """
        with self._sessions() as session:
            existing = session.execute(sa.select(Ticket).where(Ticket.idempotency_key == idempotency_key)
                                       ).scalar_one_or_none()
            if existing:
                return OpenedTicket(existing.id, self._position(session, existing), created=False)
            active = session.execute(sa.select(Ticket).where(
                Ticket.conversation_id == draft.conversation_id, Ticket.status.in_(("open", "assigned")))
                .order_by(Ticket.id)).scalars().first()
            if active:  # one conversation waits in the queue once (a /restart and a new handoff too)
                return OpenedTicket(active.id, self._position(session, active), created=False)
            order_id = None
            if draft.facts.order_number:
                order_id = session.execute(sa.select(Order.id).where(Order.number == draft.facts.order_number)
                                           ).scalar_one_or_none()
            ticket = Ticket(
                idempotency_key=idempotency_key, conversation_id=draft.conversation_id, channel=draft.channel,
                status="open", reason=draft.reason, priority=draft.priority, summary=draft.summary,
                customer_id=customer_id, order_id=order_id,
                transcript=json.dumps([asdict(line) for line in draft.transcript]),
                intents=json.dumps(draft.intents), frustration=json.dumps(draft.frustration),
                decisions=json.dumps([dict(d) for d in draft.facts.decisions]), created_at=self._now(),
                client=(client or "")[:128] or None,
            )
            session.add(ticket)
            session.flush()
            session.add(OutboxMessage(
                ticket_id=ticket.id, destination=HELPDESK, payload=json.dumps(ticket_payload(ticket, draft)),
                idempotency_key=f"ticket-{ticket.id}-{idempotency_key}"[:160], attempts=0,
                next_attempt_at=self._now(),
            ))
            session.commit()
            return OpenedTicket(ticket.id, self._position(session, ticket), created=True)

    def may_open(self, conversation_id: str, client: str, limits: HandoffLimits) -> bool:
        """False when `client` opened too many tickets lately and this conversation has none open."""
        since = self._now() - timedelta(minutes=limits.window_minutes)
        with self._sessions() as session:
            mine = session.execute(sa.select(sa.func.count(Ticket.id)).where(
                Ticket.conversation_id == conversation_id, Ticket.status.in_(("open", "assigned")))).scalar_one()
            if mine:
                return True
            recent = session.execute(sa.select(sa.func.count(Ticket.id)).where(
                Ticket.client == client, Ticket.created_at > since)).scalar_one()
        return recent < limits.max_tickets_per_client

    def decisions_for(self, conversation_id: str) -> List[Dict[str, Any]]:
        """The policy decisions made in a conversation, oldest first, for the ticket."""
        with self._sessions() as session:
            rows = session.execute(sa.select(DecisionRecord).where(DecisionRecord.conversation_id == conversation_id)
                                   .order_by(DecisionRecord.id)).scalars()
            return [{"kind": r.kind, "outcome": r.outcome, "rule": r.rule, "amount": r.amount_cents / 100,
                     "reference": r.reference} for r in rows]

    @staticmethod
    def _position(session: Session, ticket: Ticket) -> int:
        """1 + open tickets that a person would take first (higher priority, or older at the same)."""
        ahead = session.execute(
            sa.select(sa.func.count(Ticket.id)).where(
                Ticket.status == "open", Ticket.id != ticket.id,
                sa.or_(Ticket.priority > ticket.priority,
                       sa.and_(Ticket.priority == ticket.priority, Ticket.id < ticket.id)),
            )
        ).scalar_one()
        return ahead + 1


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
            return session.execute(sa.select(sa.func.count(OutboxMessage.id))
                                   .where(OutboxMessage.delivered_at.is_(None))).scalar_one()


def main() -> int:  # pragma: no cover - run as a process by the supervisor and the end-to-end tests
    from careline.db import make_engine
    from careline.shared import load_settings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s outbox %(message)s")
    settings = load_settings()
    if not settings.helpdesk_url:
        print("outbox: CARELINE_HELPDESK_URL is not set; tickets stay in the store", file=sys.stderr)
        return 2
    outbox = HelpdeskOutbox(make_engine(settings.store_db_url), settings.helpdesk_url)
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    logger.info("delivering tickets to %s", settings.helpdesk_url)
    while True:
        delivered, failed = outbox.deliver_due()
        if delivered or failed:
            logger.info("delivered %d, failed %d, pending %d", delivered, failed, outbox.pending())
        settings.outbox_heartbeat.touch()
        time.sleep(1.0)


if __name__ == "__main__":
    sys.exit(main())
