"""The shop's records: customers, orders, their items and charges."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import relationship

from careline.db.engine import Base, UTCDateTime


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
    placed_at = sa.Column(UTCDateTime, nullable=False)
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


CHARGE_KINDS = ("order_payment", "service_fee", "late_fee", "shipping_fee")


class Charge(Base):
    """Money taken from a customer: an order's payment, or a fee such as a service charge."""

    __tablename__ = "charges"

    id = sa.Column(sa.Integer, primary_key=True)
    customer_id = sa.Column(sa.Integer, sa.ForeignKey("customers.id"), nullable=False, index=True)
    order_id = sa.Column(sa.Integer, sa.ForeignKey("orders.id"), index=True)
    kind = sa.Column(sa.String(20), nullable=False)
    customer = relationship("Customer")
    order = relationship("Order")
    description = sa.Column(sa.String(200), nullable=False)
    amount_cents = sa.Column(sa.Integer, nullable=False)
    charged_at = sa.Column(UTCDateTime, nullable=False)
    waivable = sa.Column(sa.Boolean, nullable=False, default=False)

    __table_args__ = (
        sa.CheckConstraint(f"kind IN {CHARGE_KINDS!r}", name="ck_charge_kind"),
        sa.CheckConstraint("amount_cents > 0", name="ck_charge_positive"),
    )
