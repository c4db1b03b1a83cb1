"""Promises kept, on the real system: a return's label (link in chat, PDF, email) and a reshipment's
delivery to the warehouse, with the mail server and the warehouse (local fakes) down at first."""
from __future__ import annotations

import io
import re
import sqlite3
import time
import uuid
from urllib.parse import urlparse

import pypdf
import pytest
import requests

from careline.notify import message_id
from careline.shared import Signer
from careline.shared.settings import load_settings
from tests.e2e import customers
from tests.fakes.warehouse import FakeWarehouse

pytestmark = pytest.mark.e2e

LINK = re.compile(r"http://127\.0\.0\.1:\d+/returns/label/[A-Za-z0-9_.-]+\.pdf")


def _shop(system, sql, *args):
    with sqlite3.connect(system.var_dir / "careline.db", timeout=30) as db:
        return db.execute(sql, args).fetchall()


def _until(condition, timeout_s=40.0):
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.2)
    return condition()


def _pdf_text(data: bytes) -> str:
    return pypdf.PdfReader(io.BytesIO(data)).pages[0].extract_text()


def _accept_a_return(system, customer) -> str:
    sender = f"e2e-{uuid.uuid4().hex}"
    system.say(sender, "I want to return something")
    system.say(sender, customer.order("CL-100003"))
    assert "Shall I create a return authorisation" in " ".join(system.say(sender, customer.email))
    return " ".join(system.say(sender, "yes"))


def test_a_return_in_chat_brings_a_label_link_the_pdf_and_one_email(system):
    james = customers.james(system)
    done = _accept_a_return(system, james)
    reference = re.search(r"RA-\d{6}-\d{4}", done).group(0)
    assert f"Done: your return number is {reference}. Here is your prepaid return label: " in done
    assert "we're emailing it to you too" in done
    link = LINK.search(done).group(0)
    assert urlparse(link).netloc == urlparse(load_settings(environ=system.env).web_url).netloc

    label = requests.get(link, timeout=20)
    assert label.status_code == 200 and label.headers["Content-Type"] == "application/pdf"
    text = _pdf_text(label.content)
    for expected in (reference, james.order("CL-100003"), "James Kim", "Harbor & Pine Returns"):
        assert expected in text, expected

    (email,) = system.smtp.wait_for(james.email)
    assert email["Subject"] == f"Your return label for order {james.order('CL-100003')}"
    (attachment,) = list(email.iter_attachments())
    assert attachment.get_content_type() == "application/pdf" and reference in _pdf_text(attachment.get_content())
    body = email.get_body(("plain",)).get_content()
    assert reference in body and LINK.search(body)
    sender = load_settings(environ=system.env).shop().email
    assert email["Message-ID"].strip() == message_id(f"return-label:{reference}", f"x <{sender}>")
    time.sleep(3)
    assert len(system.smtp.to(james.email)) == 1, "sent once"


def test_an_email_waits_while_the_mail_server_is_down_and_arrives_once(system):
    james = customers.james(system)
    system.smtp.down = True
    try:
        done = _accept_a_return(system, james)
        reference = re.search(r"RA-\d{6}-\d{4}", done).group(0)
        key = f"return-label:{reference}"
        assert _until(lambda: _shop(system, "SELECT attempts FROM emails WHERE idempotency_key = ?", key)
                      and _shop(system, "SELECT attempts FROM emails WHERE idempotency_key = ?", key)[0][0] >= 1)
        (attempts, error, delivered), = _shop(system, "SELECT attempts, last_error, delivered_at FROM emails "
                                                       "WHERE idempotency_key = ?", key)
        assert "421" in error and delivered is None and system.smtp.to(james.email) == []
    finally:
        system.smtp.down = False
    assert len(system.smtp.wait_for(james.email, timeout_s=60)) == 1
    time.sleep(3)
    assert len(system.smtp.to(james.email)) == 1, "exactly once"
    assert _shop(system, "SELECT delivered_at IS NOT NULL FROM emails WHERE idempotency_key = ?", key) == [(1,)]


def test_a_reshipment_reaches_the_warehouse_once_after_it_was_down_and_the_customer_hears(system):
    priya = customers.priya(system)
    order = priya.order("CL-100004")
    system.warehouse.down = True
    try:
        sender = f"e2e-{uuid.uuid4().hex}"
        system.say(sender, "my parcel is late")
        system.say(sender, order)
        assert "send a replacement" in " ".join(system.say(sender, priya.email))
        done = " ".join(system.say(sender, "yes"))
        reference = re.search(r"RS-\d{6}-\d{4}", done).group(0)
        assert f"Done: I've booked a replacement for order {order} (reference {reference})." in done
        assert "we'll email you as soon as they confirm it's on its way" in done
        key = f"reship:{reference}"
        assert _until(lambda: key in system.warehouse.requests), "the worker tries while it is down"
        assert key not in system.warehouse.orders
    finally:
        system.warehouse.down = False
    assert system.warehouse.wait_for(key, timeout_s=60)
    sent = system.warehouse.orders[key]
    assert sent["reference"] == reference and sent["order_number"] == order and sent["express"] is True
    assert sent["ship_to"]["name"] == "Priya Shah" and sent["items"]
    (email,) = system.smtp.wait_for(priya.email)
    assert email["Subject"] == f"Your replacement for order {order} is on its way"
    assert FakeWarehouse.tracking_number(key) in email.get_body(("plain",)).get_content()
    time.sleep(3)
    assert list(system.warehouse.orders).count(key) == 1, "the warehouse keeps it once (Idempotency-Key)"
    assert len(system.smtp.to(priya.email)) == 1


def test_a_forged_or_expired_label_link_is_refused(system):
    james = customers.james(system)
    done = _accept_a_return(system, james)
    reference = re.search(r"RA-\d{6}-\d{4}", done).group(0)
    link = LINK.search(done).group(0)
    base = link.split("/returns/")[0]
    signer = Signer(load_settings(environ=system.env).signing_key, "return-label")
    expired = requests.get(f"{base}/returns/label/{signer.sign({'ref': reference, 'exp': int(time.time()) - 5})}.pdf",
                           timeout=20)
    assert expired.status_code == 410 and "expired" in expired.text
    body, mac = link.rsplit("/", 1)[1][:-4].split(".")
    forged_ref = Signer("a-key-we-do-not-have-0123456789", "return-label").sign(
        {"ref": reference, "exp": 4_000_000_000})
    for path in (f"/returns/label/{body}.{mac[::-1]}.pdf", f"/returns/label/{forged_ref}.pdf",
                 "/returns/label/../../careline.db"):
        refused = requests.get(base + path, timeout=20)
        assert refused.status_code == 404, path
        assert reference not in refused.text and "%PDF" not in refused.text
