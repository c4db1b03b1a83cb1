"""Applying the policy to the shop's records: gather facts, decide, pay once, audit always.

`ClaimService.decide_and_apply` is the one way money moves (for the bot and for agents):
- the customer is identified only by an order number and the email on that order, checked
  again here whatever the caller did;
- facts (what was paid, refunded, claimed before) come from the database, never from input;
- every decision is written to the audit log (`decisions`), approved or not;
- a retried request with the same idempotency key returns the first decision and pays nothing
  more; a unique constraint makes that hold under concurrency too.
"""
from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Callable, List, Optional

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from careline.db import Charge, Customer, DecisionRecord, Order, Refund, Waiver
from careline.money.policy import (
    APPROVE,
    CLAIM_KINDS,
    GOODWILL_RULES,
    PARTIAL,
    ChargeFacts,
    CustomerFacts,
    Decision,
    EarlierPayout,
    OrderFacts,
    PastClaim,
    Policy,
    Request,
    cap_totals,
    decide,
)
from careline.shared import utcnow, utctoday

CENTS = Decimal(100)
REFUND_KINDS = ("refund", "goodwill", "cancel")
NEXT_STEP_OF_KIND = {"refund": "refund", "cancel": "refund", "goodwill": "goodwill", "waiver": "waiver"}


def to_cents(amount: Decimal) -> int:
    return int((amount * CENTS).to_integral_value())


def from_cents(cents: Optional[int]) -> Decimal:
    return (Decimal(cents or 0) / CENTS).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class Outcome:
    """A decision as applied: the policy's verdict plus the reference the customer gets."""

    decision: Decision
    reference: Optional[str]
    replayed: bool


@dataclass(frozen=True)
class FeeView:
    charge_id: int
    description: str
    amount: Decimal
    charged_on: date


