"""Recognising order numbers and emails, and verifying that an order is the customer's.

An order is shown only when its number **and** the email on it match. A failed check
gives the same answer whether the order exists or not.
"""
from __future__ import annotations

import hmac
from typing import Optional, Protocol

from careline.db import OrderView
from careline.shared import (
    EMAIL_IN_TEXT,
    EMAIL_WHOLE,
    ORDER_NUMBER_IN_TEXT,
    ORDER_NUMBER_WHOLE,
    ORDER_PREFIX,
    TEXT_MAX_CHARS,
)

MAX_INPUT_LENGTH = 320  # the longest email address there can be: a longer value is refused before a pattern reads it


class OrderLookup(Protocol):
    def find_by_number(self, number: str) -> Optional[OrderView]: ...


def normalize_order_number(raw: object) -> Optional[str]:
    """`CL-123456` from 'cl 123456', 'CL123456', '#CL-123456' or '123456'; None if not one."""
    if not isinstance(raw, str) or len(raw) > MAX_INPUT_LENGTH:
        return None
    match = ORDER_NUMBER_WHOLE.fullmatch(raw.strip())
    return f"{ORDER_PREFIX}-{match.group(1)}" if match else None


def find_order_number(text: object) -> Optional[str]:
    """The first order number written anywhere in free text, normalised."""
    if not isinstance(text, str):
        return None
    match = ORDER_NUMBER_IN_TEXT.search(text[:TEXT_MAX_CHARS])
    return f"{ORDER_PREFIX}-{match.group(1)}" if match else None


def normalize_email(raw: object) -> Optional[str]:
    """A lower-cased, trimmed email address, or None when it is not one."""
    if not isinstance(raw, str) or len(raw) > MAX_INPUT_LENGTH:
        return None
    candidate = raw.strip().strip("<>").lower()
    return candidate if EMAIL_WHOLE.match(candidate) else None


def find_email(text: object) -> Optional[str]:
    """The first email address written anywhere in free text, normalised; None when it is not one we
    accept (too long before the @ or in its top-level domain: never a truncated piece of it)."""
    if not isinstance(text, str):
        return None
    match = EMAIL_IN_TEXT.search(text[:TEXT_MAX_CHARS])
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
