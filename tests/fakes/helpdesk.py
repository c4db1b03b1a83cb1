"""A local fake of an external helpdesk's ticket webhook (the outside world we do not run)."""
from __future__ import annotations

import json
import time
from typing import Dict, List

from tests.fakes.server import FakeServer, JsonHandler


class FakeHelpdesk(FakeServer):
    """Records tickets by Idempotency-Key; can be down (503) or lose its answer after storing."""

    def __init__(self) -> None:
        self.tickets: Dict[str, dict] = {}
        self.requests: List[str] = []
        self.down = False
        self.fail_after_store = 0
        self.delay_s = 0.0  # a slow helpdesk: wait this long before answering
        helpdesk = self

        class Handler(JsonHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                key = self.headers.get("Idempotency-Key", "")
                body = self.body()
                helpdesk.requests.append(key)
                time.sleep(helpdesk.delay_s)
                if helpdesk.down:
                    self.answer(503, {"error": "maintenance"})
                    return
                helpdesk.tickets.setdefault(key, json.loads(body))
                if helpdesk.fail_after_store > 0:
                    helpdesk.fail_after_store -= 1
                    self.answer(500, {"error": "stored, but the answer got lost"})
                    return
                self.answer(201, {"id": key})

        super().__init__(Handler)
        self.url = f"{self.base_url}/tickets"
