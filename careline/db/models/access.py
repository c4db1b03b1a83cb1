"""Website chat sessions issued by the server."""
from __future__ import annotations

import sqlalchemy as sa

from careline.db.engine import Base, UTCDateTime


class WebSession(Base):
    """A website chat session the server issued; the browser holds the token, we keep its hash."""

    __tablename__ = "web_sessions"

    id = sa.Column(sa.Integer, primary_key=True)
    token_hash = sa.Column(sa.String(64), nullable=False, unique=True)
    sender = sa.Column(sa.String(64), nullable=False, unique=True)
    client = sa.Column(sa.String(128))
    created_at = sa.Column(UTCDateTime, nullable=False)
    last_seen_at = sa.Column(UTCDateTime, nullable=False)
    expires_at = sa.Column(UTCDateTime, nullable=False)
    revoked_at = sa.Column(UTCDateTime)


class SeenMark(Base):
    """The newest moment of a website conversation its customer has seen on screen (the widget's `seen`).

    Never later than when it was recorded, never moved backwards (careline.access.seen_marks); the
    worker emails the agent replies that stay unseen (careline.notify.unseen_replies).
    """

    __tablename__ = "seen_marks"

    conversation_id = sa.Column(sa.String(128), primary_key=True)
    seen_at = sa.Column(UTCDateTime, nullable=False)
