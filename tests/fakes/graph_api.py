"""A local fake of Facebook's Graph API Send endpoint that records what the bot sends."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List
from urllib.parse import parse_qs, urlsplit


class FakeGraphAPI:
    """Accepts POST /<version>/me/messages with the page token; keeps every body in `sent`."""

    def __init__(self, page_token: str) -> None:
        self.sent: List[Dict[str, Any]] = []
        self.refused: List[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                url = urlsplit(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                token = parse_qs(url.query).get("access_token", [""])[0]
                if not url.path.endswith("/me/messages") or token != page_token:
                    fake.refused.append(self.path)
                    self._answer(400, {"error": {"message": "Invalid OAuth access token"}})
                    return
                message = json.loads(body)
                fake.sent.append(message)
                self._answer(200, {"recipient_id": message["recipient"]["id"], "message_id": f"m_{len(fake.sent)}"})

            def _answer(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v19.0"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def to(self, psid: str) -> List[Dict[str, Any]]:
        """The messages sent to one Messenger user, in order."""
        return [m["message"] for m in self.sent if m["recipient"]["id"] == psid]

    def wait_for(self, psid: str, count: int = 1, seconds: float = 30.0) -> List[Dict[str, Any]]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and len(self.to(psid)) < count:
            time.sleep(0.2)
        return self.to(psid)

    def __enter__(self) -> FakeGraphAPI:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.server.shutdown()
        self.server.server_close()