class ClaimService:
    def __init__(self, engine: Engine, policy: Policy, today: Callable[[], date] = utctoday) -> None:
        self._sessions = sessionmaker(bind=engine, future=True, expire_on_commit=False)
        self._policy = policy
        self._today = today

    # --- reading ---------------------------------------------------------------------------

    @staticmethod
    def _verified_customer(session: Session, order_number: str, email: str) -> Optional[tuple]:
        """The customer and order, locked in that order (customer row, then order row) before any
        fact is read: the per-customer rules (goodwill cap, one waiver a year, refunded share) span
        all of a customer's orders, so two claims on two orders of one customer must not interleave.
        (SQLite ignores FOR UPDATE; its BEGIN IMMEDIATE already serialises writers.)"""
        owner = session.execute(sa.select(Order.customer_id).where(Order.number == order_number)).scalar()
        customer = None
        if owner is not None:
            customer = session.execute(sa.select(Customer).where(Customer.id == owner).with_for_update()
                                       .execution_options(populate_existing=True)).scalar_one_or_none()
        order = None
        if customer is not None:
            order = session.execute(sa.select(Order).where(Order.number == order_number, Order.customer_id == owner)
                                    .with_for_update().execution_options(populate_existing=True)
                                    ).scalar_one_or_none()
        expected = customer.email.lower() if order is not None else "\0"
        if order is None or not hmac.compare_digest(expected.encode(), (email or "").lower().encode()):
            return None
        return customer, order

    def waivable_fees(self, order_number: str, email: str) -> List[FeeView]:
        """Fees on the verified customer's account that could be waived (not waived yet)."""
        with self._sessions() as session:
            found = self._verified_customer(session, order_number, email)
            if found is None:
                return []
            customer, _ = found
            rows = session.execute(
                sa.select(Charge).outerjoin(Waiver, Waiver.charge_id == Charge.id)
                .where(Charge.customer_id == customer.id, Charge.waivable.is_(True), Waiver.id.is_(None))
                .order_by(Charge.charged_at.desc())
            ).scalars()
            return [FeeView(c.id, c.description, from_cents(c.amount_cents), c.charged_at.date()) for c in rows]

    def _facts(self, session: Session, customer: Customer, order: Order, charge_id: Optional[int]):
        refunded = session.execute(
            sa.select(sa.func.coalesce(sa.func.sum(Refund.amount_cents), 0)).where(Refund.order_id == order.id)
        ).scalar_one()
        lifetime_paid = session.execute(
            sa.select(sa.func.coalesce(sa.func.sum(Charge.amount_cents), 0))
            .where(Charge.customer_id == customer.id, Charge.kind == "order_payment")
        ).scalar_one()
        lifetime_refunded = session.execute(
            sa.select(sa.func.coalesce(sa.func.sum(Refund.amount_cents), 0)).where(Refund.customer_id == customer.id)
        ).scalar_one()
        past = session.execute(
            sa.select(DecisionRecord).where(
                DecisionRecord.customer_id == customer.id,
                DecisionRecord.kind.in_(CLAIM_KINDS),
                DecisionRecord.outcome.in_((APPROVE, PARTIAL)),
            )
        ).scalars()
        history = [PastClaim("goodwill" if r.rule in GOODWILL_RULES else r.kind, from_cents(r.amount_cents),
                             r.created_at.date()) for r in past]
        customer_facts = CustomerFacts(customer.id, customer.name, customer.tier,
                                       from_cents(lifetime_paid), from_cents(lifetime_refunded))
        order_facts = OrderFacts(
            number=order.number, customer_id=order.customer_id, status=order.status,
            paid=from_cents(order.total_cents), refunded=from_cents(refunded),
            placed=order.placed_at.date(), promised_date=order.promised_date,
            delivered_date=order.delivered_date,
            reshipped=session.execute(sa.select(DecisionRecord.id).where(
                DecisionRecord.order_id == order.id, DecisionRecord.kind == "reship",
                DecisionRecord.outcome.in_((APPROVE, PARTIAL)))).first() is not None,
        )
        charge_facts = None
        if charge_id is not None:
            charge = session.get(Charge, charge_id)
            if charge is not None:
                waived = session.execute(sa.select(Waiver.id).where(Waiver.charge_id == charge.id)).first()
                charge_facts = ChargeFacts(charge.id, charge.customer_id, charge.kind,
                                           from_cents(charge.amount_cents), charge.waivable, waived is not None)
        return customer_facts, order_facts, history, charge_facts

    # --- deciding and applying ---------------------------------------------------------------

    @staticmethod
    def _earlier_payouts(session: Session, order: Order, ticket_id: Optional[int]) -> List[EarlierPayout]:
        """Approved payouts recorded on this order or this ticket (a person's limits are totals)."""
        scope = DecisionRecord.order_id == order.id
        if ticket_id is not None:
            scope = sa.or_(scope, DecisionRecord.ticket_id == ticket_id)
        rows = session.execute(sa.select(DecisionRecord).where(
            scope, DecisionRecord.outcome.in_((APPROVE, PARTIAL)), DecisionRecord.amount_cents > 0)).scalars()
        return [EarlierPayout(r.kind, r.rule, from_cents(r.amount_cents),
                              on_ticket=ticket_id is not None and r.ticket_id == ticket_id,
                              on_order=r.order_id == order.id)
                for r in rows]

    def _decide(self, session: Session, order_number: str, email: str, request: Request,
                authority: str, ticket_id: Optional[int] = None) -> tuple:
        found = self._verified_customer(session, order_number, email)
        if found is None:
            decision = decide(request, None, None, [], self._policy, self._today(), authority=authority)
            return decision, None, None, None
        customer, order = found
        customer_facts, order_facts, history, charge = self._facts(session, customer, order, request.charge_id)
        decision = decide(request, customer_facts, order_facts, history, self._policy, self._today(),
                          authority=authority, verified=True, charge=charge)
        limits = self._policy.authorities[authority]
        if decision.pays and limits.totals_per:
            decision = cap_totals(decision, request.kind, limits, self._earlier_payouts(session, order, ticket_id))
        return decision, customer, order, charge

    def preview(self, *, order_number: str, email: str, request: Request, authority: str = "bot") -> Decision:
        """What `decide_and_apply` would decide now, without changing or recording anything."""
        with self._sessions() as session:
            decision, *_ = self._decide(session, order_number, email, request, authority)
            session.rollback()
            return decision

    def decide_and_apply(
        self, *, idempotency_key: str, order_number: str, email: str, request: Request,
        authority: str = "bot", conversation_id: Optional[str] = None, ticket_id: Optional[int] = None,
    ) -> Outcome:
        """Decide `request` for the customer who owns `order_number` and apply it exactly once.

        `ticket_id`: the desk ticket a person decides on (recorded; their limits are totals per ticket).
        """
        if not idempotency_key or len(idempotency_key) > 128:
            raise ValueError("an idempotency key of 1-128 characters is required")
        with self._sessions() as session:
            earlier = self._replay(session, idempotency_key)
            if earlier:
                return earlier
            decision, customer, order, charge = self._decide(session, order_number, email, request, authority,
                                                             ticket_id)
            requested = request.amount
            sane = requested is not None and requested.is_finite() and abs(requested) < 10**9
            record = DecisionRecord(
                created_at=utcnow(), idempotency_key=idempotency_key, conversation_id=conversation_id,
                authority=authority, customer_id=customer.id if customer else None,
                order_id=order.id if order else None, charge_id=charge.id if charge else None,
                kind=request.kind, reason=request.reason, requested_cents=to_cents(requested) if sane else None,
                outcome=decision.outcome, amount_cents=to_cents(decision.amount), rule=decision.rule,
                explanation=decision.explanation, ticket_id=ticket_id,
            )
            session.add(record)
            try:
                # A concurrent request with the same key fails here at the latest: at the flush
                # (PostgreSQL checks the unique key at the INSERT, once the other one committed) or
                # at the commit. Either way it was already decided: answer with that decision.
                session.flush()
                record.reference = self._apply(session, record, decision, customer, order, request)
                session.commit()
            except IntegrityError:
                session.rollback()
                earlier = self._replay(session, idempotency_key)
                if earlier:
                    return earlier
                raise
            return Outcome(decision, record.reference, replayed=False)

    def _apply(self, session: Session, record: DecisionRecord, decision: Decision,
               customer: Optional[Customer], order: Optional[Order], request: Request) -> Optional[str]:
        if decision.outcome not in (APPROVE, PARTIAL) or customer is None:
            return None
        now = record.created_at
        if record.kind in REFUND_KINDS and decision.amount > 0:
            session.add(Refund(decision_id=record.id, order_id=order.id, customer_id=customer.id,
                               kind=record.kind, amount_cents=record.amount_cents, created_at=now))
        if record.kind == "cancel":
            order.status = "cancelled"
            return f"CX-{order.number[3:]}"
        if record.kind == "waiver":
            session.add(Waiver(decision_id=record.id, charge_id=record.charge_id, customer_id=customer.id,
                               amount_cents=record.amount_cents, created_at=now))
            return f"WV-{record.id:06d}"
        if record.kind == "address":
            order.shipping_address = (request.detail or "").strip()[:300] or order.shipping_address
            return f"AD-{order.number[3:]}-{record.id:04d}"
        if record.kind == "return":
            return f"RA-{order.number[3:]}-{record.id:04d}"
        if record.kind == "reship":
            return f"RS-{order.number[3:]}-{record.id:04d}"
        return f"RF-{record.id:06d}"

    def _replay(self, session: Session, key: str) -> Optional[Outcome]:
        record = session.execute(
            sa.select(DecisionRecord).where(DecisionRecord.idempotency_key == key)
        ).scalar_one_or_none()
        if record is None:
            return None
        pays = record.outcome in (APPROVE, PARTIAL)
        step = NEXT_STEP_OF_KIND.get(record.kind) if pays and record.amount_cents else None
        decision = Decision(record.outcome, from_cents(record.amount_cents), record.rule, record.explanation,
                            offer_human=not pays, next_step=self._policy.next_steps.get(step, "") if step else "")
        return Outcome(decision, record.reference, replayed=True)
