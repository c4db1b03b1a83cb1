"""Whether a message asks for a person, whatever else it says.

"I'm fed up. Human please." is classified as a complaint (it is one), yet it asks for a person,
and such a request is honoured at once (components/frustration_policy.py). Words only: a
message that names a person without asking for one ("the human at the door") is rare in support
chat, and a wrong yes costs a short wait for a colleague, a wrong no an argument.
"""
from __future__ import annotations

import re

from careline.shared import MESSAGE_MAX_CHARS

_PERSON = re.compile(
    r"\b(human|humans|real person|live (person|agent|chat)|a person|actual person|someone real|real someone|"
    r"(an?|your|the) (agent|representative|rep|operator|manager|supervisor)|customer service rep\w*|"
    r"(speak|talk|chat) (to|with) (someone|somebody|anyone|a real)|not a (bot|robot|machine))\b",
    re.IGNORECASE,
)


def asks_for_a_person(text: object) -> bool:
    """True when the text asks to talk to a person."""
    return isinstance(text, str) and bool(_PERSON.search(text[:MESSAGE_MAX_CHARS]))
