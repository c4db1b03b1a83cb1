"""A local fake of an external helpdesk's ticket webhook (the outside world we do not run)."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List


class FakeHelpdesk:
    """Records tickets by Idempotency-Key; can be down (503) or lose its answer after storing."""

    def __init__(self) -> None:
        self.tickets: Dict[str, dict] = {}
        self.requests: List[str] = []
        self.down = False
        self.fail_after_store = 0
        helpdesk = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                key = self.headers.get("Idempotency-Key", "")
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                helpdesk.requests.append(key)
                if helpdesk.down:
                    self._answer(503, {"error": "maintenance"})
                    return
                helpdesk.tickets.setdefault(key, json.loads(body))
                if helpdesk.fail_after_store > 0:
                    helpdesk.fail_after_store -= 1
                    self._answer(500, {"error": "stored, but the answer got lost"})
                    return
                self._answer(201, {"id": key})

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
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/tickets"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeHelpdesk:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.server.shutdown()
        self.server.server_close()
