"""Proving that an order is the customer's, and how long that proof lasts.

`IdentityGuard.check` is the one identity check: order number **and** the email on the order.
Every attempt is recorded in the store (`verification_attempts`, the audit), and failures are
counted per order number and per client across conversations and channels, so neither a new
conversation nor `/restart` buys an attacker more guesses. Past the limits of policy.yml the
check is locked for a cool-off time, with the same answer for every caller, right email or not.

`IdentityTokens` turns a successful check into a server-signed token bound to the conversation
and session that proved it (actions/identity.py `session_of`); it expires when idle, at a
maximum age, and at every new session. A slot that merely holds an email proves nothing.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Mapping, Optional

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from careline.db import OrderView, VerificationAttempt
from careline.money.identity import OrderLookup, normalize_email, normalize_order_number, verify
from careline.shared import ORDER_DIGITS, ORDER_PREFIX, Signer, digest, utcnow, whole_numbers

logger = logging.getLogger(__name__)

VERIFIED = "verified"
DENIED = "denied"
LOCKED = "locked"
MALFORMED_NUMBER = f"{ORDER_PREFIX}-{'?' * ORDER_DIGITS}"  # CL-??????


@dataclass(frozen=True)
class IdentityRules:
    """policy.yml `identity:` (these defaults, the same as policy.yml's, fill a key it leaves out)."""

    max_failures_per_order: int = 5
    max_failures_per_client: int = 10
    failure_window_minutes: int = 1440
    cool_off_minutes: int = 60
    idle_minutes: int = 30
    max_age_minutes: int = 120

    @staticmethod
    def from_mapping(data: Optional[Mapping[str, object]]) -> IdentityRules:
        return IdentityRules(**whole_numbers(data, IdentityRules, "identity"))


@dataclass(frozen=True)
class CheckResult:
    status: str
    order: Optional[OrderView] = None

    @property
    def verified(self) -> bool:
        return self.status == VERIFIED


class IdentityGuard:
    """The identity check with its store-wide failure counting and lock."""

    def __init__(self, engine: Engine, lookup: OrderLookup, rules: IdentityRules,
                 now: Callable[[], datetime] = utcnow) -> None:
        self._sessions = sessionmaker(bind=engine, future=True)
        self._lookup = lookup
        self._rules = rules
        self._now = now

    def _locked_by(self, session: Session, column: Any, value: str, limit: int, now: datetime) -> bool:
        since = now - timedelta(minutes=self._rules.failure_window_minutes)
        count, latest = session.execute(
            sa.select(sa.func.count(VerificationAttempt.id), sa.func.max(VerificationAttempt.created_at))
            .where(column == value, VerificationAttempt.outcome == DENIED, VerificationAttempt.created_at > since)
        ).one()
        if count < limit or latest is None:
            return False
        until: datetime = latest + timedelta(minutes=self._rules.cool_off_minutes)  # UTCDateTime: aware UTC
        return now < until

    def is_locked(self, order_number: str, client: str) -> bool:
        """True while either the order's or the client's failures lock the check."""
        now = self._now()
        with self._sessions() as session:
            return (self._locked_by(session, VerificationAttempt.order_number, order_number,
                                    self._rules.max_failures_per_order, now)
                    or self._locked_by(session, VerificationAttempt.client, client,
                                       self._rules.max_failures_per_client, now))

    def check(self, order_number: object, email: object, *, client: str, conversation_id: str = "",
              channel: str = "") -> CheckResult:
        """Verify that `email` is the email on order `order_number`; record and count the attempt.

        Malformed input counts as a failure against the client (so junk cannot be used to probe),
        and a locked check is refused without looking at the email at all.
        """
        number = normalize_order_number(order_number)
        address = normalize_email(email)
        client = (client or "unknown")[:128]
        key = number or MALFORMED_NUMBER
        if self.is_locked(key, client):
            self._record(key, client, conversation_id, channel, LOCKED)
            logger.warning("identity check locked: order %s client %s", key, client)
            return CheckResult(LOCKED)
        order = verify(self._lookup, number, address)  # the one comparison (constant time)
        outcome = VERIFIED if order is not None else DENIED
        self._record(key, client, conversation_id, channel, outcome)
        if outcome == DENIED and self.is_locked(key, client):
            logger.warning("identity check now locked: order %s client %s", key, client)
            return CheckResult(LOCKED)
        return CheckResult(outcome, order)

    def _record(self, number: str, client: str, conversation_id: str, channel: str, outcome: str) -> None:
        with self._sessions() as session:
            session.add(VerificationAttempt(order_number=number, client=client,
                                            conversation_id=(conversation_id or "")[:128] or None,
                                            channel=(channel or "")[:40] or None, outcome=outcome,
                                            created_at=self._now()))
            session.commit()


class IdentityTokens:
    """Signed proof that this conversation verified this order with this email, with its expiry."""

    def __init__(self, signer: Signer, rules: IdentityRules, now: Callable[[], datetime] = utcnow) -> None:
        self._signer = signer
        self._rules = rules
        self._now = now

    def issue(self, conversation_id: str, order_number: str, email: str, proven_at: Optional[int] = None) -> str:
        now = int(self._now().timestamp())
        return self._signer.sign({"c": conversation_id, "o": order_number, "e": digest(email.lower()),
                                  "iat": proven_at or now, "seen": now})

    def refresh(self, token: object, conversation_id: str, order_number: object, email: object) -> Optional[str]:
        """A renewed token when `token` still proves (conversation, order, email); None when it does not."""
        payload = self._signer.verify(token)
        number, address = normalize_order_number(order_number), normalize_email(email)
        if payload is None or number is None or address is None:
            return None
        try:
            issued, seen = int(payload["iat"]), int(payload["seen"])
            bound = (payload["c"], payload["o"], payload["e"]) == (conversation_id, number, digest(address))
        except (KeyError, TypeError, ValueError):
            return None
        now = int(self._now().timestamp())
        fresh = now - seen <= self._rules.idle_minutes * 60 and now - issued <= self._rules.max_age_minutes * 60
        if not bound or not fresh or seen > now + 60:
            return None
        return self.issue(conversation_id, number, address, proven_at=issued)
