"""Signed, expiring links to a return label: GET /returns/label/<token>.pdf on the shop page server.

The token carries the return's reference and when the link expires, signed for the purpose
"return-label" with CARELINE_SIGNING_KEY (careline.shared.Signer: a token of another purpose, an
altered one or a made-up one does not verify). The label itself is always read from the store.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Optional

from careline.shared import Signer, utcnow

PURPOSE = "return-label"
PATH_PREFIX = "/returns/label/"
#: A token as Signer makes it (base64url body, a dot, the 43-character base64url HMAC), then ".pdf".
LINK_PATH = re.compile(r"^/returns/label/([A-Za-z0-9_-]{1,1000}\.[A-Za-z0-9_-]{43})\.pdf$")
VALID, EXPIRED, INVALID = "valid", "expired", "invalid"


@dataclass(frozen=True)
class LinkCheck:
    """What a link is: `valid` (with its reference), `expired`, or `invalid` (forged, altered, malformed)."""

    status: str
    reference: Optional[str] = None


class LabelLinks:
    """Makes and checks the links of return labels."""

    def __init__(self, signing_key: str, base_url: str, days: int = 30,
                 now: Callable[[], datetime] = utcnow) -> None:
        self._signer = Signer(signing_key, PURPOSE)
        self._base = base_url.rstrip("/")
        self.lifetime = timedelta(days=days)
        self._now = now

    def expiry(self) -> datetime:
        """When a link made now stops working."""
        return self._now() + self.lifetime

    def url(self, reference: str) -> str:
        """A link to the label of `reference` that works for `lifetime` from now."""
        token = self._signer.sign({"ref": reference, "exp": int(self.expiry().timestamp())})
        return f"{self._base}{PATH_PREFIX}{token}.pdf"

    def check_path(self, path: str) -> LinkCheck:
        """What the request path `path` (no query string) names."""
        match = LINK_PATH.match(path)
        if match is None:
            return LinkCheck(INVALID)
        payload = self._signer.verify(match.group(1))
        if payload is None:
            return LinkCheck(INVALID)
        reference, expires = payload.get("ref"), payload.get("exp")
        if not isinstance(reference, str) or not isinstance(expires, int) or isinstance(expires, bool):
            return LinkCheck(INVALID)
        if self._now() >= datetime.fromtimestamp(expires, tz=timezone.utc):
            return LinkCheck(EXPIRED)
        return LinkCheck(VALID, reference)
