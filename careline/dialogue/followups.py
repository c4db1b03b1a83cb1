"""What the bot says when it writes first: a follow-up about a case, and a late-order notice.

The words are responses in domain.yml; this module chooses which and fills in the case's facts.
"""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Optional

from careline.dialogue.replies import format_day
from careline.shared import render

__all__ = ["follow_up_question", "late_notice"]


def _money(amount: Decimal) -> str:
    return f"${amount:.2f}"


def follow_up_question(kind: str, order_number: Optional[str] = None, amount: Optional[Decimal] = None,
                       reference: Optional[str] = None, first_name: Optional[str] = None) -> str:
    """"Did ... work out?" about the actual case, greeting the customer by name when the bot knows it;
    a general question when a fact the case's question names is missing."""
    hello = render("utter_follow_up_hello_named", first_name=first_name) if first_name \
        else render("utter_follow_up_hello")
    if kind == "refund" and amount and order_number:
        return render("utter_follow_up_refund", hello=hello, amount=_money(amount), number=order_number)
    if kind == "goodwill" and amount and order_number:
        return render("utter_follow_up_goodwill", hello=hello, amount=_money(amount), number=order_number)
    if kind == "cancel" and amount and order_number:
        return render("utter_follow_up_cancel", hello=hello, amount=_money(amount), number=order_number)
    if kind == "return" and reference and order_number:
        return render("utter_follow_up_return", hello=hello, reference=reference, number=order_number)
    if kind == "reship" and order_number:
        return render("utter_follow_up_reship", hello=hello, number=order_number)
    if kind == "waiver" and amount:
        return render("utter_follow_up_waiver", hello=hello, amount=_money(amount))
    if kind == "address" and order_number:
        return render("utter_follow_up_address", hello=hello, number=order_number)
    if kind == "handoff":
        return render("utter_follow_up_handoff", hello=hello)
    return render("utter_follow_up_case", hello=hello)


def late_notice(order_number: str, promised: date, today: date, days_late_for_remedy: int) -> str:
    """The order is running late, since when it was due, and what the customer can do about it.

    It promises no money: from policy.yml's `late_delivery.days_late_for_remedy` days after the
    promised date the customer can ask, and the policy decides in the usual way.
    """
    remedy_from = promised + timedelta(days=days_late_for_remedy)
    remedy = render("utter_late_notice_remedy_from", day=format_day(remedy_from)) if today < remedy_from \
        else render("utter_late_notice_remedy_now")
    return render("utter_late_notice", number=order_number, day=format_day(promised), remedy=f" {remedy}")
