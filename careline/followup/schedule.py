"""The follow-up schedule in the store: derived from the cases, so that nothing is lost.

The sweeps look for cases without a follow-up and add one (each case once: `case_key` is unique):
- a money decision that was carried out (`decisions`: refund, return, reshipment, ... as
  policy.yml `follow_up.after_hours` lists them), due that long after it;
- a handoff a person resolved (`tickets`, status resolved) on which no such decision was made
  (that decision's own follow-up names the case better), due after `after_hours.handoff`;
- an order that became late after a verified customer asked about it (`order_watches`), due now.

Because the schedule is rebuilt from the cases on every sweep, a case made while the worker was
down, or a follow-up due while everything was stopped, is still followed up after a restart.
The conversation the case came from is the only one a follow-up goes to.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable, List, Optional

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from careline.db import DecisionRecord, FollowUp, Order, OrderWatch, Ticket, WarehouseOrder
from careline.followup.cases import CARRIED_OUT, FINISHED, Case, case_of, is_late
from careline.followup.rules import LATE_ORDER, FollowUpRules
from careline.shared import utcnow

SCHEDULED, SENT, NOT_SENT = "scheduled", "sent", "not_sent"
RESOLVED, NOT_RESOLVED, NO_ANSWER = "resolved", "not_resolved", "no_answer"
#: Why a follow-up was not sent, besides the channel's reasons (careline/followup/channels.py).
EXPIRED = "expired"                  # it could not be sent within policy.yml `give_up_hours` of being due
NO_CONVERSATION = "no_conversation"  # the conversation is not in the tracker store any more
NO_LONGER_LATE = "no_longer_late"    # the order arrived (or ended) before the notice went out


class FollowUpSchedule:
    """Adds due follow-ups for new cases, remembers who asked about an order, records the answers."""

    def __init__(self, engine: Engine, rules: FollowUpRules, now: Callable[[], datetime] = utcnow) -> None:
        self._sessions = sessionmaker(bind=engine, future=True, expire_on_commit=False)
        self._rules = rules
        self._now = now

    @property
    def rules(self) -> FollowUpRules:
        return self._rules

    # --- the sweeps (the worker runs them) ---------------------------------------------------

    def sweep(self) -> int:
        """Schedule what is new and close what went unanswered; return how many rows changed."""
        return self.schedule_cases() + self.schedule_late_notices() + self.close_unanswered()

    def _add(self, rows: List[FollowUp]) -> int:
        if not rows:
            return 0
        with self._sessions() as session:
            session.add_all(rows)
            try:
                session.commit()
            except IntegrityError:  # another sweep added some of them first: the next round sees the rest
                session.rollback()
                return 0
        return len(rows)

    def _new(self, case_key: str, kind: str, conversation_id: str, case_at: datetime, due: datetime,
             decision_id: Optional[int] = None, ticket_id: Optional[int] = None,
             order_id: Optional[int] = None) -> FollowUp:
        return FollowUp(case_key=case_key, kind=kind, conversation_id=conversation_id, decision_id=decision_id,
                        ticket_id=ticket_id, order_id=order_id, case_at=case_at, created_at=self._now(),
                        due_at=due, next_attempt_at=due, status=SCHEDULED, attempts=0)

    def schedule_cases(self) -> int:
        """A follow-up for every carried-out decision and resolved handoff that has none yet."""
        now = self._now()
        since = now - self._rules.horizon
        kinds = [kind for kind in self._rules.kinds if kind != "handoff"]
        rows: List[FollowUp] = []
        with self._sessions() as session:
            if kinds:
                decisions = session.execute(
                    sa.select(DecisionRecord.id, DecisionRecord.kind, DecisionRecord.conversation_id,
                              DecisionRecord.order_id, DecisionRecord.created_at)
                    .outerjoin(FollowUp, FollowUp.decision_id == DecisionRecord.id)
                    .where(FollowUp.id.is_(None), DecisionRecord.kind.in_(kinds),
                           DecisionRecord.outcome.in_(CARRIED_OUT), DecisionRecord.conversation_id.is_not(None),
                           DecisionRecord.created_at >= since,
                           # a replacement is asked about once the warehouse has it, never before
                           sa.or_(DecisionRecord.kind != "reship", sa.select(WarehouseOrder.id).where(
                               WarehouseOrder.decision_id == DecisionRecord.id,
                               WarehouseOrder.delivered_at.is_not(None)).exists()))
                    .order_by(DecisionRecord.id)).all()
                for d in decisions:
                    delay = self._rules.delay(d.kind) or timedelta(0)
                    rows.append(self._new(f"decision:{d.id}", d.kind, d.conversation_id, d.created_at,
                                          d.created_at + delay, decision_id=d.id, order_id=d.order_id))
            handoff_delay = self._rules.delay("handoff")
            if handoff_delay is not None:
                paid_on_ticket = sa.select(DecisionRecord.id).where(
                    DecisionRecord.ticket_id == Ticket.id, DecisionRecord.kind.in_(kinds),
                    DecisionRecord.outcome.in_(CARRIED_OUT)).exists()
                tickets = session.execute(
                    sa.select(Ticket.id, Ticket.conversation_id, Ticket.order_id, Ticket.resolved_at)
                    .outerjoin(FollowUp, FollowUp.ticket_id == Ticket.id)
                    .where(FollowUp.id.is_(None), Ticket.status == "resolved", Ticket.resolved_at.is_not(None),
                           Ticket.resolved_at >= since, ~paid_on_ticket)
                    .order_by(Ticket.id)).all()
                for t in tickets:
                    rows.append(self._new(f"ticket:{t.id}", "handoff", t.conversation_id, t.resolved_at,
                                          t.resolved_at + handoff_delay, ticket_id=t.id, order_id=t.order_id))
        return self._add(rows)

    def schedule_late_notices(self) -> int:
        """A notice for every watched order that became late since the customer asked (once per conversation)."""
        now = self._now()
        rows: List[FollowUp] = []
        with self._sessions() as session:
            watches = session.execute(
                sa.select(OrderWatch.id, OrderWatch.order_id, OrderWatch.conversation_id, Order.promised_date)
                .join(Order, Order.id == OrderWatch.order_id)
                .outerjoin(FollowUp, sa.and_(FollowUp.kind == LATE_ORDER, FollowUp.order_id == OrderWatch.order_id,
                                             FollowUp.conversation_id == OrderWatch.conversation_id))
                .where(FollowUp.id.is_(None), OrderWatch.late_when_asked.is_(False),
                       OrderWatch.created_at >= now - self._rules.late_watch,
                       Order.promised_date.is_not(None), Order.promised_date < now.date(),
                       Order.status.not_in(FINISHED))
                .order_by(OrderWatch.id)).all()
            for w in watches:
                rows.append(self._new(f"watch:{w.id}", LATE_ORDER, w.conversation_id, now, now, order_id=w.order_id))
        return self._add(rows)

    def close_unanswered(self) -> int:
        """Follow-ups asked longer ago than the answer window, without a yes or no: no answer."""
        now = self._now()
        with self._sessions() as session, session.begin():
            result = session.execute(
                sa.update(FollowUp).where(FollowUp.status == SENT, FollowUp.outcome.is_(None),
                                          FollowUp.kind != LATE_ORDER,
                                          FollowUp.sent_at <= now - self._rules.answer_window)
                .values(outcome=NO_ANSWER, answered_at=now))
            return int(result.rowcount or 0)

    # --- what the conversation does (the actions call these) -------------------------------------

    def watch_order(self, conversation_id: str, channel: Optional[str], order_number: str) -> bool:
        """Remember that this conversation asked about a verified order; False when nothing to watch.

        An order the customer was already told is late (overdue, or marked delayed) is not announced again.
        """
        now = self._now()
        with self._sessions() as session:
            order = session.execute(sa.select(Order).where(Order.number == order_number)).scalar_one_or_none()
            if order is None or order.status in FINISHED:
                return False
            exists = session.execute(sa.select(OrderWatch.id).where(
                OrderWatch.order_id == order.id, OrderWatch.conversation_id == conversation_id)).first()
            if exists:
                return True
            told_late = order.status == "delayed" or is_late(order.status, order.promised_date, now.date())
            session.add(OrderWatch(order_id=order.id, conversation_id=conversation_id, channel=(channel or "")[:40]
                                   or None, late_when_asked=told_late, created_at=now))
            try:
                session.commit()
            except IntegrityError:  # the same question twice at once
                session.rollback()
        return True

    def ask(self, follow_up_id: object, conversation_id: str, channel: Optional[str],
            late_notice: bool = False) -> Optional[Case]:
        """Mark a due follow-up of this conversation sent and return its case; None when there is
        nothing to say: not this conversation's, not due, already asked (so a repeated trigger says
        nothing twice), of the other sort, or a late order that has arrived meanwhile."""
        try:
            number = int(str(follow_up_id))
        except ValueError:
            return None
        now = self._now()
        with self._sessions() as session, session.begin():
            row = session.execute(sa.select(FollowUp).where(FollowUp.id == number).with_for_update()
                                  ).scalar_one_or_none()
            if (row is None or row.conversation_id != conversation_id or row.status != SCHEDULED
                    or row.due_at > now or (row.kind == LATE_ORDER) != late_notice):
                return None
            if late_notice:
                order = session.get(Order, row.order_id) if row.order_id else None
                if order is None or not is_late(order.status, order.promised_date, now.date()):
                    row.status, row.not_sent_reason = NOT_SENT, NO_LONGER_LATE
                    return None
            row.status, row.sent_at, row.channel = SENT, now, (channel or "")[:40] or None
            return case_of(session, row)

    def _latest_asked(self, session: Session, conversation_id: str) -> Optional[FollowUp]:
        found: Optional[FollowUp] = session.execute(
            sa.select(FollowUp).where(FollowUp.conversation_id == conversation_id, FollowUp.status == SENT,
                                      FollowUp.kind != LATE_ORDER)
            .order_by(FollowUp.sent_at.desc(), FollowUp.id.desc()).limit(1).with_for_update()
        ).scalar_one_or_none()
        return found

    def awaiting_answer(self, conversation_id: str) -> Optional[Case]:
        """The follow-up this conversation was asked last, while it has no yes or no yet."""
        with self._sessions() as session:
            row = self._latest_asked(session, conversation_id)
            return case_of(session, row) if row is not None and row.outcome in (None, NO_ANSWER) else None

    def answer(self, conversation_id: str, resolved: bool) -> Optional[Case]:
        """Record the customer's yes (resolved) or no to the follow-up they were asked last.

        The first answer counts (a late one replaces "no answer"); None when nothing awaits one.
        """
        with self._sessions() as session, session.begin():
            row = self._latest_asked(session, conversation_id)
            if row is None or row.outcome not in (None, NO_ANSWER):
                return None
            row.outcome, row.answered_at = (RESOLVED if resolved else NOT_RESOLVED), self._now()
            return case_of(session, row)
