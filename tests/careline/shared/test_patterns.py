"""The one definition of order numbers, emails, phones and cards, its variants, redaction, and the
Rasa regexes of data/nlu/orders.yml (YAML cannot import Python: they must be the same text)."""
import re
from typing import Dict, List

import pytest
import yaml

from careline.money.identity import find_email, find_order_number, normalize_email, normalize_order_number
from careline.nlu.intent_model import normalise
from careline.nlu.pipeline_config import component
from careline.shared import (
    EMAIL_IN_TEXT,
    EMAIL_WHOLE,
    ORDER_NUMBER_IN_TEXT,
    ORDER_NUMBER_MENTION,
    ORDER_NUMBER_WHOLE,
    PROJECT_ROOT,
    luhn_valid,
    redact,
)


def _rasa_regexes() -> Dict[str, List[str]]:
    data = yaml.safe_load((PROJECT_ROOT / "data" / "nlu" / "orders.yml").read_text(encoding="utf-8"))
    return {item["regex"]: [line[2:] for line in item["examples"].splitlines() if line.startswith("- ")]
            for item in data["nlu"] if "regex" in item}


def test_the_rasa_regexes_are_the_shared_patterns_character_for_character():
    assert _rasa_regexes() == {"order_id": [ORDER_NUMBER_MENTION.pattern], "email": [EMAIL_IN_TEXT.pattern]}


def test_rasa_reads_them_with_the_flags_python_does():
    """RegexEntityExtractor compiles with re.IGNORECASE unless `case_sensitive`: the order number needs it."""
    extractor = component("RegexEntityExtractor")
    assert extractor.get("case_sensitive") is False and extractor.get("use_regexes") is True
    assert ORDER_NUMBER_MENTION.flags & re.IGNORECASE
    for text in ("order cl 100001 please", "Cl-100001", "from Maria.Lopez@Example.COM"):
        for pattern in (ORDER_NUMBER_MENTION, EMAIL_IN_TEXT):
            rasa = [m.group(0) for m in re.finditer(pattern.pattern, text, flags=re.IGNORECASE)]
            assert rasa == [m.group(0) for m in pattern.finditer(text)], (pattern.pattern, text)


@pytest.mark.parametrize("text, mention", [
    ("where is CL-100001?", "CL-100001"),
    ("cl 100001 and more", "cl 100001"),
    ("CL100001", "CL100001"),
    ("order 100001", None),                  # a bare number is an order number only when asked for one
    ("CL-1000011", None),
    ("CL-١٠٠٠٠١", None),                      # other scripts' digits: never an order number
    ("XCL-100001", None),
])
def test_an_order_number_mentioned_is_one_every_variant_agrees_on(text, mention):
    found = ORDER_NUMBER_MENTION.search(text)
    assert (found.group(0) if found else None) == mention
    if mention:
        digits = mention[-6:]
        assert ORDER_NUMBER_IN_TEXT.search(text).group(1) == digits
        assert ORDER_NUMBER_WHOLE.fullmatch(mention).group(1) == digits
        assert normalize_order_number(mention) == find_order_number(text) == f"CL-{digits}"


@pytest.mark.parametrize("address", ["maria.lopez@example.com", "j_kim+88@mail.example.co.uk", "a@b.io"])
def test_an_email_we_accept_is_found_whole_in_text_and_redacted_whole(address):
    assert EMAIL_WHOLE.match(address)
    assert EMAIL_IN_TEXT.search(f"it's {address}, thanks").group(0) == address
    assert find_email(f"it's {address.upper()}, thanks") == normalize_email(address) == address
    assert redact(f"it's {address}, thanks") == "it's [email], thanks"


@pytest.mark.parametrize("address", ["x" * 65 + "@example.com", "a@b.abcdefghijklmnopqrstuvwxyz"])
def test_a_too_long_email_is_hidden_whole_and_never_taken_in_part(address):
    """Before one definition, the finder's bounded copy took a truncated piece of such an address."""
    assert EMAIL_WHOLE.match(address) is None and normalize_email(address) is None
    assert find_email(f"it's {address}") is None
    assert redact(f"it's {address}") == "it's [email]"


def test_the_classifier_sees_placeholders_where_the_nlu_sees_an_order_number_or_email():
    assert normalise("Order CL-100001, email Maria.Lopez@Example.com") == "order ordernumber , email emailaddress"
    assert normalise("order 100001") == "order somenumber"


@pytest.mark.parametrize("text, expected", [
    ("my card is 4111 1111 1111 1111", "my card is [card number]"),
    ("card 5500-0000-0000-0004 please", "card [card number] please"),
    ("4111111111111112 is not a card", "4111111111111112 is not a card"),
    ("write to Maria.Lopez@example.com", "write to [email]"),
    ("call +1 503 555 0100", "call [phone number]"),
    ("or (503) 555-0100", "or [phone number]"),
    ("order CL-100001 for $14.99 on 2026-11-23", "order CL-100001 for $14.99 on 2026-11-23"),
    ("tracking UP2703729684", "tracking UP2703729684"),
    ("", ""),
])
def test_redaction(text, expected):
    assert redact(text) == expected


def test_luhn():
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
