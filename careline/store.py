"""The shop's records (customers, orders, order items) and a repository over them.

SQLite by default (`CARELINE_STORE_DB_URL`); any SQLAlchemy URL works, PostgreSQL included.
"""
from __future__ import annotations

import logging
import os
import sqlite3
import urllib.parse
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Optional, Tuple

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import declarative_base, relationship, sessionmaker

from careline.clock import as_utc

Base = declarative_base()
logger = logging.getLogger(__name__)


class UTCDateTime(sa.types.TypeDecorator):
    """A point in time stored as UTC and read back timezone-aware (UTC), in any database.

    The column stays a plain DATETIME (no migration); a naive value handed in is taken as UTC.
    """

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: Optional[datetime], dialect) -> Optional[datetime]:
        return None if value is None else as_utc(value).replace(tzinfo=None)

    def process_result_value(self, value: Optional[datetime], dialect) -> Optional[datetime]:
        return None if value is None else as_utc(value)

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


class Agent(Base):
    """A person who works in the agent desk."""

    __tablename__ = "agents"

    id = sa.Column(sa.Integer, primary_key=True)
    email = sa.Column(sa.String(254), nullable=False, unique=True)
    name = sa.Column(sa.String(120), nullable=False)
    role = sa.Column(sa.String(20), nullable=False)
    password_hash = sa.Column(sa.String(255), nullable=False)
    active = sa.Column(sa.Boolean, nullable=False, default=True)
    created_at = sa.Column(UTCDateTime, nullable=False)

    __table_args__ = (sa.CheckConstraint("role IN ('agent', 'supervisor')", name="ck_agent_role"),)


class DeskSession(Base):
    """A signed-in browser: the cookie holds a secret whose hash is stored here."""

    __tablename__ = "desk_sessions"

    id = sa.Column(sa.Integer, primary_key=True)
    token_hash = sa.Column(sa.String(64), nullable=False, unique=True)
    agent_id = sa.Column(sa.Integer, sa.ForeignKey("agents.id"), nullable=False, index=True)
    csrf_token = sa.Column(sa.String(64), nullable=False)
    created_at = sa.Column(UTCDateTime, nullable=False)
    expires_at = sa.Column(UTCDateTime, nullable=False)


class TicketEvent(Base):
    """Everything a person did with a ticket (the desk's audit trail)."""

    __tablename__ = "ticket_events"

    id = sa.Column(sa.Integer, primary_key=True)
    ticket_id = sa.Column(sa.Integer, sa.ForeignKey("tickets.id"), nullable=False, index=True)
    agent_id = sa.Column(sa.Integer, sa.ForeignKey("agents.id"), index=True)
    kind = sa.Column(sa.String(20), nullable=False)
    detail = sa.Column(sa.Text, nullable=False, default="")
    created_at = sa.Column(UTCDateTime, nullable=False)


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


class OutboxMessage(Base):
    """A message to an outside system, kept until it was delivered (the transactional outbox)."""

    __tablename__ = "outbox"

    id = sa.Column(sa.Integer, primary_key=True)
    ticket_id = sa.Column(sa.Integer, sa.ForeignKey("tickets.id"), nullable=False, index=True)
    destination = sa.Column(sa.String(40), nullable=False)
    idempotency_key = sa.Column(sa.String(160), nullable=False, unique=True)
    payload = sa.Column(sa.Text, nullable=False)
    attempts = sa.Column(sa.Integer, nullable=False, default=0)
    next_attempt_at = sa.Column(UTCDateTime, nullable=False)
    delivered_at = sa.Column(UTCDateTime, index=True)
    last_error = sa.Column(sa.Text)


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


class WebSession(Base):
    """A website chat session the server issued; the browser holds the token, we keep its hash."""

    __tablename__ = "web_sessions"

    id = sa.Column(sa.Integer, primary_key=True)
    token_hash = sa.Column(sa.String(64), nullable=False, unique=True)
    sender = sa.Column(sa.String(64), nullable=False, unique=True)
    client = sa.Column(sa.String(128))
    created_at = sa.Column(UTCDateTime, nullable=False)
    last_seen_at = sa.Column(UTCDateTime, nullable=False)
    expires_at = sa.Column(UTCDateTime, nullable=False)
    revoked_at = sa.Column(UTCDateTime)


class DeskFormKey(Base):
    """An idempotency key the desk issued for one money form of one ticket and agent."""

    __tablename__ = "desk_form_keys"

    id = sa.Column(sa.Integer, primary_key=True)
    key = sa.Column(sa.String(64), nullable=False, unique=True)
    ticket_id = sa.Column(sa.Integer, sa.ForeignKey("tickets.id"), nullable=False, index=True)
    agent_id = sa.Column(sa.Integer, sa.ForeignKey("agents.id"), nullable=False)
    created_at = sa.Column(UTCDateTime, nullable=False)
    used_at = sa.Column(UTCDateTime)


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


def make_engine(url: str, *, read_only: bool = False) -> Engine:
    """An engine for `url` (`read_only=True`: `make_readonly_engine`).

    SQLite files get foreign keys, WAL journaling and `BEGIN IMMEDIATE` transactions, so that
    two processes deciding about the same order are serialised (PostgreSQL gets the same
    from `SELECT ... FOR UPDATE`).
    """
    if read_only:
        return make_readonly_engine(url)
    if not url.startswith("sqlite"):
        return sa.create_engine(url, future=True, pool_pre_ping=True)
    engine = sa.create_engine(url, future=True, connect_args={"timeout": 30})

    @sa.event.listens_for(engine, "connect")
    def _on_connect(connection, _record) -> None:
        connection.isolation_level = None  # SQLAlchemy issues BEGIN itself (below)
        cursor = connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def make_readonly_engine(url: str) -> Engine:
    """An engine that can only read, for a database another program writes (Rasa's tracker store).

    SQLite: the file is opened with `mode=ro` (no journal-mode change, no `BEGIN IMMEDIATE`, so it
    takes no write lock and holds no lock between statements) and `PRAGMA query_only`; a file
    that does not exist yet reads as an empty database. PostgreSQL and MySQL: every transaction
    of the session is READ ONLY. Other databases are opened normally (with a warning).
    """
    parsed = sa.engine.make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise ValueError("a read-only SQLite engine needs a database file")
        path = os.path.abspath(parsed.database)

        def connect() -> sqlite3.Connection:
            if not os.path.exists(path):
                connection = sqlite3.connect(":memory:", check_same_thread=False)
            else:
                connection = sqlite3.connect(f"file:{urllib.parse.quote(path)}?mode=ro", uri=True,
                                             timeout=30, check_same_thread=False)
            connection.execute("PRAGMA query_only=ON")
            return connection

        return sa.create_engine("sqlite://", creator=connect, poolclass=sa.pool.NullPool, future=True)
    engine = sa.create_engine(url, future=True, pool_pre_ping=True)
    statement = {"postgresql": "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
                 "mysql": "SET SESSION TRANSACTION READ ONLY",
                 "mariadb": "SET SESSION TRANSACTION READ ONLY"}.get(backend)
    if statement is None:
        logger.warning("no read-only mode for %s databases: %s is opened read-write", backend,
                       parsed.render_as_string(hide_password=True))
        return engine

    @sa.event.listens_for(engine, "connect")
    def _read_only(connection, _record) -> None:
        cursor = connection.cursor()
        cursor.execute(statement)
        cursor.close()
        connection.commit()

    return engine


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
