"""Approved reshipments reach the warehouse once, also after it was down, and the customer hears by email."""
from __future__ import annotations

import json
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from careline.db import EmailRecord, WarehouseOrder
from careline.fulfilment import Reshipments, WarehouseOutbox, WarehouseReceipt, read_receipt, shipped_email
from careline.shared import utcnow
from tests.careline.fulfilment.conftest import decide, james_return, priya_reship
from tests.conftest import Clock
from tests.fakes.warehouse import FakeWarehouse


def _orders(engine):
    with Session(engine) as session:
        return session.execute(sa.select(WarehouseOrder).order_by(WarehouseOrder.id)).scalars().all()


def _emails(engine):
    with Session(engine) as session:
        return session.execute(sa.select(EmailRecord).order_by(EmailRecord.id)).scalars().all()


def test_every_approved_reshipment_is_queued_once_with_what_the_warehouse_needs(engine, claims):
    reshipments = Reshipments(engine)
    james_return(claims)
    decide(claims, "reship", "CL-100002", "maria.lopez@example.com")  # not shipped yet: denied
    assert reshipments.queue_due() == 0
    reference = priya_reship(claims)
    assert reshipments.queue_due() == 1
    assert reshipments.queue_due() == 0, "swept again: queued once"
    (order,) = _orders(engine)
    assert order.idempotency_key == f"reship:{reference}" and order.delivered_at is None
    payload = json.loads(order.payload)
    assert payload["reference"] == reference and payload["order_number"] == "CL-100004"
    assert payload["express"] is True and payload["ship_to"]["name"] == "Priya Shah"
    assert payload["ship_to"]["address"] and payload["items"] and all(
        set(item) == {"sku", "name", "quantity"} and item["quantity"] >= 1 for item in payload["items"])


def test_delivery_survives_a_warehouse_outage_arrives_once_and_emails_the_tracking_number(engine, claims, shop):
    clock = Clock(utcnow())
    reference = priya_reship(claims)
    Reshipments(engine, now=clock).queue_due()
    with FakeWarehouse() as warehouse:
        outbox = WarehouseOutbox(engine, warehouse.url, lambda: shop, timeout_s=2, now=clock)
        warehouse.down = True
        assert outbox.deliver_due() == (0, 1)
        assert outbox.deliver_due() == (0, 0), "the next try waits for its backoff"
        assert _emails(engine) == [], "nothing is said before the warehouse has it"
        warehouse.down = False
        clock.now += timedelta(seconds=3)
        assert outbox.deliver_due() == (1, 0)
        clock.now += timedelta(hours=1)
        assert outbox.deliver_due() == (0, 0) and outbox.pending() == 0
    key = f"reship:{reference}"
    assert warehouse.requests == [key, key] and list(warehouse.orders) == [key]
    (order,) = _orders(engine)
    assert order.tracking_number == FakeWarehouse.tracking_number(key) and order.carrier == "UPS"
    (email,) = _emails(engine)
    assert email.idempotency_key == f"reship-shipped:{reference}" and email.recipient == "priya.shah@example.org"
    assert email.subject == "Your replacement for order CL-100004 is on its way"
    assert f"It travels with UPS, tracking number {order.tracking_number}." in email.body
    assert reference in email.body and email.attachment is None


def test_an_answer_without_tracking_still_tells_the_customer_and_claims_no_number(shop):
    email = shipped_email("RS-100004-0001", "CL-100004", "Priya Shah", "priya.shah@example.org", WarehouseReceipt(),
                          shop)
    assert "tracking" not in email.body.lower() and "RS-100004-0001" in email.body
    with_number = shipped_email("RS-1", "CL-1", "Priya Shah", "p@example.org", WarehouseReceipt("1Z999"), shop)
    assert "Its tracking number is 1Z999." in with_number.body


def test_a_warehouse_answer_is_read_carefully():
    class Answer:
        def __init__(self, body):
            self.body = body

        def json(self):
            if isinstance(self.body, Exception):
                raise self.body
            return self.body

    assert read_receipt(None) == WarehouseReceipt()
    assert read_receipt(Answer(ValueError("not json"))) == WarehouseReceipt()
    assert read_receipt(Answer(["a list"])) == WarehouseReceipt()
    assert read_receipt(Answer({"tracking_number": 12345, "carrier": "  "})) == WarehouseReceipt()
    assert read_receipt(Answer({"tracking_number": " 1Z\n99 ", "carrier": "UPS" * 40})) == \
        WarehouseReceipt("1Z 99", ("UPS" * 40)[:60])
