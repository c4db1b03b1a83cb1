"""The shop's records (customers, orders, order items) and a repository over them.

SQLite by default (`CARELINE_STORE_DB_URL`); any SQLAlchemy URL works, PostgreSQL included.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import List, Optional, Tuple

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import declarative_base, relationship, sessionmaker

Base = declarative_base()

ORDER_STATUSES = (
    "processing",
    "shipped",
    "out_for_delivery",
    "delivered",
    "delayed",
    "cancelled",
    "returned",
)


class Customer(Base):
    __tablename__ = "customers"

    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.String(120), nullable=False)
    email = sa.Column(sa.String(254), nullable=False, unique=True, index=True)
    phone = sa.Column(sa.String(40))
    tier = sa.Column(sa.String(20), nullable=False, default="standard")
    since = sa.Column(sa.Date, nullable=False)

    orders = relationship("Order", back_populates="customer")


class Order(Base):
    """An order; money is kept in integer cents so no database rounds it."""

    __tablename__ = "orders"

    id = sa.Column(sa.Integer, primary_key=True)
    number = sa.Column(sa.String(16), nullable=False, unique=True, index=True)
    customer_id = sa.Column(sa.Integer, sa.ForeignKey("customers.id"), nullable=False, index=True)
    placed_at = sa.Column(sa.DateTime, nullable=False)
    status = sa.Column(sa.String(20), nullable=False)
    total_cents = sa.Column(sa.Integer, nullable=False)
    currency = sa.Column(sa.String(3), nullable=False, default="USD")
    shipping_address = sa.Column(sa.String(300), nullable=False)
    carrier = sa.Column(sa.String(40))
    tracking_number = sa.Column(sa.String(40))
    promised_date = sa.Column(sa.Date)
    delivered_date = sa.Column(sa.Date)

    customer = relationship("Customer", back_populates="orders")
    items = relationship("OrderItem", back_populates="order", order_by="OrderItem.id")

    __table_args__ = (sa.CheckConstraint(f"status IN {ORDER_STATUSES!r}", name="ck_order_status"),)


class OrderItem(Base):
    __tablename__ = "order_items"

    id = sa.Column(sa.Integer, primary_key=True)
    order_id = sa.Column(sa.Integer, sa.ForeignKey("orders.id"), nullable=False, index=True)
    sku = sa.Column(sa.String(32), nullable=False)
    name = sa.Column(sa.String(120), nullable=False)
    quantity = sa.Column(sa.Integer, nullable=False)
    unit_price_cents = sa.Column(sa.Integer, nullable=False)

    order = relationship("Order", back_populates="items")


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

    @property
    def first_name(self) -> str:
        return self.customer_name.split()[0]


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite files get foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, future=True, connect_args={"timeout": 15})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(connection, _record) -> None:  # pragma: no cover - driver hook
            cursor = connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return sa.create_engine(url, future=True, pool_pre_ping=True)


def create_schema(engine: Engine) -> None:
    """Create every table that does not exist yet."""
    Base.metadata.create_all(engine)


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

    def count_orders(self) -> int:
        with self._sessions() as session:
            return session.execute(sa.select(sa.func.count(Order.id))).scalar_one()

    def statuses(self) -> List[str]:
        with self._sessions() as session:
            rows = session.execute(sa.select(Order.status).distinct()).scalars()
            return sorted(rows)


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
    )
