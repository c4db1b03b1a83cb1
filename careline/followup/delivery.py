"""Sending due follow-ups into their conversations through the bot: the worker's delivery job.

For each due follow-up (claimed in a short transaction, so no transaction is open during a call):
1. read the conversation from the bot (`Bot.tracker`): its latest channel, when the customer last
   wrote, whether a person has it (paused) or a form is under way;
2. a conversation that is gone, or a channel that may not write first now
   (careline/followup/channels.py), records the follow-up as not sent, with the reason;
3. a conversation with a person (an open or assigned ticket), in a form, where the customer wrote
   within the quiet period, or that still owes an answer to another follow-up, is tried again
   later (not an attempt);
4. otherwise the bot is asked to trigger the follow-up's external intent with its id; the action
   marks it sent when it speaks, and only then, once (a repeated trigger says nothing twice).
A bot that cannot be reached is tried again with exponential backoff; a follow-up that could not be
sent within policy.yml `give_up_hours` of being due is recorded as not sent (expired).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping, Optional, Protocol, Tuple

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from careline.db import FollowUp, Ticket
from careline.followup.channels import may_write_first
from careline.followup.questions import ENTITY, FOLLOW_UP_INTENT, LATE_ORDER_INTENT
from careline.followup.rules import LATE_ORDER, FollowUpRules
from careline.followup.schedule import EXPIRED, NO_CONVERSATION, NOT_SENT, SCHEDULED, SENT
from careline.shared import said_by_customer, utcnow

logger = logging.getLogger(__name__)

#: How long a claimed follow-up is left alone (beyond the bot's own timeouts) before another try may claim it.
CLAIM_S = 90.0
MAX_BACKOFF_S = 300.0
ACTIVE_TICKET = ("open", "assigned")  # a ticket waiting for or with a person (careline/db Ticket.status)
NOT_ASKED = "not_asked"  # the bot ran the trigger but its action did not ask (recorded as the last error)


class Bot(Protocol):
    """What delivery needs of the Rasa server (careline/desk/rasa_api.py `RasaAPI` is one)."""

    def tracker(self, conversation_id: str) -> Mapping[str, Any]:
        """The conversation's state as Rasa's `GET /conversations/<id>/tracker` returns it; raises when unreachable."""

    def trigger_intent(self, conversation_id: str, intent: str, entities: Mapping[str, str]) -> None:
        """Rasa's `POST /conversations/<id>/trigger_intent` on the latest channel; raises when it fails."""


@dataclass(frozen=True)
class ConversationState:
    """What delivery needs to know about a conversation."""

    exists: bool
    channel: Optional[str]
    last_customer_at: Optional[datetime]
    paused: bool
    in_form: bool


def conversation_state(tracker: Mapping[str, Any]) -> ConversationState:
    """Read Rasa's tracker state: a conversation exists once its customer said something."""
    said = [event for event in tracker.get("events") or [] if said_by_customer(event)]
    last = max((float(e.get("timestamp") or 0) for e in said), default=None)
    loop = tracker.get("active_loop") or {}
    return ConversationState(
        exists=bool(said),
        channel=tracker.get("latest_input_channel") or None,
        last_customer_at=datetime.fromtimestamp(last, timezone.utc) if last else None,
        paused=bool(tracker.get("paused")),
        in_form=bool(loop.get("name")) if isinstance(loop, Mapping) else False,
    )


@dataclass(frozen=True)
class _Claimed:
    id: int
    kind: str
    conversation_id: str
    due_at: datetime


@dataclass(frozen=True)
class Tally:
    """One delivery round: asked, recorded as not sent, tried again later, failed (bot unreachable)."""

    sent: int = 0
    not_sent: int = 0
    later: int = 0
    failed: int = 0

    def __add__(self, other: Tally) -> Tally:
        return Tally(self.sent + other.sent, self.not_sent + other.not_sent, self.later + other.later,
                     self.failed + other.failed)

    @property
    def done(self) -> int:
        """What changed for good: follow-ups sent or recorded as not sent."""
        return self.sent + self.not_sent


