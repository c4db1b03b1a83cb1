"""A local fake of Facebook's Graph API Send endpoint that records what the bot sends."""
from __future__ import annotations

import json
import time
from typing import Any, Dict, List
from urllib.parse import parse_qs, urlsplit

from tests.fakes.server import FakeServer, JsonHandler


class FakeGraphAPI(FakeServer):
    """Accepts POST /<version>/me/messages with the page token; keeps every body in `sent`."""

    def __init__(self, page_token: str) -> None:
        self.sent: List[Dict[str, Any]] = []
        self.refused: List[str] = []
        fake = self

        class Handler(JsonHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                url = urlsplit(self.path)
                body = self.body()
                token = parse_qs(url.query).get("access_token", [""])[0]
                if not url.path.endswith("/me/messages") or token != page_token:
                    fake.refused.append(self.path)
                    self.answer(400, {"error": {"message": "Invalid OAuth access token"}})
                    return
                message = json.loads(body)
                fake.sent.append(message)
                self.answer(200, {"recipient_id": message["recipient"]["id"], "message_id": f"m_{len(fake.sent)}"})

        super().__init__(Handler)
        self.url = f"{self.base_url}/v19.0"

    def to(self, psid: str) -> List[Dict[str, Any]]:
        """The messages sent to one Messenger user, in order."""
        return [m["message"] for m in self.sent if m["recipient"]["id"] == psid]

    def wait_for(self, psid: str, count: int = 1, seconds: float = 30.0) -> List[Dict[str, Any]]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and len(self.to(psid)) < count:
            time.sleep(0.2)
        return self.to(psid)
