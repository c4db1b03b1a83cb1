"""A conversation's stored events, read from the tracker database (Rasa's `events` table) without Rasa.

The Rasa server hands the action server a bounded tracker (components/runtime/tracker_store.py: the last turns and
the state before them). What needs the whole conversation, such as a handoff ticket's transcript and
frustration trajectory, reads the stored session here and adds the turn in progress (`with_unsaved`).
"""
from __future__ import annotations

import json
from typing import Any, Dict, Iterable, List, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Engine

EVENTS = sa.table("events", sa.column("id"), sa.column("sender_id"), sa.column("type_name"), sa.column("data"))
SESSION_STARTED = "session_started"


def latest_session(engine: Engine, sender_id: str) -> List[Dict[str, Any]]:
    """The events of the conversation's latest session (from its last `session_started`), oldest first."""
    with engine.connect() as db:
        start = db.execute(sa.select(sa.func.max(EVENTS.c.id)).where(
            EVENTS.c.sender_id == sender_id, EVENTS.c.type_name == SESSION_STARTED)).scalar()
        query = sa.select(EVENTS.c.data).where(EVENTS.c.sender_id == sender_id)
        if start is not None:
            query = query.where(EVENTS.c.id >= start)
        rows = db.execute(query.order_by(EVENTS.c.id)).scalars().all()
    return [json.loads(row) for row in rows if row]


def with_unsaved(stored: Sequence[Mapping[str, Any]], current: Iterable[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """`stored`, then the events of `current` (the tracker in hand) newer than the last stored one: the
    turn in progress, which is saved when the turn ends."""
    last = max((float(event.get("timestamp") or 0) for event in stored), default=None)
    if last is None:
        return [dict(event) for event in current]
    return [dict(event) for event in stored] + [dict(event) for event in current
                                                 if float(event.get("timestamp") or 0) > last]
