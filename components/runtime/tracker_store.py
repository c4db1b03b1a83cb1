"""Careline's tracker store: Rasa's SQL tracker store, read incrementally, handed out bounded, never lossy.

Rasa's SQLTrackerStore reads every event of a conversation on every turn; the processor then replays them
all (a copy of the tracker per action, the past states per prediction) and sends them all to the action
server, so each turn costs more the longer the conversation is. This store keeps the cost of a turn flat:

- Per process it keeps, for each recent conversation, the state at the start of a recent window and the
  window itself (the last `window_turns` customer turns), and reads only the events stored since then
  (by event id, so what another Rasa server wrote is seen on the next turn: a turn runs under the lock
  store's lock, so no two servers write one conversation at once).
- The processor gets a bounded tracker (`get_or_create_tracker`): the state at the window's start as a
  few events (the session's start, slot values, the active loop, a pause), then the window's events. Rasa's
  policies look a few turns back at most (memoization: 4 states; the frustration score decays by 0.4 a
  turn), and the action server receives this bounded tracker too. What needs the whole conversation (a handoff ticket's
  transcript) reads it from the store (careline.handoff.transcript_source).
- `save` writes only the events added to that tracker since it was handed out.
- A database error is retried for `retry_s` seconds and then raised (TrackerStoreUnavailable), so the
  channel answers with an error instead of a 200 whose events were never stored. Rasa wraps every store in
  a FailSafeTrackerStore that logs the error and carries on in memory; `refuses_silent_fallback` tells
  ops/rasa_server.py (components/runtime/guards.py) to leave this store unwrapped.

`retrieve` keeps Rasa's meaning (the whole latest session), for readers such as the chat history.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, TypeVar

import sqlalchemy as sa
import sqlalchemy.exc
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (ActionExecuted, ActionExecutionRejected, ActiveLoop, ConversationPaused, Event,
                                     LoopInterrupted, SessionStarted, SlotSet, UserUttered)
from rasa.shared.core.trackers import DialogueStateTracker

from careline.shared.unavailable import Unavailable

logger = logging.getLogger(__name__)

#: Customer turns a bounded tracker keeps. The policies look 4 states back, the frustration score's weight of
#: a turn 16 turns back is 0.4**16; the actions' look-backs (the request that started an identity check, the
#: bot's latest question) reach 16 turns back at most.
WINDOW_TURNS = 16
#: Customer turns the policies decide on (components/runtime/guards.py): the rule and memoization policies
#: compute a state for every action of the tracker they are given, at every prediction, the largest cost
#: that grows with a conversation. Their rules and memory reach 4 states back; the frustration score's weight
#: of a turn 8 turns back is 0.4**8. tests/e2e/test_long_conversation.py checks every decision of a long
#: conversation against the policies on the whole of it.
POLICY_TURNS = 8
#: Conversations whose state a process keeps, and the events all of them may hold together.
CACHE_CONVERSATIONS = 2000
CACHE_EVENTS = 200_000   # about 400 MB at 2 KB an event
#: How long a database error is retried before the turn fails.
RETRY_S = float(os.environ.get("CARELINE_TRACKER_RETRY_S") or 15)  # Settings.tracker_retry_s

#: The attribute a handed-out tracker carries: how many of its events are stored, and up to which event id.
STORED = "_careline_stored"
T = TypeVar("T")


class TrackerStoreUnavailable(Unavailable):
    """The conversation database did not answer within the retry time; nothing was pretended to be stored."""

    part = "the conversation database"


@dataclass
class _Stored:
    count: int     # tracker.events[:count] are in the database
    last_id: int   # the highest event id among them


@dataclass
class _Conversation:
    """A conversation's latest session as one process knows it."""

    base: DialogueStateTracker            # every event before the window applied (the state at its start)
    window: List[Event] = field(default_factory=list)
    last_id: int = 0                      # the highest stored event id applied (base or window)

    def size(self) -> int:
        return len(self.base.events) + len(self.window)


