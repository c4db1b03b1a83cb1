"""What a website customer has seen: the newest moment of the conversation on their screen (no Rasa).

The widget sends `seen {"at": <Unix seconds of the newest message it shows>}` while its panel is open
and the page visible. The server keeps one mark per conversation (the `seen_marks` table): never
later than now (a client cannot claim to have seen the future) and never moved backwards (an old tab
cannot un-see). When the customer has the newest message of the conversation on screen, they have
seen everything up to now (`seen_moment`), which absorbs the moment between an agent's message
entering the conversation and the desk recording it. The worker emails the agent replies that stay
unseen (careline.notify.unseen_replies).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable, Optional

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from careline.access.webchat import unix_time
from careline.db import SeenMark
from careline.shared import utcnow


def seen_moment(at: Any, newest: Optional[float], now: datetime) -> Optional[datetime]:
    """The moment a `seen` mark stands for, or None for a value that is no Unix time.

    `newest`: the Unix time of the conversation's newest message (None when there is none). Seeing
    it means seeing everything up to `now`; otherwise the mark is `at`, and never later than `now`.
    """
    seconds = unix_time(at)
    if seconds is None:
        return None
    if newest is not None and seconds >= newest:
        return now
    return min(datetime.fromtimestamp(seconds, tz=timezone.utc), now)


class SeenMarks:
    """One mark per conversation in the store (blocking: call off the event loop)."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] = utcnow) -> None:
        self._sessions = sessionmaker(bind=engine, future=True)
        self._clock = clock

    def mark(self, conversation_id: str, moment: datetime) -> datetime:
        """Record that the customer has seen `conversation_id` up to `moment`; the mark it now has."""
        moment = min(moment, self._clock())
        for attempt in range(2):  # two first marks at once: one inserts, the other updates
            try:
                with self._sessions.begin() as session:
                    row = session.get(SeenMark, conversation_id)
                    if row is None:
                        session.add(SeenMark(conversation_id=conversation_id, seen_at=moment))
                        return moment
                    if moment > row.seen_at:
                        row.seen_at = moment
                    seen: datetime = row.seen_at
                    return seen
            except IntegrityError:
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def seen_at(self, conversation_id: str) -> Optional[datetime]:
        """The conversation's mark, or None when its customer has not marked anything seen."""
        with self._sessions() as session:
            seen: Optional[datetime] = session.execute(sa.select(SeenMark.seen_at).where(
                SeenMark.conversation_id == conversation_id)).scalar_one_or_none()
            return seen
