"""What customers write that the system must recognise or hide: one definition of each pattern.

Order numbers, email addresses, phone numbers and card numbers are each defined once here, from
named pieces, and every variant a caller needs is built from the same pieces:

- order numbers (`CL-123456`): `ORDER_NUMBER_IN_TEXT` finds one in free text with or without the
  prefix (the bot asked for it); `ORDER_NUMBER_WHOLE` is a whole value (`#CL-123456`, `cl 123456`,
  `123456`; use `fullmatch`); `ORDER_NUMBER_MENTION` needs the prefix: it is what the NLU takes for
  an order number in any message (Rasa's `order_id` regex in data/nlu/orders.yml, which cannot import
  Python, is this pattern's text, checked by tests/careline/shared/test_patterns.py; and the intent
  classifier's placeholder), because a bare six-digit number in a message nobody asked about is as
  likely a postcode or an amount. Only ASCII digits count: other scripts' digits would open a second
  failure counter for what looks like the same order.
- email addresses: `EMAIL_IN_TEXT` finds one in free text, any length (redaction hides a long one
  whole; it is also Rasa's `email` regex and the classifier's placeholder); `EMAIL_WHOLE` is a value
  we accept as a customer's address (at most 64 characters before the @ and a 2-24 letter top-level
  domain, as the standards and registries allow).
- phone numbers and card numbers: only redacted (`redact`): a run of 10-15 digits, and a
  Luhn-valid run of 13-19 digits.

`redact` is the one redaction of tickets, the desk, exports and logs. Nothing here knows about
orders in the store, tickets or models.
"""
from __future__ import annotations

import re
from typing import Match

ORDER_PREFIX = "CL"
ORDER_DIGITS = 6
_ORDER_SEPARATOR = r"[\s-]"
_ORDER_DIGITS = rf"[0-9]{{{ORDER_DIGITS}}}"

ORDER_NUMBER_MENTION = re.compile(rf"\b{ORDER_PREFIX}{_ORDER_SEPARATOR}?{_ORDER_DIGITS}\b", re.IGNORECASE)
ORDER_NUMBER_IN_TEXT = re.compile(rf"\b(?:{ORDER_PREFIX}{_ORDER_SEPARATOR}?)?({_ORDER_DIGITS})\b", re.IGNORECASE)
ORDER_NUMBER_WHOLE = re.compile(rf"#?\s*(?:{ORDER_PREFIX}{_ORDER_SEPARATOR}?)?({_ORDER_DIGITS})", re.IGNORECASE)

EMAIL_LOCAL_MAX = 64      # characters before the @ (RFC 5321)
EMAIL_TLD_MAX = 24        # the longest top-level domain we accept
_EMAIL_LOCAL = r"[A-Za-z0-9._%+-]"
_EMAIL_DOMAIN = r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
_EMAIL_TLD = r"[A-Za-z]"

EMAIL_IN_TEXT = re.compile(rf"{_EMAIL_LOCAL}+@{_EMAIL_DOMAIN}\.{_EMAIL_TLD}{{2,}}")
EMAIL_WHOLE = re.compile(rf"^{_EMAIL_LOCAL}{{1,{EMAIL_LOCAL_MAX}}}@{_EMAIL_DOMAIN}\.{_EMAIL_TLD}{{2,{EMAIL_TLD_MAX}}}$")

CARD_DIGITS = (13, 19)    # a payment card number's length (ISO/IEC 7812), Luhn-valid
PHONE_DIGITS = (10, 15)   # a phone number's length with its country code (E.164 allows 15)
CARD_IN_TEXT = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
PHONE_IN_TEXT = re.compile(
    r"(?<![\w-])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?)?\d{2,4}(?:[ .-]?\d{2,4}){2,4}(?![\w-])")

REDACTED_CARD = "[card number]"
REDACTED_EMAIL = "[email]"
REDACTED_PHONE = "[phone number]"


def luhn_valid(digits: str) -> bool:
    """True when a string of digits passes the Luhn check of card numbers."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _digits(match: Match[str]) -> str:
    return re.sub(r"\D", "", match.group(0))


def _card(match: Match[str]) -> str:
    digits = _digits(match)
    low, high = CARD_DIGITS
    return REDACTED_CARD if low <= len(digits) <= high and luhn_valid(digits) else match.group(0)


def _phone(match: Match[str]) -> str:
    low, high = PHONE_DIGITS
    return REDACTED_PHONE if low <= len(_digits(match)) <= high else match.group(0)


def redact(text: str) -> str:
    """`text` with Luhn-valid card numbers, email addresses and phone numbers replaced by labels."""
    if not text:
        return text or ""
    text = CARD_IN_TEXT.sub(_card, text)
    text = EMAIL_IN_TEXT.sub(REDACTED_EMAIL, text)
    return PHONE_IN_TEXT.sub(_phone, text)