def window_start(events: Sequence[Event], turns: int) -> int:
    """Index where the last `turns` customer turns begin (at the action_listen before a user message)."""
    seen = 0
    for index in range(len(events) - 1, -1, -1):
        if isinstance(events[index], UserUttered):
            seen += 1
            if seen == turns:
                start = index
                if index > 0 and isinstance(events[index - 1], ActionExecuted) \
                        and events[index - 1].action_name == ACTION_LISTEN_NAME:
                    start = index - 1
                return start
    return 0


def state_events(base: DialogueStateTracker, timestamp: float) -> List[Event]:
    """Events that bring a new tracker to `base`'s state: the session's start (actions bind a proof of
    identity to its time), its slot values, its active loop (interrupted, rejected) and a pause."""
    started = next((e for e in itertools.islice(base.events, 0, 4) if isinstance(e, SessionStarted)), None)
    events: List[Event] = [started] if started is not None else []
    for name, slot in base.slots.items():
        if slot.value != slot.initial_value:
            events.append(SlotSet(name, slot.value, timestamp=timestamp))
    loop = base.active_loop
    if loop is not None and loop.name:
        events.append(ActiveLoop(loop.name, timestamp=timestamp))
        if loop.is_interrupted:
            events.append(LoopInterrupted(True, timestamp=timestamp))
        if loop.rejected:
            events.append(ActionExecutionRejected(loop.name, timestamp=timestamp))
    if base.is_paused():
        events.append(ConversationPaused(timestamp=timestamp))
    return events


def bounded_events(conversation: _Conversation) -> List[Event]:
    """The events of a bounded tracker: the state at the window's start, then the window."""
    if not conversation.base.events:
        return list(conversation.window)
    first = conversation.window[0].timestamp if conversation.window else time.time()
    return state_events(conversation.base, first - 1e-6) + list(conversation.window)


def advance(conversation: _Conversation, events: Iterable[Event], domain: Domain, window_turns: int) -> None:
    """Add `events` to the window; what falls out of it is applied to the base. A new session starts afresh
    (Rasa's `retrieve` starts at the latest session too)."""
    for event in events:
        if isinstance(event, SessionStarted):
            conversation.base = DialogueStateTracker(conversation.base.sender_id, domain.slots)
            conversation.window = []
        conversation.window.append(event)
    start = window_start(conversation.window, window_turns)
    for event in conversation.window[:start]:
        conversation.base.update(event, domain)
    del conversation.window[:start]


def bounded_tracker(sender_id: str, events: Iterable[Event], domain: Domain,
                    window_turns: int = WINDOW_TURNS) -> DialogueStateTracker:
    """The tracker the store hands the processor for a session made of `events` (for tests and tools)."""
    conversation = _Conversation(DialogueStateTracker(sender_id, domain.slots))
    advance(conversation, events, domain, window_turns)
    return DialogueStateTracker.from_events(sender_id, bounded_events(conversation), domain.slots, domain=domain)


def prediction_tracker(tracker: DialogueStateTracker, domain: Domain,
                       turns: int = POLICY_TURNS) -> DialogueStateTracker:
    """The tracker the policies decide on: `tracker` itself when it holds at most `turns` customer turns,
    else its state before the last `turns` of them and those turns (the same form as a bounded tracker)."""
    start = window_start(tracker.events, turns)
    if not any(isinstance(event, UserUttered) for event in itertools.islice(tracker.events, 0, start)):
        return tracker  # nothing to leave out
    return bounded_tracker(tracker.sender_id, tracker.events, domain, turns)


