"""Following up: messages the bot sends first, later, about a customer's case (careline/followup)."""
from __future__ import annotations

import sqlalchemy as sa

from careline.db.engine import Base, UTCDateTime

FOLLOW_UP_STATUSES = ("scheduled", "sent", "not_sent")
FOLLOW_UP_OUTCOMES = ("resolved", "not_resolved", "no_answer")


class FollowUp(Base):
    """One message the bot sends first into the conversation a case came from: "did it work out?"
    after a refund, return, reshipment or resolved handoff, or a notice that an order is late.

    `case_key` names the case (`decision:<id>`, `ticket:<id>`, `watch:<id>`) and is unique, so a
    case is followed up once however often the schedule is swept. `status` is scheduled until the
    bot asked (sent) or it was decided it cannot be (not_sent, with `not_sent_reason`); `outcome` is
    the customer's answer (resolved, not_resolved) or no_answer after the answer window.
    """

    __tablename__ = "follow_ups"

    id = sa.Column(sa.Integer, primary_key=True)
    case_key = sa.Column(sa.String(60), nullable=False, unique=True)
    kind = sa.Column(sa.String(20), nullable=False, index=True)
    conversation_id = sa.Column(sa.String(128), nullable=False, index=True)
    decision_id = sa.Column(sa.Integer, sa.ForeignKey("decisions.id", name="fk_follow_ups_decision_id_decisions"))
    ticket_id = sa.Column(sa.Integer, sa.ForeignKey("tickets.id", name="fk_follow_ups_ticket_id_tickets"))
    order_id = sa.Column(sa.Integer, sa.ForeignKey("orders.id", name="fk_follow_ups_order_id_orders"))
    case_at = sa.Column(UTCDateTime, nullable=False)
    created_at = sa.Column(UTCDateTime, nullable=False)
    due_at = sa.Column(UTCDateTime, nullable=False, index=True)
    status = sa.Column(sa.String(12), nullable=False, default="scheduled")
    next_attempt_at = sa.Column(UTCDateTime, nullable=False)
    attempts = sa.Column(sa.Integer, nullable=False, default=0)
    last_error = sa.Column(sa.Text)
    channel = sa.Column(sa.String(40))
    sent_at = sa.Column(UTCDateTime)
    not_sent_reason = sa.Column(sa.String(40))
    outcome = sa.Column(sa.String(16))
    answered_at = sa.Column(UTCDateTime)

    __table_args__ = (
        sa.CheckConstraint(f"status IN {FOLLOW_UP_STATUSES!r}", name="ck_follow_up_status"),
        sa.CheckConstraint(f"outcome IS NULL OR outcome IN {FOLLOW_UP_OUTCOMES!r}", name="ck_follow_up_outcome"),
        sa.Index("ix_follow_ups_status_next_attempt_at", "status", "next_attempt_at"),
    )


class OrderWatch(Base):
    """A verified customer asked about an order in a conversation: if it becomes late, they hear first."""

    __tablename__ = "order_watches"

    id = sa.Column(sa.Integer, primary_key=True)
    order_id = sa.Column(sa.Integer, sa.ForeignKey("orders.id", name="fk_order_watches_order_id_orders"),
                         nullable=False, index=True)
    conversation_id = sa.Column(sa.String(128), nullable=False)
    channel = sa.Column(sa.String(40))
    late_when_asked = sa.Column(sa.Boolean, nullable=False)
    created_at = sa.Column(UTCDateTime, nullable=False, index=True)

    __table_args__ = (sa.UniqueConstraint("order_id", "conversation_id", name="uq_order_watches_order_conversation"),)
