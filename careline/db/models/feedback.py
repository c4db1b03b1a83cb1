"""Customer ratings (CSAT)."""
from __future__ import annotations

import sqlalchemy as sa

from careline.db.engine import Base, UTCDateTime


class Feedback(Base):
    """A customer's 1-5 rating (and comment) at the end of a conversation."""

    __tablename__ = "feedback"

    id = sa.Column(sa.Integer, primary_key=True)
    conversation_id = sa.Column(sa.String(128), nullable=False, index=True)
    idempotency_key = sa.Column(sa.String(160), nullable=False, unique=True)
    ticket_id = sa.Column(sa.Integer, sa.ForeignKey("tickets.id"), index=True)
    handled_by = sa.Column(sa.String(10), nullable=False)
    rating = sa.Column(sa.Integer, nullable=False)
    comment = sa.Column(sa.Text, nullable=False, default="")
    created_at = sa.Column(UTCDateTime, nullable=False)

    __table_args__ = (
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name="ck_feedback_rating"),
        sa.CheckConstraint("handled_by IN ('bot', 'agent')", name="ck_feedback_handled_by"),
    )
