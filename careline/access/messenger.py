"""Facebook Messenger: webhook signatures, incoming events and outgoing messages (pure, no Rasa).

Facebook signs every webhook POST with `X-Hub-Signature-256: sha256=<hex HMAC of the raw body>`,
keyed with the app secret. The legacy SHA-1 `X-Hub-Signature` is not accepted.
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

SENDER_PREFIX = "fb-"
MAX_TEXT = 2000          # Messenger's limit for a text message
MAX_QUICK_REPLIES = 13
MAX_QUICK_REPLY_TITLE = 20
MAX_PAYLOAD = 1000


def verify_signature(app_secret: str, body: bytes, header: Optional[str]) -> bool:
    """True only for a well-formed `sha256=<hex>` header matching the body (constant-time compare)."""
    if not app_secret or not header:
        return False
    scheme, _, given = header.strip().partition("=")
    if scheme.lower() != "sha256" or len(given) != 64:
        return False
    expected = hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given.lower())


def verify_subscription(verify_token: str, mode: Optional[str], token: Optional[str]) -> bool:
    """The webhook verification handshake: `hub.mode=subscribe` with our verify token."""
    return bool(verify_token) and mode == "subscribe" and hmac.compare_digest(
        verify_token.encode("utf-8"), (token or "").encode("utf-8"))


@dataclass(frozen=True)
class Incoming:
    """One customer message from a webhook delivery."""

    psid: str
    message_id: str
    text: str

    @property
    def sender_id(self) -> str:
        return SENDER_PREFIX + self.psid


class MalformedDelivery(ValueError):
    """The webhook body is not a Messenger page delivery."""


def incoming_messages(payload: Any) -> List[Incoming]:
    """Customer messages in a delivery: texts, quick-reply and postback payloads; echoes skipped."""
    if not isinstance(payload, dict) or payload.get("object") != "page" or not isinstance(payload.get("entry"), list):
        raise MalformedDelivery("expected {'object': 'page', 'entry': [...]}")
    found: List[Incoming] = []
    for entry in payload["entry"]:
        for event in (entry or {}).get("messaging") or []:
            psid = str(((event or {}).get("sender") or {}).get("id") or "")
            if not psid.isdigit():
                continue
            message = event.get("message") or {}
            postback = event.get("postback") or {}
            if message.get("is_echo"):
                continue
            quick = (message.get("quick_reply") or {}).get("payload")
            text = quick or message.get("text") or postback.get("payload") or ""
            mid = str(message.get("mid") or postback.get("mid") or "")
            if text and mid:
                found.append(Incoming(psid, mid, str(text)))
    return found


def recipient(sender_id: str) -> str:
    """The page-scoped id Facebook knows, from our sender id."""
    return sender_id[len(SENDER_PREFIX):] if sender_id.startswith(SENDER_PREFIX) else sender_id


def _chunks(text: str, size: int = MAX_TEXT) -> List[str]:
    text = text.strip()
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


def text_messages(text: str, buttons: Sequence[Dict[str, Any]] = ()) -> List[Dict[str, Any]]:
    """Messenger message bodies for a bot text; buttons become quick replies on the last part."""
    messages: List[Dict[str, Any]] = [{"text": part} for part in _chunks(text)]
    quick = [
        {"content_type": "text", "title": str(b.get("title", ""))[:MAX_QUICK_REPLY_TITLE],
         "payload": str(b.get("payload") or b.get("title") or "")[:MAX_PAYLOAD]}
        for b in buttons if b.get("title")
    ][:MAX_QUICK_REPLIES]
    if quick:
        messages[-1]["quick_replies"] = quick
    return messages


def image_message(url: str) -> Dict[str, Any]:
    return {"attachment": {"type": "image", "payload": {"url": url, "is_reusable": True}}}
