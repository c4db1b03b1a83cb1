from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

import pytest

from careline.db.models.shop import ORDER_STATUSES
from careline.db.orders import OrderView
from careline.dialogue.replies import acknowledgement, describe_items, format_day, order_reply, status_sentence
from careline.shared import render

TODAY = date(2026, 11, 23)
ORDER = OrderView(
    number="CL-100001", status="shipped", customer_name="Maria Lopez",
    customer_email="maria.lopez@example.com", placed_at=datetime(2026, 11, 20, 10, 5),
    total=Decimal("207.00"), currency="USD", items=(("Brass table lamp", 1), ("Linen throw", 2)),
    carrier="UPS", tracking_number="UP1234567890", promised_date=date(2026, 11, 25),
    delivered_date=None,
)


def test_format_day_has_no_leading_zero():
    assert format_day(date(2026, 11, 5)) == "Thu 5 Nov"


def test_describe_items_names_quantities_and_caps_the_list():
    assert describe_items(ORDER) == "Brass table lamp and 2 x Linen throw"
    many = replace(ORDER, items=tuple((f"Item {i}", 1) for i in range(5)))
    assert describe_items(many) == "Item 0, Item 1, Item 2 and 2 more"


def test_status_reply_is_personal_and_concrete():
    text = order_reply(ORDER, TODAY)
    assert text.startswith("Thanks, Maria.")
    for fact in ("CL-100001", "Brass table lamp", "UPS", "UP1234567890", "Wed 25 Nov", "USD 207.00"):
        assert fact in text


@pytest.mark.parametrize("status", ORDER_STATUSES)
def test_every_status_has_its_own_sentence(status):
    sentence = status_sentence(replace(ORDER, status=status, delivered_date=date(2026, 11, 22)), TODAY)
    assert "its status is" not in sentence
    assert sentence.endswith(".")


def test_a_late_order_says_how_late():
    late = replace(ORDER, status="delayed", promised_date=date(2026, 11, 14))
    assert "It was due on Sat 14 Nov, 9 days ago." in status_sentence(late, TODAY)


def test_denial_gives_no_hint_whether_the_order_exists():
    denial = render("utter_identity_denied")
    assert "exist" not in denial and "belong" not in denial


def test_acknowledgements_vary_and_name_what_happened():
    texts = {acknowledgement([], n) for n in range(3)}
    assert len(texts) == 3 and all("talk to a person" in t for t in texts)
    assert acknowledgement(["already_told"], 0).startswith("I'm sorry you've had to repeat yourself.")
    assert acknowledgement(["repeated_contact"], 0).startswith("I'm sorry this has taken more than one try")
