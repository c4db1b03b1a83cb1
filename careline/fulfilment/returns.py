"""Return labels kept as promised: the PDF behind a signed link, and the email that brings it.

`ReturnLabels.answer(path)` is what the shop page server serves for GET /returns/label/<token>.pdf.
`ReturnLabels.queue_emails()` is the worker's sweep: every approved return of the last
`drop_off_days` that has no label email yet gets one (key "return-label:<reference>", the label
attached), in a transaction of its own. Derived from the store, it cannot be lost: a return written
just before a crash is found by the next sweep, and one swept twice is queued once.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, List, Optional
from xml.etree import ElementTree

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from careline.db import DecisionRecord, EmailRecord
from careline.fulfilment.labels import APPROVED, PDF_TYPE, RETURN, ReturnLabel, find_return, label_pdf, long_day
from careline.fulfilment.links import EXPIRED, VALID, LabelLinks
from careline.notify import Attachment, OutgoingEmail, queue_email
from careline.shared import Shop, render, utcnow

logger = logging.getLogger(__name__)

EMAIL_KEY = "return-label:"
HTML_TYPE = "text/html;charset=utf-8"
SWEEP_BATCH = 20


@dataclass(frozen=True)
class LabelAnswer:
    """What the shop page server answers for a label link: 200 with the PDF, 404 or 410 with a short page."""

    status: int
    body: bytes
    content_type: str
    filename: str = ""


def email_key(reference: str) -> str:
    return f"{EMAIL_KEY}{reference}"


class ReturnLabels:
    """Labels of approved returns: served behind signed links and sent by email."""

    def __init__(self, engine: Engine, shop: Callable[[], Shop], links: LabelLinks,
                 now: Callable[[], datetime] = utcnow) -> None:
        self._sessions = sessionmaker(bind=engine, future=True)
        self._shop = shop
        self.links = links
        self._now = now

    def label(self, reference: str) -> Optional[ReturnLabel]:
        with self._sessions() as session:
            return find_return(session, reference, self._shop())

    def answer(self, path: str) -> LabelAnswer:
        """The answer to GET `path`: the label's PDF for a valid link to an approved return, else a short
        page that says only that the link is not valid (404) or has expired (410)."""
        check = self.links.check_path(path)
        label = self.label(check.reference) if check.status == VALID and check.reference else None
        if label is not None:
            return LabelAnswer(200, label_pdf(label, self._shop()), PDF_TYPE, label.filename)
        shop = self._shop()
        if check.status == EXPIRED:
            return LabelAnswer(410, _page(shop.name, render("utter_label_link_expired", email=shop.email,
                                                            phone=shop.phone)), HTML_TYPE)
        return LabelAnswer(404, _page(shop.name, render("utter_label_link_invalid", email=shop.email,
                                                        phone=shop.phone)), HTML_TYPE)

    def due_references(self) -> List[str]:
        """Approved returns of the last drop-off period that have no label email yet, oldest first."""
        since = self._now() - timedelta(days=self._shop().drop_off_days)
        key = sa.literal(EMAIL_KEY, sa.String) + DecisionRecord.reference
        with self._sessions() as session:
            return list(session.execute(
                sa.select(DecisionRecord.reference)
                .where(DecisionRecord.kind == RETURN, DecisionRecord.outcome.in_(APPROVED),
                       DecisionRecord.reference.isnot(None), DecisionRecord.created_at >= since,
                       ~sa.exists().where(EmailRecord.idempotency_key == key))
                .order_by(DecisionRecord.id).limit(SWEEP_BATCH)
            ).scalars())

    def email(self, label: ReturnLabel) -> OutgoingEmail:
        """The label email of `label`: what it says, with the label attached and a fresh link."""
        shop = self._shop()
        body = render("utter_email_return_label_body", first_name=label.first_name, reference=label.reference,
                      number=label.order_number, link_until=long_day(self.links.expiry().astimezone(shop.timezone)
                                                                    .date()),
                      label_url=self.links.url(label.reference), drop_off_day=long_day(label.drop_off_by),
                      shop=shop.name)
        return OutgoingEmail(key=email_key(label.reference), to=label.customer_email,
                             subject=render("utter_email_return_label_subject", number=label.order_number),
                             body=body, attachment=Attachment(label.filename, PDF_TYPE, label_pdf(label, shop)))

    def queue_emails(self) -> int:
        """The worker's sweep: queue the label email of every approved return that has none; how many."""
        queued = 0
        for reference in self.due_references():
            label = self.label(reference)
            if label is None:
                continue
            email = self.email(label)  # the PDF is drawn before the write transaction, not in it
            with self._sessions() as session, session.begin():
                try:
                    queued += queue_email(session, email, self._now())
                except ValueError as error:
                    logger.warning("return %s: no label email (%s)", reference, error)
        return queued


def _page(title: str, text: str) -> bytes:
    """A short HTML page with one sentence (escaped), for a refused label link."""
    page = ElementTree.Element("html", lang="en")
    head = ElementTree.SubElement(page, "head")
    ElementTree.SubElement(head, "meta", charset="utf-8")
    ElementTree.SubElement(head, "title").text = title
    main = ElementTree.SubElement(ElementTree.SubElement(page, "body"), "main")
    ElementTree.SubElement(main, "h1").text = title
    ElementTree.SubElement(main, "p").text = text
    return b"<!doctype html>\n" + ElementTree.tostring(page, encoding="unicode", method="html").encode()