class FollowUpDelivery:
    def __init__(self, engine: Engine, bot: Bot, rules: FollowUpRules, now: Callable[[], datetime] = utcnow,
                 max_backoff_s: float = MAX_BACKOFF_S) -> None:
        self._sessions = sessionmaker(bind=engine, future=True, expire_on_commit=False)
        self._bot = bot
        self._rules = rules
        self._now = now
        self._max_backoff = max_backoff_s

    def backoff(self, attempts: int) -> timedelta:
        return timedelta(seconds=min(self._max_backoff, 2 ** min(attempts, 16)))

    def deliver_due(self, limit: int = 20) -> Tally:
        """Try every follow-up that is due (up to `limit`)."""
        tally = Tally()
        for _ in range(limit):
            claimed = self._claim_next()
            if claimed is None:
                break
            tally = tally + self._deliver(claimed)
        return tally

    def _claim_next(self) -> Optional[_Claimed]:
        now = self._now()
        with self._sessions() as session, session.begin():
            row = session.execute(
                sa.select(FollowUp).where(FollowUp.status == SCHEDULED, FollowUp.next_attempt_at <= now)
                .order_by(FollowUp.next_attempt_at, FollowUp.id).limit(1).with_for_update(skip_locked=True)
            ).scalar_one_or_none()
            if row is None:
                return None
            row.next_attempt_at = now + timedelta(seconds=CLAIM_S)
            return _Claimed(row.id, row.kind, row.conversation_id, row.due_at)

    def _deliver(self, claimed: _Claimed) -> Tally:
        now = self._now()
        if now > claimed.due_at + self._rules.give_up_after:
            self._not_sent(claimed.id, EXPIRED, None)
            return Tally(not_sent=1)
        try:
            state = conversation_state(self._bot.tracker(claimed.conversation_id))
        except Exception as error:  # noqa: BLE001 - whatever failed, the bot is not there to ask: try later
            self._failed(claimed.id, f"{type(error).__name__}: {error}")
            return Tally(failed=1)
        if not state.exists:
            self._not_sent(claimed.id, NO_CONVERSATION, state.channel)
            return Tally(not_sent=1)
        reach = may_write_first(state.channel, state.last_customer_at, now)
        if not reach.allowed:
            self._not_sent(claimed.id, reach.reason, state.channel)
            return Tally(not_sent=1)
        later = self._wait_until(claimed, state, now)
        if later is not None:
            self._postpone(claimed.id, later)
            return Tally(later=1)
        intent = LATE_ORDER_INTENT if claimed.kind == LATE_ORDER else FOLLOW_UP_INTENT
        try:
            self._bot.trigger_intent(claimed.conversation_id, intent, {ENTITY: str(claimed.id)})
        except Exception as error:  # noqa: BLE001 - as above
            self._failed(claimed.id, f"{type(error).__name__}: {error}")
            return Tally(failed=1)
        status = self._status(claimed.id)
        if status == SENT:
            return Tally(sent=1)
        if status == NOT_SENT:  # a late order that arrived meanwhile
            return Tally(not_sent=1)
        self._failed(claimed.id, NOT_ASKED)  # e.g. a person took the conversation meanwhile
        return Tally(failed=1)

    def _wait_until(self, claimed: _Claimed, state: ConversationState, now: datetime) -> Optional[datetime]:
        """When to try again, or None to ask now: never into a busy conversation or over another question."""
        quiet = self._rules.quiet
        if state.paused or state.in_form or self._with_a_person(claimed.conversation_id):
            return now + max(quiet, timedelta(minutes=1))
        if state.last_customer_at is not None and now - state.last_customer_at < quiet:
            return state.last_customer_at + quiet
        if claimed.kind != LATE_ORDER:
            with self._sessions() as session:
                pending: Optional[datetime] = session.execute(sa.select(sa.func.min(FollowUp.sent_at)).where(
                    FollowUp.conversation_id == claimed.conversation_id, FollowUp.status == SENT,
                    FollowUp.kind != LATE_ORDER, FollowUp.outcome.is_(None), FollowUp.id != claimed.id)).scalar()
            if pending is not None:
                return max(now + quiet, pending + self._rules.answer_window)
        return None

    def _with_a_person(self, conversation_id: str) -> bool:
        """A ticket of the conversation waits for or is with a person: the bot does not butt in."""
        with self._sessions() as session:
            return session.execute(sa.select(Ticket.id).where(
                Ticket.conversation_id == conversation_id, Ticket.status.in_(ACTIVE_TICKET))).first() is not None

    def _status(self, follow_up_id: int) -> Optional[str]:
        with self._sessions() as session:
            status: Optional[str] = session.execute(
                sa.select(FollowUp.status).where(FollowUp.id == follow_up_id)).scalar_one_or_none()
            return status

    def _update(self, follow_up_id: int, **values: Any) -> None:
        with self._sessions() as session, session.begin():
            session.execute(sa.update(FollowUp).where(FollowUp.id == follow_up_id, FollowUp.status == SCHEDULED)
                            .values(**values))

    def _not_sent(self, follow_up_id: int, reason: str, channel: Optional[str]) -> None:
        logger.info("follow-up %s not sent: %s (channel %s)", follow_up_id, reason, channel)
        self._update(follow_up_id, status=NOT_SENT, not_sent_reason=reason[:40],
                     channel=(channel or "")[:40] or None)

    def _postpone(self, follow_up_id: int, until: datetime) -> None:
        self._update(follow_up_id, next_attempt_at=until)

    def _failed(self, follow_up_id: int, error: str) -> None:
        logger.warning("follow-up %s: %s; trying again later", follow_up_id, error[:200])
        with self._sessions() as session, session.begin():
            row = session.get(FollowUp, follow_up_id)
            if row is None or row.status != SCHEDULED:
                return
            row.attempts += 1
            row.next_attempt_at = self._now() + self.backoff(row.attempts)
            row.last_error = error[:1000]

    def pending(self) -> Tuple[int, int]:
        """(scheduled, due now): for status lines and tests."""
        now = self._now()
        with self._sessions() as session:
            scheduled = session.execute(sa.select(sa.func.count(FollowUp.id))
                                        .where(FollowUp.status == SCHEDULED)).scalar_one()
            due = session.execute(sa.select(sa.func.count(FollowUp.id))
                                  .where(FollowUp.status == SCHEDULED, FollowUp.due_at <= now)).scalar_one()
            return int(scheduled), int(due)