class _Conversations:
    """The per-process cache: least recently used conversations are forgotten first."""

    def __init__(self, max_conversations: int = CACHE_CONVERSATIONS, max_events: int = CACHE_EVENTS) -> None:
        self._items: OrderedDict[str, _Conversation] = OrderedDict()
        self._sizes: Dict[str, int] = {}  # each conversation's size when it was last put: it grows in place
        self._events = 0
        self._max_conversations = max_conversations
        self._max_events = max_events
        self._lock = threading.Lock()

    def get(self, sender_id: str) -> Optional[_Conversation]:
        with self._lock:
            item = self._items.get(sender_id)
            if item is not None:
                self._items.move_to_end(sender_id)
            return item

    def put(self, sender_id: str, item: _Conversation) -> None:
        """Keep `item` (again, after it grew): the oldest conversations go beyond the budget, this one too
        when it alone is larger (its next turn reads it from the database again)."""
        with self._lock:
            self._items.pop(sender_id, None)
            self._events -= self._sizes.pop(sender_id, 0)
            self._items[sender_id] = item
            self._sizes[sender_id] = item.size()
            self._events += self._sizes[sender_id]
            while self._items and (len(self._items) > self._max_conversations or self._events > self._max_events):
                dropped, _ = self._items.popitem(last=False)
                self._events -= self._sizes.pop(dropped, 0)

    def forget(self, sender_id: str) -> None:
        with self._lock:
            self._items.pop(sender_id, None)
            self._events -= self._sizes.pop(sender_id, 0)

    def __len__(self) -> int:
        return len(self._items)

    @property
    def events(self) -> int:
        """The events of every kept conversation, as counted when each was last put."""
        return self._events


