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
from typing import Callable, List, Optional, Tuple

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
    next_step,
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


@dataclass(frozen=True)
class VerifiedOwner:
    """The customer whose email matched, and their order, both locked for this transaction."""

    customer: Customer
    order: Order


@dataclass(frozen=True)
class ClaimFacts:
    """What the policy needs to know, read from the store (never from the request)."""

    customer: CustomerFacts
    order: OrderFacts
    history: Tuple[PastClaim, ...]
    charge: Optional[ChargeFacts]


@dataclass(frozen=True)
class Judgement:
    """A decision with the rows it is about; `owner` is None when the order and email did not match."""

    decision: Decision
    owner: Optional[VerifiedOwner] = None
    charge: Optional[ChargeFacts] = None


class ClaimService:
    def __init__(self, engine: Engine, policy: Policy, today: Callable[[], date] = utctoday) -> None:
        self._sessions = sessionmaker(bind=engine, future=True, expire_on_commit=False)
        self._policy = policy
        self._today = today

    @property
    def refund_reasons(self) -> Tuple[str, ...]:
        """The refund reasons of policy.yml, in its order: the only ones a refund may give."""
        return tuple(self._policy.refund_reasons)

    # --- reading ---------------------------------------------------------------------------

    @staticmethod
    def _verified_customer(session: Session, order_number: str, email: str) -> Optional[VerifiedOwner]:
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
        if customer is None or order is None:
            return None
        if not hmac.compare_digest(customer.email.lower().encode(), (email or "").lower().encode()):
            return None
        return VerifiedOwner(customer, order)

    def waivable_fees(self, order_number: str, email: str) -> List[FeeView]:
        """Fees on the verified customer's account that could be waived (not waived yet)."""
        with self._sessions() as session:
            found = self._verified_customer(session, order_number, email)
            if found is None:
                return []
            rows = session.execute(
                sa.select(Charge).outerjoin(Waiver, Waiver.charge_id == Charge.id)
                .where(Charge.customer_id == found.customer.id, Charge.waivable.is_(True), Waiver.id.is_(None))
                .order_by(Charge.charged_at.desc())
            ).scalars()
            return [FeeView(c.id, c.description, from_cents(c.amount_cents), c.charged_at.date()) for c in rows]

    def _facts(self, session: Session, customer: Customer, order: Order, charge_id: Optional[int]) -> ClaimFacts:
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
        history = tuple(PastClaim("goodwill" if r.rule in GOODWILL_RULES else r.kind, from_cents(r.amount_cents),
                                  r.created_at.date()) for r in past)
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
            return_reference=session.execute(sa.select(DecisionRecord.reference).where(
                DecisionRecord.order_id == order.id, DecisionRecord.kind == "return",
                DecisionRecord.outcome.in_((APPROVE, PARTIAL))).order_by(DecisionRecord.id.desc()).limit(1)
            ).scalar_one_or_none(),
        )
        charge_facts = None
        if charge_id is not None:
            charge = session.get(Charge, charge_id)
            if charge is not None:
                waived = session.execute(sa.select(Waiver.id).where(Waiver.charge_id == charge.id)).first()
                charge_facts = ChargeFacts(charge.id, charge.customer_id, charge.kind,
                                           from_cents(charge.amount_cents), charge.waivable, waived is not None)
        return ClaimFacts(customer_facts, order_facts, history, charge_facts)

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
                authority: str, ticket_id: Optional[int] = None) -> Judgement:
        owner = self._verified_customer(session, order_number, email)
        if owner is None:
            return Judgement(decide(request, None, None, [], self._policy, self._today(), authority=authority))
        facts = self._facts(session, owner.customer, owner.order, request.charge_id)
        decision = decide(request, facts.customer, facts.order, facts.history, self._policy, self._today(),
                          authority=authority, verified=True, charge=facts.charge)
        limits = self._policy.authorities[authority]
        if decision.pays and limits.totals_per:
            decision = cap_totals(decision, request.kind, limits,
                                  self._earlier_payouts(session, owner.order, ticket_id))
        return Judgement(decision, owner, facts.charge)

    def preview(self, *, order_number: str, email: str, request: Request, authority: str = "bot",
                ticket_id: Optional[int] = None) -> Decision:
        """What `decide_and_apply` would decide now, without changing or recording anything.

        `ticket_id`: the desk ticket a person would decide on (their limits are totals per ticket).
        """
        with self._sessions() as session:
            decision = self._decide(session, order_number, email, request, authority, ticket_id).decision
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
            judgement = self._decide(session, order_number, email, request, authority, ticket_id)
            decision, owner, charge = judgement.decision, judgement.owner, judgement.charge
            requested = request.amount
            if requested is not None and not (requested.is_finite() and abs(requested) < 10**9):
                requested = None  # an absurd ask is audited as no amount
            record = DecisionRecord(
                created_at=utcnow(), idempotency_key=idempotency_key, conversation_id=conversation_id,
                authority=authority, customer_id=owner.customer.id if owner else None,
                order_id=owner.order.id if owner else None, charge_id=charge.id if charge else None,
                kind=request.kind, reason=request.reason,
                requested_cents=None if requested is None else to_cents(requested),
                outcome=decision.outcome, amount_cents=to_cents(decision.amount), rule=decision.rule,
                explanation=decision.explanation, ticket_id=ticket_id,
            )
            session.add(record)
            try:
                # A concurrent request with the same key fails here at the latest: at the flush
                # (PostgreSQL checks the unique key at the INSERT, once the other one committed) or
                # at the commit. Either way it was already decided: answer with that decision.
                session.flush()
                record.reference = self._apply(session, record, decision, owner, request)
                session.commit()
            except IntegrityError:
                session.rollback()
                earlier = self._replay(session, idempotency_key)
                if earlier:
                    return earlier
                raise
            return Outcome(decision, record.reference, replayed=False)

    def _apply(self, session: Session, record: DecisionRecord, decision: Decision,
               owner: Optional[VerifiedOwner], request: Request) -> Optional[str]:
        if decision.outcome not in (APPROVE, PARTIAL) or owner is None:
            return None
        customer, order = owner.customer, owner.order
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
                            offer_human=not pays, next_step=next_step(step) if step else "")
        return Outcome(decision, record.reference, replayed=True)
