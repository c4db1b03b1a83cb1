"""Website chat sessions and history (pure, no Rasa).

The browser keeps a secret session token; the conversation id is a hash of it. Knowing a
conversation id (agents and logs see it) does not let anyone join the conversation, and a
token the server did not issue in the right shape is replaced by a fresh one.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from typing import Any, Dict, Iterable, List, Optional

from careline.shared import said_by_customer

SENDER_PREFIX = "web-"
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")
MAX_HISTORY = 200
MAX_DISPLAY = 200


def new_token() -> str:
    return secrets.token_urlsafe(32)


def valid_token(token: Any) -> Optional[str]:
    return token if isinstance(token, str) and TOKEN_PATTERN.match(token) else None


def sender_for(token: str) -> str:
    """The conversation id of a session token (one-way)."""
    return SENDER_PREFIX + hashlib.sha256(b"careline-web-session:" + token.encode("ascii")).hexdigest()[:40]


def display_metadata(metadata: Any) -> Dict[str, str]:
    """The only metadata the widget may send: what a clicked quick reply showed."""
    if isinstance(metadata, dict) and isinstance(metadata.get("display"), str):
        return {"display": metadata["display"][:MAX_DISPLAY]}
    return {}


def history(events: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Customer and bot messages of a stored conversation, as the widget shows them.

    Only the latest bot message keeps its quick replies (older ones are no longer a question).
    """
    items: List[Dict[str, Any]] = []
    for event in events:
        kind = event.get("event")
        if kind == "user":
            if not said_by_customer(event):  # a follow-up the system triggered: nobody typed it
                continue
            text = event.get("text") or ""
            shown = (event.get("metadata") or {}).get("display") if text.startswith("/") else None
            if text.startswith("/") and not shown:
                continue
            items.append({"role": "customer", "text": shown or text})
        elif kind == "bot":
            data = event.get("data") or {}
            item: Dict[str, Any] = {"role": "bot", "text": event.get("text") or ""}
            if data.get("image"):
                item["image"] = data["image"]
            if data.get("buttons"):
                item["buttons"] = [{"title": b.get("title"), "payload": b.get("payload")} for b in data["buttons"]]
            if (event.get("metadata") or {}).get("agent"):
                item["agent"] = event["metadata"]["agent"]
            if item["text"] or "image" in item:
                items.append(item)
    for item in items[:-1]:
        item.pop("buttons", None)
    return items[-MAX_HISTORY:]
