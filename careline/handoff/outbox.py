"""Delivering stored tickets to an external helpdesk: the outbox worker's logic.

`HelpdeskOutbox.deliver_due` sends what is due with a timeout and an `Idempotency-Key` header (the
helpdesk can drop repeats), and on failure schedules the next try with exponential backoff; the
claim, send and record steps are the store's one outbox loop (`careline.db.Outbox`). The worker
(`python -m careline.worker`) runs it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Optional

import requests
from sqlalchemy.engine import Engine

from careline.db import Outbox, OutboxMessage, Sent, Tally, post_webhook
from careline.shared import utcnow


@dataclass(frozen=True)
class _Claimed:
    """An outbox message taken out of the store for one delivery attempt."""

    payload: str
    idempotency_key: str


class HelpdeskOutbox:
    """Delivers queued tickets to the helpdesk webhook, retrying with backoff until it answers."""

    def __init__(self, engine: Engine, url: str, timeout_s: float = 5.0, max_backoff_s: float = 300.0,
                 http: Optional[requests.Session] = None, now: Callable[[], datetime] = utcnow) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"helpdesk URL must be http(s), got {url!r}")
        self._url = url
        self._timeout = timeout_s
        self._http = http or requests.Session()
        self._outbox: Outbox[_Claimed, requests.Response] = Outbox(
            engine, OutboxMessage, read=lambda row: _Claimed(row.payload, row.idempotency_key), send=self._send,
            send_timeout_s=timeout_s, max_backoff_s=max_backoff_s, now=now)

    def backoff(self, attempts: int) -> timedelta:
        return self._outbox.backoff(attempts)

    def deliver_due(self, limit: int = 20) -> Tally:
        """Try every message that is due; return (delivered, failed)."""
        return self._outbox.deliver_due(limit)

    def _send(self, message: _Claimed) -> Sent[requests.Response]:
        return post_webhook(self._http, self._url, message.payload, message.idempotency_key, self._timeout)

    def pending(self) -> int:
        return self._outbox.pending()
