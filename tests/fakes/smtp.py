"""A local fake SMTP server (aiosmtpd): the mail server of the outside world we do not run.

It keeps every message it accepted (parsed), can be down (421 to every recipient, so nothing is
accepted), can take a message and then lose its answer (451 after storing: the sender must try
again and the same Message-ID arrives twice), and can start late on a port chosen in advance.
"""
from __future__ import annotations

import socket
import threading
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, List, Optional

from aiosmtpd.controller import Controller


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FakeSmtp:
    """An SMTP server on 127.0.0.1; serves inside `with` (or from `start()` to `stop()`)."""

    def __init__(self, port: Optional[int] = None) -> None:
        self.host = "127.0.0.1"
        self.port = port or _free_port()
        self.messages: List[EmailMessage] = []
        self.tries = 0
        self.down = False
        self.lose_answers = 0
        self._lock = threading.Lock()
        self._controller: Optional[Controller] = None
        fake = self

        class Handler:
            async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,  # noqa: N802
                                  options: Any) -> str:
                fake.tries += 1
                if fake.down:
                    return "421 4.3.2 Service not available, try again later"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
                with fake._lock:
                    fake.messages.append(message)  # type: ignore[arg-type]
                    if fake.lose_answers > 0:
                        fake.lose_answers -= 1
                        return "451 4.3.0 Stored, but the answer got lost"
                return "250 Message accepted for delivery"

        self._handler = Handler()

    @property
    def env(self) -> dict:
        """What a system under test needs to send here."""
        return {"CARELINE_SMTP_HOST": self.host, "CARELINE_SMTP_PORT": str(self.port), "CARELINE_SMTP_SECURITY": "none"}

    def start(self) -> FakeSmtp:
        self._controller = Controller(self._handler, hostname=self.host, port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> FakeSmtp:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def to(self, address: str) -> List[EmailMessage]:
        """The messages accepted for `address`."""
        with self._lock:
            return [m for m in self.messages if address in str(m.get("To", ""))]

    def wait_for(self, address: str, count: int = 1, timeout_s: float = 30.0) -> List[EmailMessage]:
        """The messages for `address` once there are `count` (or what there is after `timeout_s`)."""
        deadline = time.monotonic() + timeout_s
        while len(self.to(address)) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.to(address)
