"""Server-issued website chat sessions, remembered in the shop store (`web_sessions`; no Rasa).

The browser holds a random token; we keep only its SHA-256 hash, the conversation id it opens, the
client that opened it and its times. A token is honoured only if we issued it, it is not revoked,
it was used within `idle` and it is younger than `absolute`. Anything else, including a token of the
right shape that a client made up, gets a fresh token and a new, empty conversation.

Ops can end a session by its conversation id: `python -m careline.access.web_sessions revoke web-...`.
"""
from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, List, Optional

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from careline.access import webchat
from careline.access.channel_metadata import MAX_CLIENT_CHARS
from careline.db import WebSession
from careline.shared import utcnow

IDLE = timedelta(hours=24)
ABSOLUTE = timedelta(days=30)
TOUCH_EVERY = timedelta(minutes=1)   # last_seen_at is written at most this often per session


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Opened:
    """The session a socket ends up with: the token to hand back and its conversation id."""

    token: str
    sender: str
    resumed: bool


class WebSessions:
    """Issues, resumes, touches and revokes website chat sessions (blocking: call off the event loop)."""

    def __init__(self, engine: Engine, idle: timedelta = IDLE, absolute: timedelta = ABSOLUTE,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self._sessions = sessionmaker(bind=engine, future=True)
        self.idle, self.absolute, self._clock = idle, absolute, clock

    def _live(self, now: datetime) -> List[sa.sql.ColumnElement]:
        return [WebSession.revoked_at.is_(None), WebSession.expires_at > now,
                WebSession.last_seen_at > now - self.idle]

    def issue(self, client: str) -> Opened:
        """A new session for `client` (e.g. `web:203.0.113.7`)."""
        now = self._clock()
        token = webchat.new_token()
        sender = webchat.sender_for(token)
        with self._sessions.begin() as session:
            session.add(WebSession(token_hash=token_hash(token), sender=sender, client=client[:MAX_CLIENT_CHARS],
                                   created_at=now, last_seen_at=now, expires_at=now + self.absolute))
        return Opened(token, sender, resumed=False)

    def resume(self, token: object) -> Optional[str]:
        """The conversation id of a live session we issued with this token (touched now), else None."""
        if not webchat.valid_token(token):
            return None
        now = self._clock()
        with self._sessions.begin() as session:
            found = session.execute(sa.select(WebSession).where(
                WebSession.token_hash == token_hash(str(token)), *self._live(now))).scalar_one_or_none()
            if found is None:
                return None
            found.last_seen_at = now
            sender: str = found.sender
            return sender

    def open(self, token: object, client: str) -> Opened:
        """Resume the session of `token` if it is live; otherwise issue a fresh one."""
        sender = self.resume(token)
        return Opened(str(token), sender, resumed=True) if sender else self.issue(client)

    def touch(self, sender: str) -> bool:
        """Whether the session of conversation `sender` is still live; records the use (at most once a minute)."""
        now = self._clock()
        with self._sessions.begin() as session:
            found = session.execute(sa.select(WebSession).where(
                WebSession.sender == sender, *self._live(now))).scalar_one_or_none()
            if found is None:
                return False
            if now - found.last_seen_at >= TOUCH_EVERY:
                found.last_seen_at = now
            return True

    def revoke(self, sender: Optional[str] = None, token: Optional[str] = None) -> bool:
        """End a session, named by its conversation id or its token; False if there was none live."""
        if not sender and not token:
            raise ValueError("name the session by sender or token")
        condition = WebSession.sender == sender if sender else WebSession.token_hash == token_hash(str(token))
        with self._sessions.begin() as session:
            done = session.execute(sa.update(WebSession).where(condition, WebSession.revoked_at.is_(None))
                                   .values(revoked_at=self._clock()))
            revoked: int = done.rowcount
            return revoked > 0

    def purge(self, keep: timedelta = timedelta(days=90)) -> int:
        """Delete sessions that ended (expired or revoked) more than `keep` ago; how many went."""
        cutoff = self._clock() - keep
        with self._sessions.begin() as session:
            done = session.execute(sa.delete(WebSession).where(sa.or_(
                WebSession.expires_at < cutoff, WebSession.revoked_at < cutoff,
                WebSession.last_seen_at < cutoff - self.idle)))
            purged: int = done.rowcount
            return purged


def main(argv: List[str]) -> int:
    """`revoke <conversation id>...`: end website sessions (the customer's next visit starts afresh)."""
    if len(argv) < 2 or argv[0] != "revoke":
        print("usage: python -m careline.access.web_sessions revoke <conversation id (web-...)>...", file=sys.stderr)
        return 2
    from careline.db import make_engine
    from careline.shared import load_settings

    sessions = WebSessions(make_engine(load_settings().store_db_url))
    missing = [sender for sender in argv[1:] if not sessions.revoke(sender=sender)]
    for sender in missing:
        print(f"web_sessions: no live session for {sender}", file=sys.stderr)
    print(f"web_sessions: revoked {len(argv) - 1 - len(missing)} session(s)")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
