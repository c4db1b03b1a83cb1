"""Reading orders: a read-only view of an order and its customer, and the repository that gives it."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Optional, Tuple

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from careline.db.models.shop import Order


@dataclass(frozen=True)
class OrderView:
    """A read-only snapshot of an order and its customer, safe to pass around."""

    number: str
    status: str
    customer_name: str
    customer_email: str
    placed_at: datetime
    total: Decimal
    currency: str
    items: Tuple[Tuple[str, int], ...]
    carrier: Optional[str]
    tracking_number: Optional[str]
    promised_date: Optional[date]
    delivered_date: Optional[date]
    customer_id: int = 0
    customer_tier: str = "standard"

    @property
    def first_name(self) -> str:
        return self.customer_name.split()[0]


class OrderRepository:
    """Reads orders for the conversation layer."""

    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(bind=engine, future=True)

    def find_by_number(self, number: str) -> Optional[OrderView]:
        """The order with this exact (normalised) number, or None."""
        with self._sessions() as session:
            order = session.execute(
                sa.select(Order).where(Order.number == number)
            ).scalar_one_or_none()
            return _view(order) if order else None


def _view(order: Order) -> OrderView:
    return OrderView(
        number=order.number,
        status=order.status,
        customer_name=order.customer.name,
        customer_email=order.customer.email,
        placed_at=order.placed_at,
        total=Decimal(order.total_cents) / 100,
        currency=order.currency,
        items=tuple((item.name, item.quantity) for item in order.items),
        carrier=order.carrier,
        tracking_number=order.tracking_number,
        promised_date=order.promised_date,
        delivered_date=order.delivered_date,
        customer_id=order.customer_id,
        customer_tier=order.customer.tier,
    )
