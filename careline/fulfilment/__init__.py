"""Keeping the promises of approved decisions: return labels and their emails, reshipments to the warehouse.

labels.py     what a return label says (read from the store) and its PDF (reportlab: Code 128 and QR codes)
links.py      signed, expiring links to a label (GET /returns/label/<token>.pdf on the shop page server)
returns.py    serving a label behind its link, and the worker's sweep that emails every approved return
              its label through the notification outbox (careline.notify)
warehouse.py  the worker's sweep that queues approved reshipments for the warehouse webhook, their
              delivery with retries, and the email once the warehouse confirmed one

The money context writes the decisions and knows nothing of this one: everything here is derived
from the store by the worker (python -m careline.worker), so a crash loses no promise.
"""
from careline.fulfilment.labels import ReturnLabel, address_lines, find_return, has_label, label_pdf, long_day
from careline.fulfilment.links import EXPIRED, INVALID, VALID, LabelLinks, LinkCheck
from careline.fulfilment.returns import LabelAnswer, ReturnLabels, email_key
from careline.fulfilment.warehouse import (
    Reshipments,
    WarehouseOutbox,
    WarehouseReceipt,
    read_receipt,
    shipped_email,
)

__all__ = ["EXPIRED", "INVALID", "VALID", "LabelAnswer", "LabelLinks", "LinkCheck", "Reshipments", "ReturnLabel",
           "ReturnLabels", "WarehouseOutbox", "WarehouseReceipt", "address_lines", "email_key", "find_return",
           "has_label", "label_pdf", "long_day", "read_receipt", "shipped_email"]
