"""Emails to customers, kept until the mail server took them (the notification outbox)."""
from __future__ import annotations

import sqlalchemy as sa

from careline.db.engine import Base, UTCDateTime
from careline.db.outbox import OutboxColumns


class EmailRecord(OutboxColumns, Base):
    """One email: who gets it, what it says, an optional attachment (a return label) and its delivery
    state (`OutboxColumns`). The idempotency key names what it announces ("return-label:RA-..."): one
    email per key, and its Message-ID is derived from it."""

    __tablename__ = "emails"

    id = sa.Column(sa.Integer, primary_key=True)
    idempotency_key = sa.Column(sa.String(160), nullable=False, unique=True)
    recipient = sa.Column(sa.String(254), nullable=False)
    subject = sa.Column(sa.String(200), nullable=False)
    body = sa.Column(sa.Text, nullable=False)
    attachment = sa.Column(sa.LargeBinary)
    attachment_name = sa.Column(sa.String(120))
    attachment_type = sa.Column(sa.String(80))
    created_at = sa.Column(UTCDateTime, nullable=False)


class ReplyNotice(Base):
    """How far a ticket's agent replies are settled for email: each one up to `through_event_id` (a
    `reply` TicketEvent) was seen in the chat, emailed, or had no address to go to; `emailed_at`: when
    the ticket's latest unseen-reply email was queued (one per ticket per REPLY_EMAIL_GAP)."""

    __tablename__ = "reply_notices"

    ticket_id = sa.Column(sa.Integer, sa.ForeignKey("tickets.id", name="fk_reply_notices_ticket_id_tickets"),
                          primary_key=True)
    through_event_id = sa.Column(sa.Integer, nullable=False)
    updated_at = sa.Column(UTCDateTime, nullable=False)
    emailed_at = sa.Column(UTCDateTime)
