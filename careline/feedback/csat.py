"""Customer ratings at the end of a conversation (CSAT), stored with the conversation."""
from __future__ import annotations

import re
from datetime import datetime
from typing import Callable, Optional, Tuple

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from careline.db import Feedback, Ticket
from careline.shared import MESSAGE_MAX_CHARS, utcnow

WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
MAX_COMMENT = MESSAGE_MAX_CHARS  # a comment is one message: kept whole up to what a channel accepts


def parse_rating(text: Optional[str]) -> Optional[int]:
    """1-5 from "4", "4/5", "four stars", "⭐⭐⭐"; None when the text holds no rating."""
    if not text:
        return None
    stars = text.count("⭐") + text.count("★")
    if 1 <= stars <= 5:
        return stars
    lowered = text.lower()
    digits = re.findall(r"(?<![\d.])([1-5])(?:\s*/\s*5)?(?![\d.])", lowered)
    if len(digits) == 1:
        return int(digits[0])
    words = [WORDS[w] for w in re.findall(r"[a-z]+", lowered) if w in WORDS]
    return words[0] if len(words) == 1 else None


NO_COMMENT_WORDS = {"no", "nope", "nah", "no comment", "no thanks", "no thank you", "nothing", "none",
                    "that's all", "thats all", "no, that's all", "all good", "n/a", "-"}


def no_comment(text: Optional[str]) -> bool:
    """True when the customer declined to leave a comment."""
    return (text or "").strip().lower().rstrip(".!") in NO_COMMENT_WORDS


class FeedbackService:
    def __init__(self, engine: Engine, now: Callable[[], datetime] = utcnow) -> None:
        self._sessions = sessionmaker(bind=engine, future=True)
        self._now = now

    def _key(self, session: Session, conversation_id: str) -> Tuple[Optional[int], str]:
        """One rating per conversation before any handoff, and one per ticket after."""
        ticket_id = session.execute(sa.select(sa.func.max(Ticket.id))
                                    .where(Ticket.conversation_id == conversation_id)).scalar_one()
        return ticket_id, f"{conversation_id}:{ticket_id or 'bot'}"[:160]

    def already_rated(self, conversation_id: str) -> bool:
        with self._sessions() as session:
            _, key = self._key(session, conversation_id)
            return session.execute(sa.select(Feedback.id).where(Feedback.idempotency_key == key)).first() is not None

    def record(self, conversation_id: str, rating: int, comment: str = "") -> bool:
        """Store a rating; handled_by says whether a person took part. False if this one was stored already."""
        if not 1 <= int(rating) <= 5:
            raise ValueError("a rating is 1 to 5")
        with self._sessions() as session:
            ticket_id, key = self._key(session, conversation_id)
            session.add(Feedback(conversation_id=conversation_id, idempotency_key=key, ticket_id=ticket_id,
                                 handled_by="agent" if ticket_id else "bot", rating=int(rating),
                                 comment=(comment or "").strip()[:MAX_COMMENT], created_at=self._now()))
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                return False
        return True
