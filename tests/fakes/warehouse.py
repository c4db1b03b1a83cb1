"""A local fake of a warehouse's order webhook (the outside world we do not run)."""
from __future__ import annotations

import json
import time
from typing import Dict, List

from tests.fakes.server import FakeServer, JsonHandler


class FakeWarehouse(FakeServer):
    """Records reshipments by Idempotency-Key and answers a tracking number; can be down (503)."""

    def __init__(self) -> None:
        self.orders: Dict[str, dict] = {}
        self.requests: List[str] = []
        self.down = False
        warehouse = self

        class Handler(JsonHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                key = self.headers.get("Idempotency-Key", "")
                body = self.body()
                warehouse.requests.append(key)
                if warehouse.down:
                    self.answer(503, {"error": "maintenance"})
                    return
                warehouse.orders.setdefault(key, json.loads(body))
                self.answer(201, {"tracking_number": warehouse.tracking_number(key), "carrier": "UPS"})

        super().__init__(Handler)
        self.url = f"{self.base_url}/orders"

    @staticmethod
    def tracking_number(key: str) -> str:
        return "1Z" + "".join(c for c in key if c.isdigit())[-12:].rjust(12, "0")

    def wait_for(self, key: str, timeout_s: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while key not in self.orders and time.monotonic() < deadline:
            time.sleep(0.1)
        return key in self.orders
