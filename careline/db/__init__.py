"""The database: engines, the models of every context, reading orders.

engine.py        engines (SQLite with IMMEDIATE transactions, PostgreSQL) and the declarative base
models/          one module of tables per context (shop, money, handoff, desk, feedback, access, notify,
                 fulfilment, followup)
orders.py        OrderView (a read-only snapshot) and OrderRepository
outbox.py        the outbox tables' shared columns and their one delivery loop (claim, send, record, backoff)
migrate.py       Alembic upgrade (entry point: python -m careline.db.migrate)
seed.py          deterministic demo shop data
"""
from careline.db.engine import Base, UTCDateTime, make_engine, make_readonly_engine
from careline.db.models.access import SeenMark, WebSession
from careline.db.models.desk import Agent, DeskFormKey, DeskSession, DeskTold
from careline.db.models.feedback import Feedback
from careline.db.models.followup import FOLLOW_UP_OUTCOMES, FOLLOW_UP_STATUSES, FollowUp, OrderWatch
from careline.db.models.fulfilment import WarehouseOrder
from careline.db.models.handoff import OutboxMessage, Ticket, TicketEvent
from careline.db.models.money import DecisionRecord, Refund, VerificationAttempt, Waiver
from careline.db.models.notify import EmailRecord, ReplyNotice
from careline.db.models.shop import CHARGE_KINDS, ORDER_STATUSES, Charge, Customer, Order, OrderItem
from careline.db.orders import OrderRepository, OrderView
from careline.db.outbox import Outbox, OutboxColumns, Sent, Tally, backoff, post_webhook

__all__ = ["CHARGE_KINDS", "ORDER_STATUSES", "Agent", "Base", "Charge", "Customer", "DecisionRecord", "DeskFormKey",
           "DeskSession", "Feedback", "Order", "OrderItem", "OrderRepository", "OrderView", "OutboxMessage", "Refund",
           "Ticket", "TicketEvent", "UTCDateTime", "VerificationAttempt", "Waiver", "WebSession", "make_engine",
           "make_readonly_engine"]
__all__ += ["EmailRecord", "Outbox", "OutboxColumns", "Sent", "Tally", "WarehouseOrder", "backoff", "post_webhook"]
__all__ += ["ReplyNotice", "SeenMark"]
__all__ += ["FOLLOW_UP_OUTCOMES", "FOLLOW_UP_STATUSES", "FollowUp", "OrderWatch"]
__all__ += ["DeskTold"]
