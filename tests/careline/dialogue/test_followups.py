"""What the bot says when it writes first: about the actual case, and honest about a late order."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from careline.dialogue.followups import follow_up_question, late_notice


@pytest.mark.parametrize("kind, facts, expected", [
    ("refund", {"amount": Decimal("38.95"), "order_number": "CL-100003"},
     "Your refund of $38.95 for order CL-100003 should have reached you by now."),
    ("goodwill", {"amount": Decimal("15"), "order_number": "CL-100003"}, "The goodwill refund of $15.00 for order"),
    ("cancel", {"amount": Decimal("149"), "order_number": "CL-100002"}, "for your cancelled order CL-100002"),
    ("return", {"reference": "RA-100003-0007", "order_number": "CL-100003"},
     "your return RA-100003-0007 for order CL-100003. Did it all go smoothly?"),
    ("reship", {"order_number": "CL-100004"}, "the replacement for order CL-100004. Did it arrive safely?"),
    ("waiver", {"amount": Decimal("14.99")}, "the $14.99 charge we removed"),
    ("address", {"order_number": "CL-100002"}, "Did it arrive at the new address?"),
    ("handoff", {}, "after your conversation with our team. Did it sort everything out?"),
    ("refund", {"order_number": "CL-100003"}, "checking in on what we sorted out for you"),  # no amount known
])
def test_the_question_names_the_case(kind, facts, expected):
    text = follow_up_question(kind, **facts)
    assert text.startswith("Hi, it's Careline from Harbor & Pine again.") and expected in text


def test_a_known_customer_is_greeted_by_name():
    assert follow_up_question("handoff", first_name="Maria").startswith("Hi Maria, it's Careline")


def test_a_late_order_notice_says_since_when_and_what_the_customer_can_do_without_promising_money():
    early = late_notice("CL-100001", date(2026, 11, 30), date(2026, 12, 1), days_late_for_remedy=2)
    assert early.startswith("An update on your order CL-100001: it's running late, I'm sorry. It was due on Mon 30 Nov")
    assert "If it still hasn't arrived by Wed 2 Dec, tell me" in early
    now = late_notice("CL-100001", date(2026, 11, 30), date(2026, 12, 2), days_late_for_remedy=2)
    assert "tell me and I'll look at a replacement or a refund with you now" in now
    assert "$" not in early + now
