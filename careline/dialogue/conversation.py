"""Conversation helpers over plain event dictionaries (no Rasa imports).

- which request started the current identity check,
- how many identity checks failed in this conversation.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, Optional

ORDER_REQUESTS = (
    "order_status",
    "cancel_order",
    "return_item",
    "request_refund",
    "dispute_charge",
    "change_address",
    "payment_issue",
    "delivery_problem",
)
IDENTITY_FORM = "order_form"
MAX_FAILED_VERIFICATIONS = 3

def _intent(event: Dict[str, Any]) -> Optional[str]:
    return ((event.get("parse_data") or {}).get("intent") or {}).get("name")


def order_topic(events: Iterable[Dict[str, Any]]) -> str:
    """The request that started the latest identity check (`order_status` if none did).

    It is the customer's message just before the identity form was last activated, so that
    an answer given inside the form ("it arrived broken") cannot change what was asked.
    """
    history = list(events)
    for index in range(len(history) - 1, -1, -1):
        event = history[index]
        if event.get("event") == "active_loop" and event.get("name") == IDENTITY_FORM:
            for earlier in reversed(history[:index]):
                if earlier.get("event") == "user":
                    intent = _intent(earlier)
                    return intent if intent in ORDER_REQUESTS else "order_status"
            break
    for event in reversed(history):
        intent = _intent(event) if event.get("event") == "user" else None
        if intent in ORDER_REQUESTS:
            return intent
    return "order_status"


def failed_verifications(value: object) -> int:
    """The slot's count as a whole number (slots arrive as floats or junk)."""
    try:
        return max(0, int(float(value)))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0


def is_locked(value: object) -> bool:
    return failed_verifications(value) >= MAX_FAILED_VERIFICATIONS
