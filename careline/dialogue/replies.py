"""What the bot says about a verified order: personal, concrete and honest.

The words are responses in domain.yml (an order's status, the offers, what was done); this module
chooses which and fills in the facts.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Optional, Sequence

from careline.db import OrderView
from careline.shared import render

__all__ = ["order_reply", "offer_text", "done_text", "payment_reply", "acknowledgement"]


def format_day(day: date) -> str:
    """'Fri 14 Nov' style, without a leading zero."""
    return f"{day:%a} {day.day} {day:%b}"


def describe_items(order: OrderView, limit: int = 3) -> str:
    """'2 x Oak side table and Linen throw', naming at most `limit` items."""
    names = [render("utter_order_item_quantity", quantity=qty, name=name) if qty > 1 else name
             for name, qty in order.items]
    if not names:
        return render("utter_order_items_none")
    shown = names[:limit]
    if len(names) > limit:
        shown.append(render("utter_order_items_more", count=len(names) - limit))
    return shown[0] if len(shown) == 1 else render("utter_order_items_and", items=", ".join(shown[:-1]), last=shown[-1])


def _part(text: str) -> str:
    """An optional part of a sentence: its placeholder gets a space and the part."""
    return f" {text}"


def _tracking(order: OrderView) -> str:
    if order.carrier and order.tracking_number:
        return _part(render("utter_order_tracking", carrier=order.carrier, tracking_number=order.tracking_number))
    if order.carrier:
        return _part(render("utter_order_tracking_carrier", carrier=order.carrier))
    return ""


def status_sentence(order: OrderView, today: date) -> str:
    """One or two sentences on where the order is, with dates and tracking."""
    expected = _part(render("utter_order_expected", day=format_day(order.promised_date))) if order.promised_date else ""
    status = order.status
    if status == "processing":
        return render("utter_order_status_processing", placed=format_day(order.placed_at.date()), expected=expected)
    if status == "shipped":
        return render("utter_order_status_shipped", tracking=_tracking(order), expected=expected)
    if status == "out_for_delivery":
        return render("utter_order_status_out_for_delivery", tracking=_tracking(order))
    if status == "delivered":
        day = format_day(order.delivered_date) if order.delivered_date else render("utter_order_delivered_recently")
        return render("utter_order_status_delivered", day=day, tracking=_tracking(order))
    if status == "delayed":
        was_due = ""
        if order.promised_date and order.promised_date < today:
            days = (today - order.promised_date).days
            was_due = _part(render("utter_order_was_due_one_day", day=format_day(order.promised_date)) if days == 1
                            else render("utter_order_was_due_days", day=format_day(order.promised_date), days=days))
        tracking = _part(render("utter_order_tracking_number", tracking_number=order.tracking_number)) \
            if order.tracking_number else ""
        return render("utter_order_status_delayed", was_due=was_due,
                      carrier=order.carrier or render("utter_order_the_carrier"), tracking=tracking)
    if status == "cancelled":
        return render("utter_order_status_cancelled")
    if status == "returned":
        return render("utter_order_status_returned")
    return render("utter_order_status_other", status=status)


def order_reply(order: OrderView, today: date) -> str:
    """Where a verified customer's order is, personally: name, items, total, status, dates."""
    return render("utter_order_reply", first_name=order.first_name, number=order.number, items=describe_items(order),
                  currency=order.currency, total=f"{order.total:.2f}", status=status_sentence(order, today))


def _money(amount: Decimal) -> str:
    return f"${amount:.2f}"


def offer_text(kind: str, order: OrderView, amount: Decimal, rule: str = "", detail: str = "",
               fee_description: str = "", fee_day: Optional[date] = None, last_day: Optional[date] = None) -> str:
    """What the bot offers to do, ending in a question the customer answers with yes or no."""
    number = order.number
    if kind == "cancel":
        return render("utter_offer_cancel", number=number, amount=_money(amount))
    if kind == "return":
        until = _part(render("utter_offer_return_until", day=format_day(last_day))) if last_day else ""
        return render("utter_offer_return", number=number, items=describe_items(order), until=until)
    if kind in ("refund", "goodwill") and rule == "goodwill_outside_window":
        return render("utter_offer_goodwill", number=number, amount=_money(amount))
    if kind in ("refund", "goodwill"):
        return render("utter_offer_refund", number=number, amount=_money(amount))
    if kind == "waiver":
        charged_on = _part(render("utter_offer_waiver_charged_on", day=format_day(fee_day))) if fee_day else ""
        return render("utter_offer_waiver", amount=_money(amount), charged_on=charged_on, fee=fee_description)
    if kind == "reship":
        return render("utter_offer_reship", number=number)
    if kind == "address":
        return render("utter_offer_address", number=number, address=detail)
    raise ValueError(f"nothing to offer for {kind!r}")


def done_text(kind: str, order_number: str, amount: Decimal, reference: Optional[str], next_step: str = "",
              detail: str = "", label_url: str = "", drop_off_days: int = 0, warehouse: bool = False) -> str:
    """What the bot says once an accepted proposal has been carried out.

    A return needs its label's link (`label_url`, careline.fulfilment) and the days to drop the parcel
    off (shop.yml); a reshipment promises the email only when a warehouse is connected (`warehouse`):
    what the bot says happens, happens, or it does not say it.
    """
    ref = _part(render("utter_done_reference", reference=reference)) if reference else ""
    step = _part(next_step) if next_step else ""
    if kind == "cancel":
        return render("utter_done_cancel", number=order_number, reference=ref, amount=_money(amount), next_step=step)
    if kind == "return":
        if not label_url or drop_off_days < 1:
            raise ValueError("a return is announced with its label's link and the drop-off days")
        return render("utter_done_return", reference=reference, label_url=label_url, days=drop_off_days)
    if kind in ("refund", "goodwill"):
        return render("utter_done_refund", amount=_money(amount), reference=ref, next_step=step)
    if kind == "waiver":
        return render("utter_done_waiver", amount=_money(amount), reference=ref, next_step=step)
    if kind == "reship":
        shipping = _part(render("utter_done_reship_shipping")) if warehouse else ""
        return render("utter_done_reship", number=order_number, reference=ref, shipping=shipping)
    if kind == "address":
        return render("utter_done_address", number=order_number, address=detail, reference=ref)
    raise ValueError(f"nothing was done for {kind!r}")


def payment_reply(order: OrderView) -> str:
    """Payment facts of a verified order, then what helps when a payment fails."""
    return render("utter_payment_reply", first_name=order.first_name, currency=order.currency,
                  total=f"{order.total:.2f}", number=order.number, day=format_day(order.placed_at.date()))


def acknowledgement(signals: Sequence[str], earlier: int) -> str:
    """Plain words for a frustrated customer's feeling, then the promise to resolve and the way out.

    `signals` are the frustration scorer's (careline.nlu): one that names what happened is answered
    in kind; otherwise the feeling's words take turns, `earlier` acknowledgements in this
    conversation picking the next variation of the response.
    """
    if "already_told" in signals:
        feeling = render("utter_acknowledge_repeating")
    elif "repeated_contact" in signals:
        feeling = render("utter_acknowledge_retries")
    else:
        feeling = render("utter_acknowledge_feeling", variation=earlier)
    return f"{feeling} {render('utter_acknowledge_next')}"
