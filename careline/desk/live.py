"""What tells the desk's live views that something changed, cheaply, before anything is loaded.

A ticket's page listens to /api/tickets/<id>/stream: the stream reloads the conversation from Rasa
only when the conversation's newest event in Rasa's SQL tracker store (read-only) or the ticket's
own record (careline.desk.service.DeskService.ticket_fingerprint) changed.
"""
from __future__ import annotations

from typing import Optional

import sqlalchemy as sa
from sqlalchemy.engine import Engine

_EVENTS = sa.table("events", sa.column("id"), sa.column("sender_id"))


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
