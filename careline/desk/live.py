"""What keeps the desk's live views (server-sent events, careline.desk.routes.api) cheap and bounded.

- `tracker_mark`: a conversation's newest event id in Rasa's SQL tracker store (read-only): a ticket's
  page reloads the conversation only when it (or the ticket's own record) changed.
- `TicketWatchers`: one watcher per watched ticket, shared by every stream of it: it looks at the
  tracker every TICKET_INTERVAL_S and at the ticket's record every RECORD_EVERY-th time, builds the
  snapshot once per change and hands the same event to all its viewers. The cost grows with the
  number of tickets watched, not with the number of people (or tabs) watching one.
- `SharedReads`: reads many streams make at once (the queue's fingerprint, a filtered queue) made once
  and kept for a moment; concurrent callers of the same read wait for the one load.
- `StreamSlots`: how many live streams one desk session (and one agent) may hold open at once; a
  stream beyond that is refused (429) and the page polls slowly instead.

Everything here lives in the desk process's event loop (one process, careline.desk.__main__).
"""
from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable, Dict, Hashable, Optional, Tuple, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine

log = logging.getLogger("careline.desk")
T = TypeVar("T")

_EVENTS = sa.table("events", sa.column("id"), sa.column("sender_id"))

#: A watched ticket: the tracker store is looked at this often (one indexed read-only query), the
#: ticket's record (a write-locking transaction on SQLite) every RECORD_EVERY-th time.
TICKET_INTERVAL_S = 0.25
RECORD_EVERY = 4
#: Without a tracker store to look at (no events table), or while the bot server does not answer,
#: the conversation is reloaded this often.
TICKET_RELOAD_S = 3.0
#: Live streams (a ticket's or the queue's) one desk session may hold open at once (a tab holds one;
#: browsers open at most 6 connections to one HTTP/1.1 site anyway), and one agent across sessions.
STREAMS_PER_SESSION = 6
STREAMS_PER_AGENT = 12


def tracker_mark(tracker: Engine, conversation_id: str) -> Optional[int]:
    """The id of the conversation's newest event in the tracker store (0: none yet); None when the
    store has no events table (then the caller reloads on a timer instead)."""
    try:
        with tracker.connect() as db:
            newest = db.execute(sa.select(sa.func.max(_EVENTS.c.id))
                                .where(_EVENTS.c.sender_id == conversation_id)).scalar_one()
    except sa.exc.OperationalError:  # no such table (yet), or the file is not there
        return None
    except sa.exc.ProgrammingError:  # the same on PostgreSQL
        return None
    return int(newest or 0)


# --- how many streams ---------------------------------------------------------------------------


class StreamSlots:
    """Open live streams per desk session and per agent, with a cap on each (`take` / `give_back`)."""

    def __init__(self, per_session: int = STREAMS_PER_SESSION, per_agent: int = STREAMS_PER_AGENT) -> None:
        self.per_session, self.per_agent = per_session, per_agent
        self._sessions: Dict[str, int] = {}
        self._agents: Dict[int, int] = {}

    def take(self, session: str, agent: int) -> bool:
        """One more stream for this session and agent; False (nothing taken) when either is at its cap."""
        if self._sessions.get(session, 0) >= self.per_session or self._agents.get(agent, 0) >= self.per_agent:
            return False
        self._sessions[session] = self._sessions.get(session, 0) + 1
        self._agents[agent] = self._agents.get(agent, 0) + 1
        return True

    def give_back(self, session: str, agent: int) -> None:
        _less(self._sessions, session)
        _less(self._agents, agent)

    def open(self, session: str) -> int:
        """How many streams the session holds now."""
        return self._sessions.get(session, 0)


def _less(counts: Dict[Any, int], key: Any) -> None:
    left = counts.get(key, 0) - 1
    if left > 0:
        counts[key] = left
    else:
        counts.pop(key, None)


# --- reads shared by many streams ------------------------------------------------------------------


