"""Reshipments kept as promised: approved replacements go to the warehouse's webhook, and the customer
hears by email once the warehouse confirmed one.

`Reshipments.queue_due()` is the worker's sweep: every approved reshipment decision of the last
`SWEEP_DAYS` without a warehouse order gets one (its JSON: reference, order number, items, ship-to
address, express), keyed "reship:<reference>" and unique per decision, so it is derived from the
store and cannot be lost. They wait there while no warehouse is configured (CARELINE_WAREHOUSE_URL).
`WarehouseOutbox.deliver_due()` posts them with an `Idempotency-Key` through the store's one
outbox loop (retries with backoff while the warehouse is down). The warehouse answers 2xx, with
`{"tracking_number": "...", "carrier": "..."}` when it has them; in the transaction that records
the delivery, the tracking number is kept and the customer's email is queued ("reship-shipped:<reference>").
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Optional

import requests
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from careline.db import Customer, DecisionRecord, Order, OrderItem, Outbox, Sent, Tally, WarehouseOrder, post_webhook
from careline.fulfilment.labels import APPROVED
from careline.notify import OutgoingEmail, queue_email
from careline.shared import Shop, render, utcnow

logger = logging.getLogger(__name__)

RESHIP = "reship"
KEY = "reship:"
EMAIL_KEY = "reship-shipped:"
#: How far back the sweep looks for approved reshipments without a warehouse order.
SWEEP_DAYS = 30
SWEEP_BATCH = 20
#: The bot's offer promises express delivery (domain.yml utter_offer_reship).
EXPRESS = True
RECEIPT_MAX = 60


@dataclass(frozen=True)
class WarehouseReceipt:
    """What the warehouse answered about a reshipment it took."""

    tracking_number: Optional[str] = None
    carrier: Optional[str] = None


def _text(value: Any) -> Optional[str]:
    if not isinstance(value, str) or not value.strip():
        return None
    return " ".join(value.split())[:RECEIPT_MAX]


def read_receipt(response: Optional[requests.Response]) -> WarehouseReceipt:
    """The tracking number and carrier in a warehouse's JSON answer, if it sent them (else none)."""
    if response is None:
        return WarehouseReceipt()
    try:
        body = response.json()
    except ValueError:
        return WarehouseReceipt()
    if not isinstance(body, dict):
        return WarehouseReceipt()
    return WarehouseReceipt(_text(body.get("tracking_number")), _text(body.get("carrier")))


def payload(decision: DecisionRecord, order: Order, customer: Customer, items: list[OrderItem]) -> str:
    """The warehouse order of an approved reshipment, as JSON."""
    return json.dumps({
        "reference": decision.reference,
        "order_number": order.number,
        "items": [{"sku": item.sku, "name": item.name, "quantity": item.quantity} for item in items],
        "ship_to": {"name": customer.name, "address": order.shipping_address},
        "express": EXPRESS,
        "approved_at": decision.created_at.isoformat(timespec="seconds"),
    }, sort_keys=True)


class Reshipments:
    """Queues approved reshipments for the warehouse."""

    def __init__(self, engine: Engine, now: Callable[[], datetime] = utcnow) -> None:
        self._sessions = sessionmaker(bind=engine, future=True)
        self._now = now

    def queue_due(self) -> int:
        """The worker's sweep: a warehouse order for every approved reshipment that has none; how many."""
        since = self._now() - timedelta(days=SWEEP_DAYS)
        queued = 0
        with self._sessions() as session:
            due = list(session.execute(
                sa.select(DecisionRecord.id)
                .where(DecisionRecord.kind == RESHIP, DecisionRecord.outcome.in_(APPROVED),
                       DecisionRecord.reference.isnot(None), DecisionRecord.order_id.isnot(None),
                       DecisionRecord.created_at >= since,
                       ~sa.exists().where(WarehouseOrder.decision_id == DecisionRecord.id))
                .order_by(DecisionRecord.id).limit(SWEEP_BATCH)
            ).scalars())
        for decision_id in due:
            with self._sessions() as session, session.begin():
                queued += self._queue(session, decision_id)
        return queued

    def _queue(self, session: Session, decision_id: int) -> int:
        if session.execute(sa.select(WarehouseOrder.id).where(WarehouseOrder.decision_id == decision_id)).first():
            return 0
        decision = session.get(DecisionRecord, decision_id)
        order = session.get(Order, decision.order_id)
        customer = session.get(Customer, order.customer_id)
        items = list(session.execute(sa.select(OrderItem).where(OrderItem.order_id == order.id)
                                     .order_by(OrderItem.id)).scalars())
        now = self._now()
        session.add(WarehouseOrder(decision_id=decision.id, idempotency_key=f"{KEY}{decision.reference}",
                                   payload=payload(decision, order, customer, items), created_at=now,
                                   attempts=0, next_attempt_at=now))
        return 1


