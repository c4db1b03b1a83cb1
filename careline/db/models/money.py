"""What the money rules decided and paid: decisions, refunds, waivers, identity-check attempts."""
from __future__ import annotations

import sqlalchemy as sa

from careline.db.engine import Base, UTCDateTime


class DecisionRecord(Base):
    """The audit log: every policy decision, by the bot or a person, approved or not."""

    __tablename__ = "decisions"

    id = sa.Column(sa.Integer, primary_key=True)
    created_at = sa.Column(UTCDateTime, nullable=False)
    idempotency_key = sa.Column(sa.String(128), nullable=False, unique=True)
    conversation_id = sa.Column(sa.String(128))
    authority = sa.Column(sa.String(20), nullable=False)
    customer_id = sa.Column(sa.Integer, sa.ForeignKey("customers.id"), index=True)
    order_id = sa.Column(sa.Integer, sa.ForeignKey("orders.id"), index=True)
    charge_id = sa.Column(sa.Integer, sa.ForeignKey("charges.id"))
    kind = sa.Column(sa.String(20), nullable=False)
    reason = sa.Column(sa.String(40))
    requested_cents = sa.Column(sa.Integer)
    outcome = sa.Column(sa.String(20), nullable=False)
    amount_cents = sa.Column(sa.Integer, nullable=False)
    rule = sa.Column(sa.String(60), nullable=False)
    explanation = sa.Column(sa.Text, nullable=False)
    reference = sa.Column(sa.String(40))
    ticket_id = sa.Column(sa.Integer, sa.ForeignKey("tickets.id", name="fk_decisions_ticket_id_tickets"), index=True)

    __table_args__ = (sa.CheckConstraint("amount_cents >= 0", name="ck_decision_amount"),)


class Refund(Base):
    """Money given back on an order (a refund, a goodwill gesture or a cancellation)."""

    __tablename__ = "refunds"

    id = sa.Column(sa.Integer, primary_key=True)
    decision_id = sa.Column(sa.Integer, sa.ForeignKey("decisions.id"), nullable=False, unique=True)
    order_id = sa.Column(sa.Integer, sa.ForeignKey("orders.id"), nullable=False, index=True)
    customer_id = sa.Column(sa.Integer, sa.ForeignKey("customers.id"), nullable=False, index=True)
    kind = sa.Column(sa.String(20), nullable=False)
    amount_cents = sa.Column(sa.Integer, nullable=False)
    created_at = sa.Column(UTCDateTime, nullable=False)

    __table_args__ = (sa.CheckConstraint("amount_cents > 0", name="ck_refund_positive"),)


class Waiver(Base):
    """A fee taken back; one per charge."""

    __tablename__ = "waivers"

    id = sa.Column(sa.Integer, primary_key=True)
    decision_id = sa.Column(sa.Integer, sa.ForeignKey("decisions.id"), nullable=False, unique=True)
    charge_id = sa.Column(sa.Integer, sa.ForeignKey("charges.id"), nullable=False, unique=True)
    customer_id = sa.Column(sa.Integer, sa.ForeignKey("customers.id"), nullable=False, index=True)
    amount_cents = sa.Column(sa.Integer, nullable=False)
    created_at = sa.Column(UTCDateTime, nullable=False)


class VerificationAttempt(Base):
    """One identity check (order number + email); failures are counted per order and per client
    across conversations and channels, so a new conversation buys an attacker nothing."""

    __tablename__ = "verification_attempts"

    id = sa.Column(sa.Integer, primary_key=True)
    order_number = sa.Column(sa.String(16), nullable=False, index=True)
    client = sa.Column(sa.String(128), nullable=False, index=True)
    conversation_id = sa.Column(sa.String(128))
    channel = sa.Column(sa.String(40))
    outcome = sa.Column(sa.String(10), nullable=False)  # verified, denied or locked (refused unchecked)
    created_at = sa.Column(UTCDateTime, nullable=False, index=True)
