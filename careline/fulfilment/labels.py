"""The return label: what it says (read from the store), and the PDF (reportlab) with a scannable code.

A label is made from the store only: the approved return decision with that reference (kind
"return", outcome approve or partial), its order and its customer, and the shop's returns address
and drop-off days (shop.yml). Nothing a customer or a link carries goes on it but the reference
that finds the decision.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Optional, Sequence, Tuple

import sqlalchemy as sa
from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.code128 import Code128
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.pagesizes import letter
from reportlab.lib.units import inch
from reportlab.pdfgen.canvas import Canvas
from sqlalchemy.orm import Session

from careline.db import Customer, DecisionRecord, Order
from careline.shared import Shop, render

RETURN = "return"
APPROVED = ("approve", "partial")  # the outcomes that carry out a decision (careline.money.policy)
PDF_TYPE = "application/pdf"


@dataclass(frozen=True)
class ReturnLabel:
    """Everything printed on one return label."""

    reference: str
    order_number: str
    customer_name: str
    customer_email: str
    ship_from: Tuple[str, ...]   # the customer's name and the order's shipping address, line by line
    ship_to: Tuple[str, ...]     # the shop's returns address
    issued: datetime             # when the return was approved
    drop_off_by: date            # the last day to hand the parcel to a carrier (shop's time zone)

    @property
    def first_name(self) -> str:
        return self.customer_name.split()[0] if self.customer_name.split() else self.customer_name

    @property
    def filename(self) -> str:
        return f"return-label-{self.reference}.pdf"


def has_label(kind: str, outcome: str, reference: Optional[str]) -> bool:
    """Whether a decision (as the audit records it) is a return with a label: approved, with its reference."""
    return kind == RETURN and outcome in APPROVED and bool(reference)


def address_lines(address: str) -> Tuple[str, ...]:
    """An address as stored ("75 Lake Street, Portland, OR 97205") on label lines: the street, then the rest."""
    street, _, rest = address.strip().partition(", ")
    return tuple(part for part in (street, rest) if part)


def find_return(session: Session, reference: str, shop: Shop) -> Optional[ReturnLabel]:
    """The label of the approved return `reference`, or None (no such return, or not approved)."""
    row = session.execute(
        sa.select(DecisionRecord, Order, Customer)
        .join(Order, Order.id == DecisionRecord.order_id)
        .join(Customer, Customer.id == DecisionRecord.customer_id)
        .where(DecisionRecord.reference == reference, DecisionRecord.kind == RETURN,
               DecisionRecord.outcome.in_(APPROVED))
        .order_by(DecisionRecord.id).limit(1)
    ).first()
    if row is None:
        return None
    decision, order, customer = row
    issued_day = decision.created_at.astimezone(shop.timezone).date()
    return ReturnLabel(
        reference=decision.reference, order_number=order.number, customer_name=customer.name,
        customer_email=customer.email, ship_from=(customer.name, *address_lines(order.shipping_address)),
        ship_to=tuple(shop.returns_address), issued=decision.created_at,
        drop_off_by=issued_day + timedelta(days=shop.drop_off_days),
    )


def long_day(day: date) -> str:
    """'Wednesday, December 16, 2026' (US style, no leading zero)."""
    return f"{day:%A, %B} {day.day}, {day.year}"


def _lines(canvas: Canvas, x: float, y: float, lines: Sequence[str], font: str, size: float) -> float:
    canvas.setFont(font, size)
    for line in lines:
        canvas.drawString(x, y, line)
        y -= size * 1.3
    return y


def label_pdf(label: ReturnLabel, shop: Shop) -> bytes:
    """The label as a one-page US Letter PDF: addresses, return and order number, drop-off day, Code 128
    and QR codes of the return number."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=letter, invariant=True)
    title = render("utter_label_title")
    canvas.setTitle(f"{shop.name}: {title} {label.reference}")
    canvas.setAuthor(shop.name)
    width, height = letter
    left, top = 0.75 * inch, height - 0.75 * inch

    canvas.setFont("Helvetica-Bold", 20)
    canvas.drawString(left, top, shop.name)
    canvas.setFont("Helvetica", 14)
    canvas.drawRightString(width - left, top, title)
    canvas.line(left, top - 12, width - left, top - 12)

    y = top - 48
    canvas.setFont("Helvetica", 10)
    canvas.drawString(left, y, render("utter_label_from"))
    _lines(canvas, left, y - 16, label.ship_from, "Helvetica", 11)

    box_top = y - 96
    canvas.setLineWidth(2)
    canvas.rect(left, box_top - 130, width - 2 * left, 130)
    canvas.setLineWidth(1)
    canvas.setFont("Helvetica", 10)
    canvas.drawString(left + 14, box_top - 20, render("utter_label_to"))
    _lines(canvas, left + 14, box_top - 44, label.ship_to, "Helvetica-Bold", 16)

    y = box_top - 170
    canvas.setFont("Helvetica-Bold", 18)
    canvas.drawString(left, y, render("utter_label_return_number", reference=label.reference))
    canvas.setFont("Helvetica", 12)
    canvas.drawString(left, y - 20, render("utter_label_order", number=label.order_number))

    barcode = Code128(label.reference, barWidth=1.4, barHeight=0.9 * inch, quiet=True)
    barcode.drawOn(canvas, left - barcode.lquiet, y - 40 - 0.9 * inch)
    canvas.setFont("Courier", 11)
    canvas.drawString(left, y - 56 - 0.9 * inch, label.reference)

    qr_size = 1.6 * inch
    widget = QrCodeWidget(label.reference, barLevel="M")
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(qr_size, qr_size, transform=[qr_size / (x1 - x0), 0, 0, qr_size / (y1 - y0), 0, 0])
    drawing.add(widget)
    renderPDF.draw(drawing, canvas, width - left - qr_size, y - 40 - qr_size)

    y = y - 100 - 0.9 * inch - 60
    canvas.setFont("Helvetica-Bold", 12)
    canvas.drawString(left, y, render("utter_label_drop_off", day=long_day(label.drop_off_by)))
    canvas.setFont("Helvetica", 11)
    canvas.drawString(left, y - 20, render("utter_label_instructions"))
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
