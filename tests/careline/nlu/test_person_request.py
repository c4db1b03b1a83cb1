"""Whether a message asks for a person (honoured at once even when it is a complaint)."""
from __future__ import annotations

import pytest

from careline.nlu.person_request import asks_for_a_person


@pytest.mark.parametrize("text", ["I'm fed up. Human please.", "get me a real person", "I want your manager",
                                  "can I talk to someone", "is this a bot? I want a live agent",
                                  "let me speak with a real human", "I need a representative"])
def test_requests_for_a_person(text):
    assert asks_for_a_person(text)


@pytest.mark.parametrize("text", ["I'm fed up with this lamp", "my order is late", "the parcel was left outside",
                                  "this is ridiculous", "", None, 42])
def test_not_requests_for_a_person(text):
    assert not asks_for_a_person(text)
