"""A shared part of the system did not answer: the request is refused politely, never handled without it.

Raised by the shared rate limits (Redis), the conversation database (components/runtime/tracker_store.py)
and the conversation locks (components/runtime/lock_store.py); the channels answer it with 503
`unavailable` (REST, with Retry-After), a polite bot message (web chat) or a message through the Send API
(Messenger), and log it.
"""
from __future__ import annotations


class Unavailable(RuntimeError):
    """`part` (what did not answer, in words) is unavailable; `retry_after_s` is a hint for the caller."""

    part = "a part of the service"

    def __init__(self, detail: str, retry_after_s: float = 10.0) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after_s = retry_after_s
