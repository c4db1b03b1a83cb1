"""Desk accounts: scrypt password hashes, server-side sessions and CSRF tokens."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Optional, Tuple

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from careline.db import Agent, DeskSession
from careline.shared import utcnow

ROLES = ("agent", "supervisor")
SESSION_HOURS = 12
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 14, 8, 1
MIN_PASSWORD = 10


def hash_password(password: str, salt: Optional[bytes] = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        given = hashlib.scrypt(password.encode("utf-8"), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                               dklen=len(digest) // 2)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(given.hex(), digest)


#: Checked when the email is unknown, so a wrong email costs as long as a wrong password.
_DUMMY_HASH = hash_password("not a real password", salt=b"careline-dummy-s")


@dataclass(frozen=True)
class DeskUser:
    id: int
    email: str
    name: str
    role: str

    @property
    def is_supervisor(self) -> bool:
        return self.role == "supervisor"


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class AccountError(ValueError):
    """An account cannot be created as asked; the message says why."""


class Accounts:
    def __init__(self, engine: Engine, now: Callable[[], datetime] = utcnow) -> None:
        self._sessions = sessionmaker(bind=engine, future=True)
        self._now = now

    def create(self, email: str, name: str, role: str, password: str) -> DeskUser:
        email = email.strip().lower()
        if role not in ROLES:
            raise AccountError(f"role must be one of {', '.join(ROLES)}")
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"passwords need at least {MIN_PASSWORD} characters")
        if "@" not in email or not name.strip():
            raise AccountError("an account needs an email address and a name")
        with self._sessions() as session:
            if session.execute(sa.select(Agent.id).where(Agent.email == email)).first():
                raise AccountError(f"{email} already has an account")
            agent = Agent(email=email, name=name.strip(), role=role, password_hash=hash_password(password),
                          active=True, created_at=self._now())
            session.add(agent)
            session.commit()
            return DeskUser(agent.id, agent.email, agent.name, agent.role)

    def authenticate(self, email: str, password: str) -> Optional[DeskUser]:
        """The user for a right email and password; None otherwise (same work either way)."""
        with self._sessions() as session:
            agent = session.execute(sa.select(Agent).where(Agent.email == (email or "").strip().lower())
                                    ).scalar_one_or_none()
            ok = check_password(password or "", agent.password_hash if agent else _DUMMY_HASH)
            if agent is None or not ok or not agent.active:
                return None
            return DeskUser(agent.id, agent.email, agent.name, agent.role)

    def start_session(self, user: DeskUser) -> Tuple[str, str]:
        """A new (cookie token, CSRF token) pair; only the token's hash is stored."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = self._now()
        with self._sessions() as session:
            session.add(DeskSession(token_hash=_token_hash(token), agent_id=user.id, csrf_token=csrf,
                                    created_at=now, expires_at=now + timedelta(hours=SESSION_HOURS)))
            session.execute(sa.delete(DeskSession).where(DeskSession.expires_at < now))
            session.commit()
        return token, csrf

    def resume_session(self, token: Optional[str]) -> Optional[Tuple[DeskUser, str]]:
        """(user, CSRF token) of a live session cookie, else None."""
        if not token or len(token) > 100:
            return None
        with self._sessions() as session:
            row = session.execute(
                sa.select(DeskSession, Agent).join(Agent, Agent.id == DeskSession.agent_id)
                .where(DeskSession.token_hash == _token_hash(token))
            ).first()
            if row is None or row[0].expires_at < self._now() or not row[1].active:
                return None
            desk_session, agent = row
            return DeskUser(agent.id, agent.email, agent.name, agent.role), desk_session.csrf_token

    def end_session(self, token: Optional[str]) -> None:
        if token:
            with self._sessions() as session:
                session.execute(sa.delete(DeskSession).where(DeskSession.token_hash == _token_hash(token)))
                session.commit()
