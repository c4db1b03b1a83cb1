"""Keeping the promises of approved decisions: reshipments handed to the warehouse."""
from __future__ import annotations

import sqlalchemy as sa

from careline.db.engine import Base, UTCDateTime
from careline.db.outbox import OutboxColumns


class WarehouseOrder(OutboxColumns, Base):
    """An approved reshipment for the warehouse webhook, kept until the warehouse took it
    (`OutboxColumns`), with the tracking number it answered."""

    __tablename__ = "warehouse_orders"

    id = sa.Column(sa.Integer, primary_key=True)
    decision_id = sa.Column(sa.Integer, sa.ForeignKey("decisions.id"), nullable=False, unique=True)
    idempotency_key = sa.Column(sa.String(160), nullable=False, unique=True)
    payload = sa.Column(sa.Text, nullable=False)
    created_at = sa.Column(UTCDateTime, nullable=False)
    carrier = sa.Column(sa.String(60))
    tracking_number = sa.Column(sa.String(60))