class SharedReads:
    """A read made once for everyone who asks for it within `ttl` seconds (concurrent callers share
    the one load in flight). A failed load is not kept: the next caller tries again."""

    MAX_KEYS = 512

    def __init__(self) -> None:
        self._reads: Dict[Hashable, Tuple[float, asyncio.Future[Any]]] = {}

    async def get(self, key: Hashable, ttl: float, load: Callable[[], Awaitable[T]]) -> T:
        loop = asyncio.get_running_loop()
        now = loop.time()
        kept = self._reads.get(key)
        if kept is None or (kept[1].done() and (kept[1].cancelled() or kept[1].exception() is not None
                                                 or now - kept[0] >= ttl)):
            if len(self._reads) >= self.MAX_KEYS:
                self._forget_old(now, ttl)
            kept = (now, asyncio.ensure_future(load()))
            self._reads[key] = kept
        result: T = await asyncio.shield(kept[1])  # a caller that goes away does not cancel the others' read
        return result

    def _forget_old(self, now: float, ttl: float) -> None:
        for key, (at, read) in list(self._reads.items()):
            if read.done() and now - at >= ttl:
                del self._reads[key]


# --- one watcher per ticket ----------------------------------------------------------------------------


@dataclass
class TicketSources:
    """How a ticket is looked at (async callables, run by its watcher).

    `record()`: the ticket's fingerprint, None once it is gone; `mark()`: `tracker_mark` of its
    conversation; `load()`: (the event to send, whether it shows the saved copy), None once it is gone.
    """

    record: Callable[[], Awaitable[Optional[Hashable]]]
    mark: Callable[[], Awaitable[Optional[int]]]
    load: Callable[[], Awaitable[Optional[Tuple[str, bool]]]]


@dataclass
class TicketWatch:
    """A watched ticket: the newest snapshot event (`event`, numbered by `version`) for all its viewers."""

    ticket_id: int
    viewers: int = 0
    version: int = 0
    event: str = ""
    ended: bool = False
    task: Optional[asyncio.Task[None]] = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def publish(self, event: str) -> None:
        self.event, self.version = event, self.version + 1
        self._wake()

    def end(self) -> None:
        self.ended = True
        self._wake()

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait(self, seen: int, timeout: float) -> None:
        """Until there is a snapshot newer than version `seen`, the watch ended, or `timeout` seconds passed."""
        if self.version != seen or self.ended or timeout <= 0:
            return
        with suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)

    async def run(self, sources: TicketSources) -> None:
        """Look at the ticket until nobody watches it (the task is cancelled), it is gone, or a read fails."""
        loop = asyncio.get_running_loop()
        record: Optional[Hashable] = None
        last: Any = None
        sent, ticks, saved_copy = 0.0, 0, False
        try:
            while True:
                if ticks % RECORD_EVERY == 0:
                    record = await sources.record()
                    if record is None:
                        break
                mark = await sources.mark()
                blind = mark is None or saved_copy  # nothing to watch, or the bot server was not answering
                if (record, mark) != last or (blind and loop.time() - sent >= TICKET_RELOAD_S):
                    loaded = await sources.load()
                    if loaded is None:
                        break
                    self.publish(loaded[0])
                    last, sent, saved_copy = (record, mark), loop.time(), loaded[1]
                await asyncio.sleep(TICKET_INTERVAL_S)
                ticks += 1
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the viewers' streams end and their pages reconnect
            log.exception("desk: watching ticket %s failed; its live views reconnect", self.ticket_id)
        finally:
            self.end()


class TicketWatchers:
    """The watched tickets of this desk process: `watching(ticket_id, sources)` joins a ticket's watch
    (started by its first viewer with `sources()`), and leaves it when done (the last one stops it)."""

    def __init__(self) -> None:
        self._watches: Dict[int, TicketWatch] = {}

    def watched(self) -> Dict[int, int]:
        """ticket id -> how many viewers it has now."""
        return {ticket: watch.viewers for ticket, watch in self._watches.items()}

    @asynccontextmanager
    async def watching(self, ticket_id: int, sources: Callable[[], TicketSources]) -> AsyncIterator[TicketWatch]:
        watch = self._watches.get(ticket_id)
        if watch is None or watch.ended:
            watch = TicketWatch(ticket_id)
            watch.task = asyncio.ensure_future(watch.run(sources()))
            self._watches[ticket_id] = watch
        watch.viewers += 1
        try:
            yield watch
        finally:
            watch.viewers -= 1
            if watch.viewers <= 0:
                if self._watches.get(ticket_id) is watch:
                    del self._watches[ticket_id]
                if watch.task is not None:
                    watch.task.cancel()


class Live:
    """The live views' shared state of one desk app (careline.desk.routes.api puts it on app.ctx)."""

    def __init__(self, slots: Optional[StreamSlots] = None) -> None:
        self.slots = slots or StreamSlots()
        self.reads = SharedReads()
        self.tickets = TicketWatchers()
