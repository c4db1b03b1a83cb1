"""Helpers for running rasa-sdk actions against the real seeded SQLite store."""
from __future__ import annotations

import asyncio
from typing import Any, Dict, List, Optional

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import deps

SIGNING_KEY = "action-tests-signing-key-0123456789"
CONVERSATION = "test-conversation"


@pytest.fixture(autouse=True)
def store_env(fresh_store_url: str, monkeypatch: pytest.MonkeyPatch):
    """Point the actions at a private copy of the seeded test database, with a signing key."""
    monkeypatch.setenv("CARELINE_STORE_DB_URL", fresh_store_url)
    monkeypatch.setenv("CARELINE_SIGNING_KEY", SIGNING_KEY)
    deps.reset()
    yield
    deps.reset()


def user_event(intent: str, text: str = "", confidence: float = 0.95,
               ranking: Optional[List[Dict[str, Any]]] = None) -> Dict[str, Any]:
    return {
        "event": "user", "text": text,
        "parse_data": {"intent": {"name": intent, "confidence": confidence},
                       "intent_ranking": ranking or [{"name": intent, "confidence": confidence}],
                       "entities": [], "text": text},
    }


def proof(order_id: str, email: str, sender: str = CONVERSATION) -> str:
    """The `verified` slot a conversation holds after proving order + email (a fresh, signed token)."""
    return deps.identity_tokens().issue(f"{sender}@0", order_id, email)


def make_tracker(events: List[Dict[str, Any]], slots: Optional[Dict[str, Any]] = None,
                 active_loop: Optional[Dict[str, Any]] = None, verified: bool = True,
                 sender: str = CONVERSATION) -> Tracker:
    """A tracker; with `order_id` and `email` slots it holds their proof too unless `verified=False`
    (or a `verified` slot is given)."""
    slots = dict(slots or {})
    if slots.get("proposal") and not any((e.get("data") or {}).get("buttons") for e in events):
        events = _asked_before_the_answer(events)
    latest = next((e["parse_data"] for e in reversed(events) if e.get("event") == "user"), {})
    if verified and "verified" not in slots and slots.get("order_id") and slots.get("email"):
        slots["verified"] = proof(slots["order_id"], slots["email"], sender)
    return Tracker(
        sender_id=sender, slots=slots, latest_message=latest,
        events=events, paused=False, followup_action=None, active_loop=active_loop or {},
        latest_action_name="action_listen",
    )


#: A yes/no question as the bot asks it (its buttons answer /affirm and /deny).
QUESTION = [{"event": "action", "name": "action_order_request"},
            {"event": "bot", "text": "Shall I go ahead?",
             "data": {"buttons": [{"title": "Yes, please", "payload": "/affirm"},
                                  {"title": "No, thanks", "payload": "/deny"}]}},
            {"event": "action", "name": "action_listen"}]


def _asked_before_the_answer(events: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """A tracker holding a proposal had its question asked: put the question before the customer's answer
    (a yes only answers a proposal whose question is the bot's latest, actions/orders.py)."""
    last_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=len(events))
    return events[:last_user] + QUESTION + events[last_user:]


def run_action(action, tracker: Tracker, domain: Optional[Dict[str, Any]] = None):
    """Run an action; return (messages sent, events returned)."""
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, domain or {}))
    return dispatcher.messages, events


def handed_over(events: List[Dict[str, Any]]) -> bool:
    """Whether the events hand the conversation to a person (the `handoff_ticket` slot names a ticket)."""
    return any(e.get("event") == "slot" and e.get("name") == "handoff_ticket" and e.get("value") for e in events)
