import pytest

from careline.money.identity import find_email, find_order_number, normalize_email, normalize_order_number, verify


@pytest.mark.parametrize("raw, expected", [
    ("CL-100001", "CL-100001"),
    ("cl 100001", "CL-100001"),
    ("CL100001", "CL-100001"),
    ("#CL-100001", "CL-100001"),
    ("  100001 ", "CL-100001"),
    ("CL-10001", None),
    ("CL-1000011", None),
    ("order CL-100001", None),
    ("CL-100001' OR '1'='1", None),
    ("", None),
    (None, None),
    (100001, None),
    ("1" * 10_000, None),
])
def test_normalize_order_number(raw, expected):
    assert normalize_order_number(raw) == expected


def test_find_order_number_in_free_text():
    assert find_order_number("hi, it's cl 204817 I think") == "CL-204817"
    assert find_order_number("no number here") is None
    assert find_order_number("phone 0800 555 0199") is None


@pytest.mark.parametrize("raw, expected", [
    ("Maria.Lopez@Example.com", "maria.lopez@example.com"),
    (" <jkim88@example.net> ", "jkim88@example.net"),
    ("not-an-email", None),
    ("a@b", None),
    ("x@example.com; DROP TABLE orders", None),
    (None, None),
])
def test_normalize_email(raw, expected):
    assert normalize_email(raw) == expected


def test_find_email_in_free_text():
    assert find_email("sure, it's Maria.Lopez@example.com thanks") == "maria.lopez@example.com"
    assert find_email("no address") is None


def test_verify_needs_number_and_email_of_the_same_order(repository):
    order = verify(repository, "cl 100001", "MARIA.LOPEZ@example.com")
    assert order is not None and order.number == "CL-100001"


@pytest.mark.parametrize("number, email", [
    ("CL-100001", "jkim88@example.net"),       # someone else's email
    ("CL-100003", "maria.lopez@example.com"),  # someone else's order
    ("CL-999998", "maria.lopez@example.com"),  # no such order
    ("CL-100001", None),
    (None, "maria.lopez@example.com"),
    ("CL-100001", "maria.lopez@example.com' --"),
])
def test_verify_refuses_everything_else(repository, number, email):
    assert verify(repository, number, email) is None


def test_only_ascii_digits_make_an_order_number():
    """Other scripts' digits would open a second failure counter for what looks like the same order."""
    from careline.money.identity import find_order_number, normalize_order_number

    assert normalize_order_number("CL-١٠٠٠٠١") is None and find_order_number("where is ١٠٠٠٠١") is None
    assert normalize_order_number("cl 100001") == "CL-100001"
