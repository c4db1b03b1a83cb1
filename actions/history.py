"""The whole conversation for the actions that need it (a handoff ticket's transcript, the offers declined).

The tracker an action receives holds the last turns only (components/runtime/tracker_store.py); the stored session
is read from the tracker database and the turn in progress added. When the database cannot be read, the
tracker in hand is what there is (logged: the ticket then shows the recent turns only).
"""
from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any, Dict, List

import sqlalchemy.exc
from rasa_sdk import Tracker
from sqlalchemy.engine import Engine

from actions.deps import settings
from careline.db.engine import make_engine
from careline.db.tracker_events import latest_session, with_unsaved

logger = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def tracker_engine() -> Engine:
    return make_engine(settings().tracker_db_url, read_only=True)


def whole_conversation(tracker: Tracker) -> List[Dict[str, Any]]:
    """The latest session's events, oldest first, including the turn in progress."""
    try:
        stored = latest_session(tracker_engine(), tracker.sender_id)
    except sqlalchemy.exc.SQLAlchemyError as error:
        logger.error("the stored conversation %s could not be read (%s); using the recent turns only",
                     tracker.sender_id, error)
        return list(tracker.events)
    return with_unsaved(stored, tracker.events)
