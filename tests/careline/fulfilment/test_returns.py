"""Return labels kept as promised: served behind their link, and emailed once, derived from the store."""
from __future__ import annotations

import io
import re
from datetime import timedelta
from urllib.parse import urlparse

import pypdf
import sqlalchemy as sa
from sqlalchemy.orm import Session

from careline.db import DecisionRecord, EmailRecord
from careline.fulfilment import LabelLinks, ReturnLabels, email_key
from careline.shared import Signer, utcnow
from tests.careline.fulfilment.conftest import BASE_URL, SIGNING_KEY, decide, james_return, priya_reship
from tests.conftest import Clock


def _labels(engine, shop, clock=None) -> ReturnLabels:
    clock = clock or Clock(utcnow())
    return ReturnLabels(engine, lambda: shop, LabelLinks(SIGNING_KEY, BASE_URL, days=30, now=clock), now=clock)


def _emails(engine):
    with Session(engine) as session:
        return session.execute(sa.select(EmailRecord).order_by(EmailRecord.id)).scalars().all()


def _text(pdf: bytes) -> str:
    return pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text()


def test_a_link_serves_the_label_from_the_store(engine, claims, shop):
    labels = _labels(engine, shop)
    reference = james_return(claims)
    answer = labels.answer(urlparse(labels.links.url(reference)).path)
    assert answer.status == 200 and answer.content_type == "application/pdf"
    assert answer.filename == f"return-label-{reference}.pdf"
    assert reference in _text(answer.body) and "James Kim" in _text(answer.body)


def test_refused_links_say_only_that_and_leak_nothing(engine, claims, shop):
    clock = Clock(utcnow())
    labels = _labels(engine, shop, clock)
    reference = james_return(claims)
    signer = Signer(SIGNING_KEY, "return-label")
    refund = decide(claims, "refund", "CL-100003", "jkim88@example.net", reason="damaged")
    unknown = [f"/returns/label/{signer.sign({'ref': ref, 'exp': 4_000_000_000})}.pdf"
               for ref in ("RA-100003-9999", refund)]  # signed by us, but no approved return
    forged = "/returns/label/eyJyZWYiOiJSQS0xMDAwMDMtMDAwNyIsImV4cCI6NDAwMDAwMDAwMH0." + "x" * 43 + ".pdf"
    pages = [labels.answer(path) for path in (*unknown, forged, "/returns/label/../../careline.db")]
    assert {(a.status, a.content_type) for a in pages} == {(404, "text/html;charset=utf-8")}
    assert len({a.body for a in pages}) == 1, "the same page whatever was wrong: no oracle"
    path = urlparse(labels.links.url(reference)).path
    clock.now += timedelta(days=31)
    expired = labels.answer(path)
    assert expired.status == 410 and b"expired" in expired.body
    for page in (*pages, expired):
        assert b"RA-" not in page.body and b"James" not in page.body and b"CL-1" not in page.body
        assert shop.email.encode() in page.body


def test_every_approved_return_gets_its_label_email_once(engine, claims, shop):
    labels = _labels(engine, shop)
    first = james_return(claims)
    assert labels.queue_emails() == 1
    assert labels.queue_emails() == 0, "swept again: queued once"
    (email,) = _emails(engine)
    assert email.idempotency_key == email_key(first) == f"return-label:{first}"
    assert email.recipient == "jkim88@example.net" and email.subject == "Your return label for order CL-100003"
    assert email.attachment_name == f"return-label-{first}.pdf" and email.attachment_type == "application/pdf"
    assert first in _text(email.attachment)
    assert email.body.startswith("Hello James,") and first in email.body and shop.name in email.body
    link = re.search(r"https://shop\.example/returns/label/\S+\.pdf", email.body).group(0)
    assert labels.answer(urlparse(link).path).status == 200, "the link in the email works"
    assert email.delivered_at is None and email.attempts == 0


def test_only_approved_returns_of_the_drop_off_period_are_swept(engine, claims, shop):
    labels = _labels(engine, shop)
    priya_reship(claims)
    decide(claims, "refund", "CL-100003", "jkim88@example.net", reason="damaged")
    assert labels.queue_emails() == 0
    old = james_return(claims, key="old-return")
    with Session(engine) as session, session.begin():
        record = session.execute(sa.select(DecisionRecord).where(DecisionRecord.reference == old)).scalar_one()
        record.created_at = utcnow() - timedelta(days=shop.drop_off_days + 1)
    assert labels.queue_emails() == 0, "a return whose drop-off period is over gets no label any more"


def test_a_return_written_just_before_a_crash_is_still_emailed(engine, claims, shop):
    """The decision is all there is (the process died before anything else happened): the sweep finds it."""
    reference = james_return(claims)
    assert _emails(engine) == []
    assert _labels(engine, shop).queue_emails() == 1
    assert [e.idempotency_key for e in _emails(engine)] == [email_key(reference)]
