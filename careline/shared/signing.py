"""Server-signed tokens: what the bot issued comes back unchanged, or it is not honoured.

Slots travel through the tracker and a customer can set them with `/inform{...}`; so anything a
money or identity decision rests on (a verified identity, a proposal awaiting a "yes") is signed
with a key from the environment (`CARELINE_SIGNING_KEY`), bound to the conversation, and
carries its own times. HMAC-SHA256 over canonical JSON, compared in constant time.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any, Dict, Optional

MAX_TOKEN_CHARS = 4000
MIN_KEY_CHARS = 16


class SigningError(ValueError):
    """The signing key is missing or too short."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """Signs and checks small JSON payloads for one purpose (a purpose never verifies another's)."""

    def __init__(self, key: str, purpose: str) -> None:
        if not isinstance(key, str) or len(key) < MIN_KEY_CHARS:
            raise SigningError("CARELINE_SIGNING_KEY must be set to a secret of at least 16 characters "
                               "(`make env` writes one to .env)")
        self._key = hashlib.sha256(f"careline:{purpose}:".encode() + key.encode()).digest()

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode("ascii"), hashlib.sha256).digest())

    def sign(self, payload: Dict[str, Any]) -> str:
        body = _b64(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("utf-8"))
        return f"{body}.{self._mac(body)}"

    def verify(self, token: object) -> Optional[Dict[str, Any]]:
        """The payload of a token this signer issued, or None (malformed, forged or altered)."""
        if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
            return None
        body, mac = token.split(".")
        if not hmac.compare_digest(self._mac(body).encode(), mac.encode("ascii", "replace")):
            return None
        try:
            payload = json.loads(_unb64(body))
        except (ValueError, UnicodeDecodeError):
            return None
        return payload if isinstance(payload, dict) else None


def digest(text: str) -> str:
    """A short one-way fingerprint (e.g. of an email, so a token never carries the address itself)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
