"""Handoff tickets in the store.

Opening a ticket writes the ticket and its outbox message in one transaction, so a ticket
is never lost and never sent without being stored; `outbox.py` delivers the messages.
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Dict, List, Optional, Tuple

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from careline.db import Agent, DecisionRecord, Order, OutboxMessage, Ticket, TicketEvent
from careline.handoff.ticket import HandoffLimits, TicketDraft
from careline.handoff.waiting import HandledSpan
from careline.shared import utcnow

logger = logging.getLogger(__name__)
HELPDESK = "helpdesk"


ACTIVE = ("open", "assigned")
CONTACT_EMAIL = "contact_email"   # a TicketEvent: the email the customer left while waiting
#: The different addresses one ticket takes from the chat (a typo and its fix fit; a list of strangers
#: to email does not: the unseen-reply emails go to the latest, careline.notify.unseen_replies).
MAX_CONTACTS = 3


@dataclass(frozen=True)
class OpenedTicket:
    id: int
    queue_position: int
    created: bool


@dataclass(frozen=True)
class TicketState:
    """A conversation's latest ticket as the customer's side needs it."""

    id: int
    status: str                      # open, assigned, resolved or closed
    queue_position: int              # 0 unless open
    agent_name: Optional[str]        # who took it or finished it
    last_agent_reply: Optional[datetime]
    contact_email: Optional[str]
    revision: Tuple[int, int] = (0, 0)  # TicketService.revision, read before the rest

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


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
            recent: int = session.execute(sa.select(sa.func.count(Ticket.id)).where(
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
        ahead: int = session.execute(
            sa.select(sa.func.count(Ticket.id)).where(
                Ticket.status == "open", Ticket.id != ticket.id,
                sa.or_(Ticket.priority > ticket.priority,
                       sa.and_(Ticket.priority == ticket.priority, Ticket.id < ticket.id)),
            )
        ).scalar_one()
        return ahead + 1

    def revision(self, conversation_id: str) -> Tuple[int, int]:
        """How far the conversation's tickets have come: (how many it has, how many events they have). Every
        change a customer sees is a new ticket or a TicketEvent (take, reply, hand back, close, a contact
        left), and neither is ever deleted, so it grows with every commit, in the order of the commits (ids
        would not: PostgreSQL hands them out at insert), and says nothing of other conversations.
        (0, 0) without a ticket.

        Read it before the state it labels: that state is then at least as new as the label says, so a
        reader that keeps the highest label never takes an older state for a newer one."""
        with self._sessions() as session:
            return self._revision(session, conversation_id)

    @staticmethod
    def _revision(session: Session, conversation_id: str) -> Tuple[int, int]:
        row = session.execute(
            sa.select(sa.func.count(sa.distinct(Ticket.id)), sa.func.count(TicketEvent.id))
            .select_from(Ticket).outerjoin(TicketEvent, TicketEvent.ticket_id == Ticket.id)
            .where(Ticket.conversation_id == conversation_id)).one()
        return int(row[0] or 0), int(row[1] or 0)

    def state(self, conversation_id: str) -> Optional[TicketState]:
        """The conversation's latest ticket: waiting (open or with a person) or finished, or None."""
        with self._sessions() as session:
            revision = self._revision(session, conversation_id)  # first: the rest is at least this new
            ticket = session.execute(sa.select(Ticket).where(Ticket.conversation_id == conversation_id)
                                     .order_by(Ticket.id.desc()).limit(1)).scalar_one_or_none()
            if ticket is None:
                return None
            agent = session.get(Agent, ticket.assigned_agent_id) if ticket.assigned_agent_id else None
            replied = session.execute(sa.select(sa.func.max(TicketEvent.created_at)).where(
                TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "reply")).scalar_one()
            contact = session.execute(sa.select(TicketEvent.detail).where(
                TicketEvent.ticket_id == ticket.id, TicketEvent.kind == CONTACT_EMAIL)
                .order_by(TicketEvent.id.desc()).limit(1)).scalar_one_or_none()
            return TicketState(ticket.id, ticket.status,
                               self._position(session, ticket) if ticket.status == "open" else 0,
                               agent.name if agent else None, replied, contact, revision)

    def leave_contact(self, ticket_id: int, email: str) -> Optional[str]:
        """Remember the email the waiting customer left (the ticket's contact now); the contact it keeps.

        A ticket takes at most MAX_CONTACTS different addresses: beyond them a new one is not kept (and
        logged) and the current contact stays; one it has already is the contact again.
        """
        email = email[:254]
        with self._sessions() as session:
            left: List[str] = list(session.execute(sa.select(TicketEvent.detail).where(
                TicketEvent.ticket_id == ticket_id, TicketEvent.kind == CONTACT_EMAIL)
                .order_by(TicketEvent.id)).scalars())
            current = left[-1] if left else None
            if email == current:
                return current
            if email not in left and len(set(left)) >= MAX_CONTACTS:
                logger.warning("ticket %s: a contact address beyond the %d it has was not kept", ticket_id,
                               MAX_CONTACTS)
                return current
            session.add(TicketEvent(ticket_id=ticket_id, agent_id=None, kind=CONTACT_EMAIL, detail=email,
                                    created_at=self._now()))
            session.commit()
            return email

    def handled_spans(self, limit: int) -> List[HandledSpan]:
        """The latest `limit` tickets people answered and finished: from the first reply to the finish."""
        with self._sessions() as session:
            # only tickets a person answered: one closed unanswered (spam, a duplicate) says nothing of handling
            rows = session.execute(sa.select(Ticket).where(Ticket.resolved_at.is_not(None),
                                                           Ticket.first_response_at.is_not(None))
                                   .order_by(Ticket.resolved_at.desc()).limit(limit)).scalars()
            return [HandledSpan(started=min(t.first_response_at, t.resolved_at), finished=t.resolved_at)
                    for t in rows]

    def agents_at_work(self, minutes: int) -> int:
        """Agents who did something in the desk (took, answered, noted, finished) in the last `minutes`."""
        since = self._now() - timedelta(minutes=minutes)
        with self._sessions() as session:
            count: int = session.execute(sa.select(sa.func.count(sa.distinct(TicketEvent.agent_id))).where(
                TicketEvent.agent_id.is_not(None), TicketEvent.created_at > since)).scalar_one()
            return count
