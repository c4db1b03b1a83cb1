"""Which channels let the bot write first: the one place that decides it.

- The website (`socketio`): yes. The message is stored with the conversation and sent to every
  open tab; a customer who is away sees it in the widget's history when they come back.
- REST (`rest`): yes. The integration collects what the bot said from `GET /webhooks/rest/messages`.
- Messenger (`facebook`): only within Meta's standard messaging window, 24 hours after the
  customer's last message (kept a little shorter here, so a message is never sent at its edge).
- Any other channel (or none known): no.

A follow-up that may not be sent is recorded as not sent with the reason, never dropped silently.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional

WEBSITE = "socketio"
REST = "rest"
MESSENGER = "facebook"

MESSENGER_WINDOW = timedelta(hours=24)
MESSENGER_MARGIN = timedelta(minutes=10)

#: Reasons a follow-up is not sent (stored in `follow_ups.not_sent_reason`).
MESSENGER_WINDOW_CLOSED = "messenger_window_closed"
CHANNEL_CANNOT_WRITE_FIRST = "channel_cannot_write_first"


@dataclass(frozen=True)
class Reach:
    """Whether the bot may write first in a conversation now; `reason` says why not."""

    allowed: bool
    reason: str = ""


def may_write_first(channel: Optional[str], last_customer_message_at: Optional[datetime], now: datetime) -> Reach:
    """May the bot send a message nobody asked for into a conversation on `channel` at `now`?"""
    if channel in (WEBSITE, REST):
        return Reach(True)
    if channel == MESSENGER:
        if last_customer_message_at is not None and \
                now - last_customer_message_at < MESSENGER_WINDOW - MESSENGER_MARGIN:
            return Reach(True)
        return Reach(False, MESSENGER_WINDOW_CLOSED)
    return Reach(False, CHANNEL_CANNOT_WRITE_FIRST)
