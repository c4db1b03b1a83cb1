"""What the bot says about a verified order: personal, concrete and honest."""
from __future__ import annotations

from datetime import date
from typing import Optional

from careline.store import OrderView

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

DENIAL = (
    "I couldn't find an order that matches that order number and email address together. "
    "Please check both against your confirmation email and try again."
)

SUPPORT_CONTACT = "call 0800 555 0199 or email help@harborandpine.example"

_WHAT_THEY_WANT = {
    "cancel_order": "cancel it",
    "return_item": "return something from it",
    "request_refund": "get a refund",
    "dispute_charge": "query a charge",
    "change_address": "change the delivery address",
    "payment_issue": "sort out the payment",
    "delivery_problem": "sort out the delivery",
}


def format_day(day: date) -> str:
    """'Fri 14 Nov' style, without a leading zero."""
    return f"{day:%a} {day.day} {day:%b}"


def describe_items(order: OrderView, limit: int = 3) -> str:
    """'2 x Oak side table and Linen throw', naming at most `limit` items."""
    names = [f"{qty} x {name}" if qty > 1 else name for name, qty in order.items]
    if not names:
        return "no items"
    shown = names[:limit]
    if len(names) > limit:
        shown.append(f"{len(names) - limit} more")
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


def _tracking(order: OrderView) -> str:
    if order.carrier and order.tracking_number:
        return f" with {order.carrier} (tracking number {order.tracking_number})"
    if order.carrier:
        return f" with {order.carrier}"
    return ""


def status_sentence(order: OrderView, today: date) -> str:
    """One or two sentences on where the order is, with dates and tracking."""
    due = f" It's expected by {format_day(order.promised_date)}." if order.promised_date else ""
    placed = format_day(order.placed_at.date())
    status = order.status
    if status == "processing":
        return f"it was placed on {placed} and we're preparing it for dispatch now.{due}"
    if status == "shipped":
        return f"it's on its way{_tracking(order)}.{due}"
    if status == "out_for_delivery":
        return f"it's out for delivery today{_tracking(order)}."
    if status == "delivered":
        when = format_day(order.delivered_date) if order.delivered_date else "recently"
        return f"it was delivered on {when}{_tracking(order)}."
    if status == "delayed":
        late = ""
        if order.promised_date and order.promised_date < today:
            days = (today - order.promised_date).days
            plural = "s" if days != 1 else ""
            late = f" It was due on {format_day(order.promised_date)}, {days} day{plural} ago."
        carrier = f" It's with {order.carrier}" if order.carrier else " It's with the carrier"
        tracking = f" (tracking number {order.tracking_number})" if order.tracking_number else ""
        return f"it's running late, I'm sorry.{late}{carrier}{tracking}."
    if status == "cancelled":
        return "it was cancelled, so nothing will be shipped or charged for it."
    if status == "returned":
        return "it was returned to us."
    return f"its status is '{status}'."


def order_reply(request: Optional[str], order: OrderView, today: date) -> str:
    """The answer to `request` (an order intent) about a verified `order`."""
    opening = (
        f"Thanks, {order.first_name}. Your order {order.number} "
        f"({describe_items(order)}, {order.currency} {order.total:.2f}): "
    )
    answer = opening + status_sentence(order, today)
    wish = _WHAT_THEY_WANT.get(request or "order_status")
    if wish is None:
        return answer
    return (
        f"{answer} I've checked your order, but I can't make changes to it from this chat yet. "
        f"To {wish}, our support team will take it from here: {SUPPORT_CONTACT} "
        f"and mention {order.number}."
    )
