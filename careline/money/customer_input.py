"""What a customer claims, read from their own words: the reason for a refund, a delivery address."""
from __future__ import annotations

import re
from typing import Dict, List, Optional, Tuple

from careline.shared import MESSAGE_MAX_CHARS

#: The reasons a customer can pick, each with the response that is its button's title.
REFUND_REASONS: Dict[str, str] = {
    "damaged": "utter_button_reason_damaged",
    "wrong_item": "utter_button_reason_wrong_item",
    "not_as_described": "utter_button_reason_not_as_described",
    "not_received": "utter_button_reason_not_received",
    "late": "utter_button_reason_late",
    "changed_mind": "utter_button_reason_changed_mind",
}
_REASON_PATTERNS: List[Tuple[str, re.Pattern[str]]] = [
    (reason, re.compile(pattern, re.IGNORECASE))
    for reason, pattern in (
        ("damaged", r"\b(damag\w*|broke\w*|crack\w*|smash\w*|shatter\w*|dent\w*|ripped|torn|faulty|"
                    r"defect\w*|doesn'?t work|does not work|not working|stopped working)\b"),
        ("wrong_item", r"\b(wrong|incorrect|different (item|product|colou?r|size)|not what i ordered)\b"),
        ("not_as_described", r"\b(not as described|doesn'?t match|does not match|misleading|"
                             r"looks? (nothing|different)|poor quality|cheap)\b"),
        ("not_received", r"\b(never (arrived|came|got)|not (arrived|received)|didn'?t (arrive|get|receive)|"
                         r"missing|lost|stolen)\b"),
        ("late", r"\b(late|too long|delay\w*|overdue)\b"),
        ("changed_mind", r"\b(changed? my mind|don'?t (want|need|like)|do not (want|need|like)|"
                         r"no longer (want|need)|ordered by mistake|by accident|didn'?t like|"
                         r"(doesn'?t|does not|didn'?t|did not|don'?t|do not) fit|too (small|big|large|tight|loose))\b"),
    )
]
_ADDRESS = re.compile(r"^(?=.*\d)(?=.*[A-Za-z]{3})[\w .,'#/\-\n]{10,200}$")
#: A US street address inside a longer message: "12 Elm Street, Portland, OR 97205" (apartment optional).
_US_ADDRESS_IN_TEXT = re.compile(
    r"(?<![\w-])\d{1,6}[A-Za-z]?\s+[A-Za-z0-9.'# -]{2,80}?,\s*(?:[A-Za-z0-9.'# -]{1,40},\s*)?"
    r"[A-Za-z.' -]{2,40},?\s+[A-Z]{2}\s+\d{5}(?:-\d{4})?\b")


def guess_reason(text: object) -> Optional[str]:
    """The refund reason a customer's words point to, or None when unclear."""
    if not isinstance(text, str):
        return None
    for reason, pattern in _REASON_PATTERNS:
        if pattern.search(text[:MESSAGE_MAX_CHARS]):
            return reason
    return None


def normalize_reason(value: object) -> Optional[str]:
    """A known reason key (from a button payload or guessed from words), or None."""
    if isinstance(value, str) and value.strip().lower() in REFUND_REASONS:
        return value.strip().lower()
    return guess_reason(value)


def find_address(text: object) -> Optional[str]:
    """A complete US address written inside a longer message ("... to 12 Elm Street, Portland, OR 97205"),
    or None. Stricter than `normalize_address`: it is read from any message, not only an answer."""
    if not isinstance(text, str):
        return None
    match = _US_ADDRESS_IN_TEXT.search(text[:MESSAGE_MAX_CHARS])
    return normalize_address(match.group(0)) if match else None


def normalize_address(text: object) -> Optional[str]:
    """A tidy one-line address when the text looks like one (a number, words, 10-200 characters)."""
    if not isinstance(text, str):
        return None
    candidate = " ".join(text.replace("\n", ", ").split())
    return candidate if _ADDRESS.match(candidate) else None
