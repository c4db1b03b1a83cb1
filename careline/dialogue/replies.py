"""What the bot says about a verified order: personal, concrete and honest."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Optional

from careline.db import OrderView

__all__ = ["DENIAL", "LOCKED", "order_reply", "offer_text", "done_text", "payment_reply"]

DENIAL = (
    "I couldn't find an order that matches that order number and email address together. "
    "Please check both against your confirmation email and try again."
)

# The same words whenever a check is locked (too many failures in this chat, on this order or from
# this connection), whoever asks and whether the email was right: a lock is never an oracle.
LOCKED = (
    "For your security I can't check these order details in chat right now. A person from our team "
    "can verify you another way."
)

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


def order_reply(order: OrderView, today: date) -> str:
    """Where a verified customer's order is, personally: name, items, total, status, dates."""
    return (
        f"Thanks, {order.first_name}. Your order {order.number} "
        f"({describe_items(order)}, {order.currency} {order.total:.2f}): " + status_sentence(order, today)
    )


def _money(amount: Decimal) -> str:
    return f"${amount:.2f}"


def offer_text(kind: str, order: OrderView, amount: Decimal, rule: str = "", detail: str = "",
               fee_description: str = "", fee_day: Optional[date] = None, last_day: Optional[date] = None) -> str:
    """What the bot offers to do, ending in a question the customer answers with yes or no."""
    number = order.number
    if kind == "cancel":
        return (f"Order {number} hasn't shipped yet, so I can cancel it now and refund the full "
                f"{_money(amount)}. Shall I go ahead?")
    if kind == "return":
        until = f" until {format_day(last_day)}" if last_day else ""
        return (f"Good news: order {number} ({describe_items(order)}) can be returned{until}, and returns "
                "are free. Shall I create a return authorisation with a prepaid label?")
    if kind in ("refund", "goodwill") and rule == "goodwill_outside_window":
        return (f"Order {number} is past our return window, but I don't want you to lose out: I can refund "
                f"{_money(amount)} as a goodwill gesture. Shall I go ahead?")
    if kind in ("refund", "goodwill"):
        return (f"I'm sorry about that. I can refund {_money(amount)} for order {number} to your original "
                "payment method right now. Shall I go ahead?")
    if kind == "waiver":
        when = f" from {format_day(fee_day)}" if fee_day else ""
        return (f"I can see a {_money(amount)} charge{when}: \"{fee_description}\". A fee like that shouldn't "
                "come as a surprise, so I can remove it for you. Shall I do that?")
    if kind == "reship":
        return (f"I'm so sorry order {number} hasn't reached you. I can send a replacement at no cost, by "
                "express delivery. Shall I do that?")
    if kind == "address":
        return (f"Order {number} hasn't shipped yet, so I can still change where it goes. The new address "
                f"would be: {detail}. Is that right?")
    raise ValueError(f"nothing to offer for {kind!r}")


def done_text(kind: str, order_number: str, amount: Decimal, reference: Optional[str], next_step: str = "",
              detail: str = "") -> str:
    """What the bot says once an accepted proposal has been carried out."""
    ref = f" (reference {reference})" if reference else ""
    step = f" {next_step}" if next_step else ""
    if kind == "cancel":
        return f"Done: order {order_number} is cancelled{ref} and {_money(amount)} is on its way back.{step}"
    if kind == "return":
        return (f"Done: your return number is {reference}. The prepaid label comes by email within the hour; "
                "pack the items with the return number inside and drop the parcel at any carrier point within "
                "14 days. We refund you within 2 working days of receiving it.")
    if kind in ("refund", "goodwill"):
        return f"Done: I've refunded {_money(amount)}{ref}.{step}"
    if kind == "waiver":
        return f"Done: the {_money(amount)} charge is removed{ref}.{step}"
    if kind == "reship":
        return (f"Done: a replacement for order {order_number} is on its way{ref}. It leaves our warehouse "
                "today and should arrive in 1-2 working days; the tracking number follows by email.")
    if kind == "address":
        return f"Done: order {order_number} will now be delivered to {detail}{ref}."
    raise ValueError(f"nothing was done for {kind!r}")


def payment_reply(order: OrderView) -> str:
    """Payment facts of a verified order, then what helps when a payment fails."""
    return (
        f"Thanks, {order.first_name}. The payment of {order.currency} {order.total:.2f} for order "
        f"{order.number} went through on {format_day(order.placed_at.date())}, so nothing is outstanding "
        "on it. If a new payment keeps failing: check that the billing address matches your card's, try "
        "another card or PayPal, and if your bank blocked it for security a quick call to them usually "
        "clears it. If you were charged twice, the second one is usually a pending hold that drops off "
        "within 3 working days."
    )
