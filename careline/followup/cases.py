"""What a follow-up is about, read from the store: the case, in facts the bot and an agent can name."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Optional

from sqlalchemy.orm import Session

from careline.db import Customer, DecisionRecord, FollowUp, Order, Ticket
from careline.followup.rules import LATE_ORDER

#: `DecisionRecord.outcome` of a decision that was carried out (careline.money's APPROVE and PARTIAL).
CARRIED_OUT = ("approve", "partial")
#: Order statuses after which an order can no longer be late.
FINISHED = ("delivered", "cancelled", "returned")


def is_late(status: str, promised_date: Optional[date], today: date) -> bool:
    """An order is late once its promised date has passed and it has not arrived (nor ended otherwise)."""
    return promised_date is not None and promised_date < today and status not in FINISHED


@dataclass(frozen=True)
class Case:
    """A follow-up and the case it is about: the decision's amount and reference, the order, the ticket."""

    follow_up_id: int
    kind: str
    conversation_id: str
    case_at: datetime
    order_number: Optional[str] = None
    amount: Optional[Decimal] = None
    reference: Optional[str] = None
    ticket_id: Optional[int] = None
    promised_date: Optional[date] = None
    first_name: Optional[str] = None

    @property
    def is_late_notice(self) -> bool:
        return self.kind == LATE_ORDER

    def describe(self) -> str:
        """The case as an agent reads it in a ticket: `refund RF-000012 ($38.95, order CL-100003)`."""
        if self.kind == "handoff":
            return f"handoff (ticket #{self.ticket_id})"
        details = [f"${self.amount:.2f}"] if self.amount else []
        details += [f"order {self.order_number}"] if self.order_number else []
        head = f"{self.kind} {self.reference}" if self.reference else self.kind
        return f"{head} ({', '.join(details)})" if details else head


def case_of(session: Session, row: FollowUp) -> Case:
    """The case of a stored follow-up, with the facts of its decision and order."""
    decision = session.get(DecisionRecord, row.decision_id) if row.decision_id else None
    order = session.get(Order, row.order_id) if row.order_id else None
    ticket = session.get(Ticket, row.ticket_id) if row.ticket_id else None
    customer_id = next((found.customer_id for found in (decision, order, ticket)
                        if found is not None and found.customer_id), None)
    customer = session.get(Customer, customer_id) if customer_id else None
    amount = Decimal(decision.amount_cents) / 100 if decision is not None and decision.amount_cents else None
    return Case(
        follow_up_id=row.id, kind=row.kind, conversation_id=row.conversation_id, case_at=row.case_at,
        order_number=order.number if order is not None else None,
        amount=amount.quantize(Decimal("0.01")) if amount is not None else None,
        reference=decision.reference if decision is not None else None,
        ticket_id=row.ticket_id,
        promised_date=order.promised_date if order is not None else None,
        first_name=customer.name.split()[0] if customer is not None and customer.name.strip() else None,
    )
