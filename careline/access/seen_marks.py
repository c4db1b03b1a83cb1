"""What a website customer has seen: the newest moment of the conversation on their screen (no Rasa).

The widget sends `seen {"at": <Unix seconds of the newest message it shows>}` while its panel is open
and the page visible. The server keeps one mark per conversation (the `seen_marks` table): never
later than now (a client cannot claim to have seen the future) and never moved backwards (an old tab
cannot un-see). When the customer has the newest message of the conversation on screen, they have
seen everything up to now (`seen_moment`), which absorbs the moment between an agent's message
entering the conversation and the desk recording it. The worker emails the agent replies that stay
unseen (careline.notify.unseen_replies).

`SeenPacing` keeps a process's marks cheap, whatever many sockets send: per conversation (not per
socket) at most one write every SEEN_EVERY_S (marks that come meanwhile wait, the newest is written),
within a budget of writes per client address (many conversations from one address), none for a mark
that moves less than MIN_MOVE, and the newest message time the server itself sent to the
conversation remembered in memory (no tracker is read for a mark). Its memory is bounded.
"""
from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Optional

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from careline.access.webchat import unix_time
from careline.db import SeenMark
from careline.shared import RateLimiter, utcnow

#: A conversation's mark is written at most this often (one waiting meanwhile takes the newest mark).
SEEN_EVERY_S = 2.0
#: A mark that moves less than this past the one written is not written.
MIN_MOVE = timedelta(seconds=2)
#: Conversations a process remembers (the least recently used are forgotten first).
MAX_CONVERSATIONS = 10_000


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


@dataclass
class _Conversation:
    sent: Optional[float] = None          # the newest message the server sent it (Unix seconds)
    waiting: Optional[float] = None       # the newest mark waiting for its turn
    due: float = 0.0                      # when its next write may happen (the pacing's clock)
    written: Optional[datetime] = None    # its mark in the store, as far as this process knows


class SeenPacing:
    """When a conversation's `seen` marks are written: pure, in memory, bounded (one per process).

    Not thread-safe: used from one event loop. Forgetting a conversation costs at most a write or
    a mark that is the message's own time instead of now (`seen_moment` without the newest).
    """

    def __init__(self, per_address: Optional[RateLimiter] = None, every_s: float = SEEN_EVERY_S,
                 min_move: timedelta = MIN_MOVE, max_conversations: int = MAX_CONVERSATIONS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.every_s, self.min_move, self._max, self._clock = every_s, min_move, max_conversations, clock
        self._per_address = per_address
        self._conversations: OrderedDict[str, _Conversation] = OrderedDict()

    def _get(self, conversation_id: str) -> _Conversation:
        state = self._conversations.pop(conversation_id, None) or _Conversation()
        self._conversations[conversation_id] = state
        while len(self._conversations) > self._max:
            self._conversations.popitem(last=False)
        return state

    def __len__(self) -> int:
        return len(self._conversations)

    def sent(self, conversation_id: str, times: Iterable[Any]) -> None:
        """The server sent the conversation messages of these times (bot_uttered, history)."""
        newest = max((t for t in map(unix_time, times) if t is not None), default=None)
        if newest is not None:
            state = self._get(conversation_id)
            state.sent = newest if state.sent is None else max(state.sent, newest)

    def newest(self, conversation_id: str) -> Optional[float]:
        """The newest message the server sent the conversation, or None when it does not know."""
        state = self._conversations.get(conversation_id)
        return state.sent if state else None

    def offer(self, conversation_id: str, address: str, at: float) -> Optional[float]:
        """Take a mark sent from `address`: the seconds until it is written (0: now), or None when it
        joined the mark waiting for its turn or `address` has spent its budget of writes (dropped)."""
        state = self._get(conversation_id)
        if state.waiting is not None:
            state.waiting = max(state.waiting, at)
            return None
        if self._per_address is not None and not self._per_address.hit(address).allowed:
            return None
        state.waiting = at
        now = self._clock()
        wait = max(0.0, state.due - now)
        state.due = max(now, state.due) + self.every_s
        return wait

    def take(self, conversation_id: str) -> Optional[float]:
        """The mark whose turn it is (it no longer waits), or None."""
        state = self._conversations.get(conversation_id)
        if state is None or state.waiting is None:
            return None
        at, state.waiting = state.waiting, None
        return at

    def worth_writing(self, conversation_id: str, moment: datetime) -> bool:
        """False when the store's mark is known to be ahead of `moment`, or less than MIN_MOVE behind it
        with no message sent in between (a mark that newly covers a message is always written)."""
        state = self._conversations.get(conversation_id)
        if state is None or state.written is None:
            return True
        if moment <= state.written:
            return False
        if moment >= state.written + self.min_move:
            return True
        return state.sent is not None and state.written.timestamp() < state.sent <= moment.timestamp()

    def written(self, conversation_id: str, mark: datetime) -> None:
        """The store's mark of the conversation is now `mark`."""
        self._get(conversation_id).written = mark
