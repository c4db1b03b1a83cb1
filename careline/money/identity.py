"""Recognising order numbers and emails, and verifying that an order is the customer's.

An order is shown only when its number **and** the email on it match. A failed check
gives the same answer whether the order exists or not.
"""
from __future__ import annotations

import hmac
import re
from typing import Optional, Protocol

from careline.db import OrderView

ORDER_NUMBER_PATTERN = re.compile(r"\b(?:CL[\s-]?)?([0-9]{6})\b", re.IGNORECASE)
WHOLE_ORDER_NUMBER = re.compile(r"#?\s*(?:CL[\s-]?)?([0-9]{6})", re.IGNORECASE)
EMAIL_PATTERN = re.compile(r"^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}$")
EMAIL_IN_TEXT = re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}")
MAX_INPUT_LENGTH = 320


class OrderLookup(Protocol):
    def find_by_number(self, number: str) -> Optional[OrderView]: ...


def normalize_order_number(raw: object) -> Optional[str]:
    """`CL-123456` from 'cl 123456', 'CL123456', '#CL-123456' or '123456'; None if not one."""
    if not isinstance(raw, str) or len(raw) > MAX_INPUT_LENGTH:
        return None
    match = WHOLE_ORDER_NUMBER.fullmatch(raw.strip())
    return f"CL-{match.group(1)}" if match else None


def find_order_number(text: object) -> Optional[str]:
    """The first order number written anywhere in free text, normalised."""
    if not isinstance(text, str):
        return None
    match = ORDER_NUMBER_PATTERN.search(text[:2000])
    return f"CL-{match.group(1)}" if match else None


def normalize_email(raw: object) -> Optional[str]:
    """A lower-cased, trimmed email address, or None when it is not one."""
    if not isinstance(raw, str) or len(raw) > MAX_INPUT_LENGTH:
        return None
    candidate = raw.strip().strip("<>").lower()
    return candidate if EMAIL_PATTERN.match(candidate) else None


def find_email(text: object) -> Optional[str]:
    """The first email address written anywhere in free text, normalised."""
    if not isinstance(text, str):
        return None
    match = EMAIL_IN_TEXT.search(text[:2000])
    return normalize_email(match.group(0)) if match else None


def verify(lookup: OrderLookup, order_number: object, email: object) -> Optional[OrderView]:
    """The order when number and email both match it; None otherwise, whatever the reason.

    Slot values are untrusted (a customer can type `/inform{...}`), so both are
    re-normalised here, and the email comparison takes constant time.
    """
    number = normalize_order_number(order_number)
    address = normalize_email(email)
    if number is None or address is None:
        return None
    order = lookup.find_by_number(number)
    expected = order.customer_email.lower() if order else "\0invalid\0"
    matches = hmac.compare_digest(expected.encode(), address.encode())
    return order if order is not None and matches else None