@dataclass(frozen=True)
class _Claimed:
    payload: str
    idempotency_key: str


class WarehouseOutbox:
    """Delivers queued reshipments to the warehouse webhook; tells the customer once one is taken."""

    def __init__(self, engine: Engine, url: str, shop: Callable[[], Shop], timeout_s: float = 10.0,
                 max_backoff_s: float = 300.0, http: Optional[requests.Session] = None,
                 now: Callable[[], datetime] = utcnow) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"warehouse URL must be http(s), got {url!r}")
        self._url = url
        self._shop = shop
        self._timeout = timeout_s
        self._http = http or requests.Session()
        self._now = now
        self._outbox: Outbox[_Claimed, WarehouseReceipt] = Outbox(
            engine, WarehouseOrder, read=lambda row: _Claimed(row.payload, row.idempotency_key), send=self._send,
            send_timeout_s=timeout_s, max_backoff_s=max_backoff_s, now=now, on_delivered=self._delivered)

    def deliver_due(self, limit: int = 20) -> Tally:
        """Send the reshipments that are due; (delivered, failed)."""
        return self._outbox.deliver_due(limit)

    def pending(self) -> int:
        return self._outbox.pending()

    def _send(self, order: _Claimed) -> Sent[WarehouseReceipt]:
        sent = post_webhook(self._http, self._url, order.payload, order.idempotency_key, self._timeout)
        if sent.error is not None:
            return Sent(error=sent.error)
        return Sent(receipt=read_receipt(sent.receipt))

    def _delivered(self, session: Session, row: WarehouseOrder, receipt: Optional[WarehouseReceipt]) -> None:
        """In the transaction that records the delivery: keep the tracking number, queue the customer's email."""
        receipt = receipt or WarehouseReceipt()
        row.tracking_number, row.carrier = receipt.tracking_number, receipt.carrier
        decision = session.get(DecisionRecord, row.decision_id)
        order = session.get(Order, decision.order_id)
        customer = session.get(Customer, decision.customer_id or order.customer_id)
        try:
            queue_email(session, shipped_email(decision.reference, order.number, customer.name, customer.email,
                                               receipt, self._shop()), self._now())
        except ValueError as error:
            logger.warning("reshipment %s: no email (%s)", decision.reference, error)


def shipped_email(reference: str, order_number: str, name: str, email: str, receipt: WarehouseReceipt,
                  shop: Shop) -> OutgoingEmail:
    """The email that tells the customer the warehouse confirmed their replacement (with tracking, if any)."""
    tracking = ""
    if receipt.tracking_number and receipt.carrier:
        tracking = " " + render("utter_email_reship_tracking_carrier", carrier=receipt.carrier,
                                tracking_number=receipt.tracking_number)
    elif receipt.tracking_number:
        tracking = " " + render("utter_email_reship_tracking", tracking_number=receipt.tracking_number)
    first_name = name.split()[0] if name.split() else name
    return OutgoingEmail(key=f"{EMAIL_KEY}{reference}", to=email,
                         subject=render("utter_email_reship_subject", number=order_number),
                         body=render("utter_email_reship_body", first_name=first_name, number=order_number,
                                     reference=reference, tracking=tracking, shop=shop.name))
