"""What in a stored conversation the customer said, and what the system triggered in their name.

A message the bot sends first (a follow-up, a late-order notice) starts with a user event that
nobody typed: Rasa's `trigger_intent` stores an intent named `EXTERNAL_...` (text "EXTERNAL: ...").
Everything that shows or counts what a customer said (the widget's history, a ticket's transcript,
the desk, analytics, frustration) leaves those out with `said_by_customer`.
"""
from __future__ import annotations

from typing import Any, Mapping

#: The intents only the system triggers (careline/followup); a customer's words never classify as one.
EXTERNAL_INTENT_PREFIX = "EXTERNAL_"


def is_external_intent(intent: Any) -> bool:
    """Whether an intent name is one the system triggers rather than one a customer expresses."""
    return isinstance(intent, str) and intent.startswith(EXTERNAL_INTENT_PREFIX)


def said_by_customer(event: Mapping[str, Any]) -> bool:
    """A `user` event (a Rasa event dictionary) that a customer sent, not one the system triggered."""
    if event.get("event") != "user":
        return False
    intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
    return not is_external_intent(intent)