class CarelineTrackerStore(SQLTrackerStore):
    """See the module docstring. endpoints.yml: `type: components.runtime.tracker_store.CarelineTrackerStore`."""

    refuses_silent_fallback = True

    def __init__(self, domain: Optional[Domain] = None, host: Optional[str] = None,
                 event_broker: Optional[EventBroker] = None, window_turns: int = WINDOW_TURNS,
                 retry_s: float = RETRY_S, **kwargs: Any) -> None:
        url = host or os.environ.get("CARELINE_TRACKER_DB_URL", "")
        if not url:
            raise ValueError("the tracker store needs a database URL (CARELINE_TRACKER_DB_URL or `url:`)")
        super().__init__(domain=domain, host=url, event_broker=event_broker, **kwargs)
        self.window_turns = max(2, int(window_turns))
        self.retry_s = float(retry_s)
        self._conversations = _Conversations()
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
            self.engine.dispose()  # the connections Rasa opened already, without them
        self._add_index()

    def _add_index(self) -> None:
        """An index on (sender_id, id): reading a conversation's newest events touches only those."""
        try:
            with self.engine.begin() as connection:
                connection.execute(sa.text("CREATE INDEX IF NOT EXISTS ix_events_sender_id_id ON events "
                                           "(sender_id, id)"))
        except sqlalchemy.exc.SQLAlchemyError as error:  # another server creating it at the same moment
            logger.warning("tracker store: could not add the (sender_id, id) index: %s", error)

    # --- database access, retried -----------------------------------------------------------------------

    async def _retrying(self, what: str, work: Callable[[], T]) -> T:
        """`work` in a thread (a hung database must not freeze the server's other conversations), retried
        on database errors until `retry_s` is spent; then TrackerStoreUnavailable, even if it still hangs."""
        deadline = time.monotonic() + self.retry_s
        delay = 0.1
        attempt = 0
        while True:
            attempt += 1
            try:
                return await asyncio.wait_for(asyncio.to_thread(work), max(0.5, deadline - time.monotonic()))
            except asyncio.TimeoutError as error:
                logger.error("tracker store: %s did not answer within %.0fs; giving up", what, self.retry_s)
                raise TrackerStoreUnavailable(
                    f"the conversation database did not answer ({what}) within {self.retry_s:.0f}s") from error
            except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError,
                    sqlalchemy.exc.DBAPIError) as error:
                if time.monotonic() + delay > deadline:
                    logger.error("tracker store: %s failed after %d attempts in %.0fs; giving up: %s",
                                 what, attempt, self.retry_s, _short(error))
                    raise TrackerStoreUnavailable(
                        f"the conversation database did not answer ({what}) within {self.retry_s:.0f}s") from error
                logger.warning("tracker store: %s failed (attempt %d), retrying in %.1fs: %s", what, attempt,
                               delay, _short(error))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    def _rows_after(self, sender_id: str, after_id: int) -> List[Tuple[int, str, str]]:
        """(id, type_name, data) of the conversation's events stored after `after_id`, oldest first."""
        with self.session_scope() as session:
            query = session.query(self.SQLEvent.id, self.SQLEvent.type_name, self.SQLEvent.data).filter(
                self.SQLEvent.sender_id == sender_id, self.SQLEvent.id > after_id).order_by(self.SQLEvent.id)
            return [(int(row[0]), str(row[1]), str(row[2])) for row in query.all()]

    def _session_rows(self, sender_id: str) -> List[Tuple[int, str, str]]:
        """(id, type_name, data) of the latest session's events, as Rasa's `retrieve` reads them."""
        with self.session_scope() as session:
            query = self._event_query(session, sender_id, fetch_events_from_all_sessions=False)
            return [(int(row.id), str(row.type_name), str(row.data)) for row in query.all()]

    def _all_rows(self, sender_id: str) -> List[Tuple[int, str, str]]:
        with self.session_scope() as session:
            query = self._event_query(session, sender_id, fetch_events_from_all_sessions=True)
            return [(int(row.id), str(row.type_name), str(row.data)) for row in query.all()]

    def _insert(self, sender_id: str, events: Sequence[Event], after_id: Optional[int]) -> int:
        """Store `events`; return the highest id. With `after_id`, a retry after an unclear commit finds
        the events already there (same number, same types, after that id) and does not store them twice."""
        with self.session_scope() as session:
            if after_id is not None:
                there = session.query(self.SQLEvent.id, self.SQLEvent.type_name).filter(
                    self.SQLEvent.sender_id == sender_id, self.SQLEvent.id > after_id).order_by(
                    self.SQLEvent.id).all()
                if there and [row[1] for row in there] == [event.type_name for event in events]:
                    return int(there[-1][0])
                if there:
                    raise _Moved()
            rows = [self._row(sender_id, event) for event in events]
            session.add_all(rows)
            session.flush()
            last = max(int(row.id) for row in rows)
            session.commit()
            return last

    def _row(self, sender_id: str, event: Event) -> Any:
        data = event.as_dict()
        intent = (data.get("parse_data") or {}).get("intent", {}).get("name")
        return self.SQLEvent(sender_id=sender_id, type_name=event.type_name, timestamp=data.get("timestamp"),
                             intent_name=intent, action_name=data.get("name"), data=json.dumps(data))

    # --- the bounded tracker -----------------------------------------------------------------------------

    def _apply(self, conversation: _Conversation, events: Iterable[Event]) -> None:
        advance(conversation, events, self.domain, self.window_turns)

    def _from_rows(self, sender_id: str, rows: Sequence[Tuple[int, str, str]]) -> _Conversation:
        conversation = _Conversation(self.init_tracker(sender_id))
        self._apply(conversation, _events(rows))
        conversation.last_id = rows[-1][0] if rows else 0
        return conversation

    def _hand_out(self, sender_id: str, conversation: _Conversation) -> DialogueStateTracker:
        events = bounded_events(conversation)
        tracker = DialogueStateTracker.from_events(sender_id, events, self.domain.slots, domain=self.domain)
        setattr(tracker, STORED, _Stored(len(tracker.events), conversation.last_id))
        return tracker

    async def _current(self, sender_id: str) -> Optional[_Conversation]:
        """The conversation's latest session, brought up to date with what is stored since this process saw it."""
        known = self._conversations.get(sender_id)
        if known is not None:
            rows = await self._retrying("reading new events", lambda: self._rows_after(sender_id, known.last_id))
            if not rows:
                return known
            self._apply(known, _events(rows))
            known.last_id = rows[-1][0]
            self._conversations.put(sender_id, known)
            return known
        rows = await self._retrying("reading the conversation", lambda: self._session_rows(sender_id))
        if not rows:
            return None
        conversation = self._from_rows(sender_id, rows)
        self._conversations.put(sender_id, conversation)
        return conversation

    async def get_or_create_tracker(self, sender_id: str, max_event_history: Optional[int] = None,
                                    append_action_listen: bool = True) -> DialogueStateTracker:
        """The bounded tracker the processor works on (created, with an action_listen, when new)."""
        conversation = await self._current(sender_id)
        if conversation is None:
            return await self.create_tracker(sender_id, append_action_listen=append_action_listen)
        return self._hand_out(sender_id, conversation)

    async def retrieve(self, sender_id: str) -> Optional[DialogueStateTracker]:
        """The whole latest session (Rasa's meaning); a database error is raised, never an empty result."""
        rows = await self._retrying("reading the conversation", lambda: self._session_rows(sender_id))
        if not rows:
            return None
        return DialogueStateTracker.from_events(sender_id, _events(rows), self.domain.slots, domain=self.domain)

    async def retrieve_full_tracker(self, conversation_id: str) -> Optional[DialogueStateTracker]:
        """Every session of the conversation (the HTTP API's tracker), read with retries like the rest."""
        rows = await self._retrying("reading every session", lambda: self._all_rows(conversation_id))
        if not rows:
            return None
        return DialogueStateTracker.from_events(conversation_id, _events(rows), self.domain.slots,
                                                domain=self.domain)

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Store the events added to `tracker` since it was handed out (or, for a tracker from elsewhere,
        the events beyond those already stored, as Rasa does)."""
        await self.stream_events(tracker)
        sender_id = tracker.sender_id
        stored: Optional[_Stored] = getattr(tracker, STORED, None)
        events = list(tracker.events)
        if stored is None:
            count = await self._retrying("counting stored events", lambda: self._count(sender_id))
            new = events[count:]
            after: Optional[int] = None
        else:
            new = events[stored.count:]
            after = stored.last_id
        if not new:
            return
        try:
            last_id = await self._retrying("saving events", lambda: self._insert(sender_id, new, after))
        except _Moved:
            # another process wrote this conversation since the tracker was handed out (no lock store
            # shared between the servers?): keep Rasa's behaviour, store what the count says is new
            logger.error("tracker store: conversation %s was written by another process during a turn; "
                         "is the lock store shared by every Rasa server (CARELINE_REDIS_URL)?", sender_id)
            self._conversations.forget(sender_id)
            count = await self._retrying("counting stored events", lambda: self._count(sender_id))
            last_id = await self._retrying("saving events",
                                           lambda: self._insert(sender_id, events[count:], None))
            stored = None
        known = self._conversations.get(sender_id)
        if stored is not None and known is not None and known.last_id == stored.last_id:
            self._apply(known, new)
            known.last_id = last_id
            self._conversations.put(sender_id, known)
        elif stored is None or known is None:
            self._conversations.forget(sender_id)
        setattr(tracker, STORED, _Stored(len(events), last_id))

    def _count(self, sender_id: str) -> int:
        with self.session_scope() as session:
            return int(self._event_query(session, sender_id, fetch_events_from_all_sessions=False).count())


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    """A SQLite file written ahead (WAL: readers such as the desk never block the writer) and synced at
    checkpoints rather than at every commit: a committed turn survives any process's crash (not a power cut,
    which the prod profile's PostgreSQL is for)."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class _Moved(Exception):
    """Events were stored after the id a tracker was handed out with, by someone else."""


def _events(rows: Sequence[Tuple[int, str, str]]) -> List[Event]:
    from rasa.shared.core.events import deserialise_events

    return deserialise_events([json.loads(row[2]) for row in rows])


def _short(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__
