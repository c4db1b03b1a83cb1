"""Tickets handed to people, their history, and the outbox to the external helpdesk."""
from __future__ import annotations

import sqlalchemy as sa

from careline.db.engine import Base, UTCDateTime
from careline.db.outbox import OutboxColumns


class Ticket(Base):
    """A conversation handed to a person, with everything they need to carry on."""

    __tablename__ = "tickets"

    id = sa.Column(sa.Integer, primary_key=True)
    idempotency_key = sa.Column(sa.String(160), nullable=False, unique=True)
    conversation_id = sa.Column(sa.String(128), nullable=False, index=True)
    channel = sa.Column(sa.String(40), nullable=False)
    status = sa.Column(sa.String(20), nullable=False, default="open")
    reason = sa.Column(sa.String(40), nullable=False)
    priority = sa.Column(sa.Integer, nullable=False)
    summary = sa.Column(sa.Text, nullable=False)
    customer_id = sa.Column(sa.Integer, sa.ForeignKey("customers.id"), index=True)
    order_id = sa.Column(sa.Integer, sa.ForeignKey("orders.id"))
    transcript = sa.Column(sa.Text, nullable=False)
    intents = sa.Column(sa.Text, nullable=False)
    frustration = sa.Column(sa.Text, nullable=False)
    decisions = sa.Column(sa.Text, nullable=False)
    created_at = sa.Column(UTCDateTime, nullable=False)
    closed_at = sa.Column(UTCDateTime)
    assigned_agent_id = sa.Column(sa.Integer, sa.ForeignKey("agents.id", name="fk_tickets_assigned_agent_id_agents"),
                                  index=True)
    first_response_at = sa.Column(UTCDateTime)
    resolved_at = sa.Column(UTCDateTime)
    client = sa.Column(sa.String(128), index=True)  # the network address (or sender) that opened it

    __table_args__ = (
        sa.CheckConstraint("status IN ('open', 'assigned', 'resolved', 'closed')", name="ck_ticket_status"),
    )


class TicketEvent(Base):
    """Everything a person did with a ticket (the desk's audit trail)."""

    __tablename__ = "ticket_events"

    id = sa.Column(sa.Integer, primary_key=True)
    ticket_id = sa.Column(sa.Integer, sa.ForeignKey("tickets.id"), nullable=False, index=True)
    agent_id = sa.Column(sa.Integer, sa.ForeignKey("agents.id"), index=True)
    kind = sa.Column(sa.String(20), nullable=False)
    detail = sa.Column(sa.Text, nullable=False, default="")
    created_at = sa.Column(UTCDateTime, nullable=False)


class OutboxMessage(OutboxColumns, Base):
    """A ticket for the external helpdesk, kept until it was delivered (the transactional outbox;
    `OutboxColumns`: attempts, next_attempt_at, delivered_at, last_error)."""

    __tablename__ = "outbox"

    id = sa.Column(sa.Integer, primary_key=True)
    ticket_id = sa.Column(sa.Integer, sa.ForeignKey("tickets.id"), nullable=False, index=True)
    destination = sa.Column(sa.String(40), nullable=False)
    idempotency_key = sa.Column(sa.String(160), nullable=False, unique=True)
    payload = sa.Column(sa.Text, nullable=False)
