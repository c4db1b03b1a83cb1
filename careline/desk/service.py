"""The desk's queue, a ticket's whole context, and every agent action (each one audited).

Money goes through the same `ClaimService` as the bot's, with the agent's authority (higher
limits in policy.yml, totals per ticket and per order); amounts and the customer come from the
store, never from the form, and a money form counts only with a key this desk issued for that
ticket and agent (`issue_form_keys`). A confirm applies only what its review showed: the review
signs what it reviewed (ticket, agent, form key, kind, amount, reason, charge, cap override) and
the confirm must carry that token and the same values (`preview`, `confirm`). The customer hears
of an outcome once: `tell_outcome` claims a `DeskTold` row (unique per ticket and reference) first.
Once a ticket is assigned, only its agent or a supervisor replies, pays, resolves or closes it.
Everything shown to an agent is redacted (`redact`), except the verified customer's own contact
details in the customer panel.
"""
from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from careline.db import Agent, Customer, DecisionRecord, DeskFormKey, DeskTold, Order, Ticket, TicketEvent
from careline.desk import conversation, words
from careline.desk.auth import DeskUser
from careline.fulfilment import has_label
from careline.handoff import CONTACT_EMAIL
from careline.desk.money_view import MONEY_ACTIONS, describe_event, kind_title, outcome_text, review, told_text
from careline.money import (GOODWILL_CAP_OVERRIDDEN, GOODWILL_RULES, ClaimService, Request, allowed, from_cents,
                            outcome_words, rule_words)
from careline.shared import Signer, as_utc, redact, utcnow

ACTIVE = ("open", "assigned")
MAX_TEXT = 2000
FORM_KEY_HOURS = 12  # an unused money-form key lasts as long as a desk session
REVIEW_MINUTES = 60  # a money review is confirmed within this, or reviewed again


class DeskError(ValueError):
    """An action that cannot be done as asked; the message is shown to the agent."""


class NotFound(DeskError):
    pass


class Forbidden(DeskError):
    """The ticket is another agent's: only they or a supervisor may do this (a 403)."""


def redact_lines(lines: Iterable[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """Conversation lines as an agent sees them: card numbers, emails and phone numbers redacted."""
    return [{**line, "text": redact(str(line.get("text") or ""))} for line in lines]


@dataclass(frozen=True)
class QueueItem:
    ticket_id: int
    conversation_id: str
    channel: str
    status: str
    reason: str
    priority: int
    customer: str
    order_number: Optional[str]
    summary: str
    waiting_s: int
    assigned_to: Optional[str]
    frustration: Optional[float]
    verified: bool = False  # the customer proved who they are (else `customer` is "Unverified customer")
    said: str = ""  # the first words of what the customer needs (conversation.gist, redacted)

    def as_dict(self) -> Dict[str, Any]:
        """The item with its plain words (careline.desk.words): channel_name, reason_title, waiting, and
        `detail`, what tells it apart under the customer's name: the order number of a verified
        customer; for an unverified one, the conversation's tag and the first words they said."""
        if self.verified:
            detail = self.order_number or ""
        else:
            detail = " · ".join(part for part in (words.conversation_tag(self.conversation_id),
                                                  f"“{self.said}”" if self.said else "") if part)
        return {**self.__dict__, "channel_name": words.channel_name(self.channel),
                "reason_title": words.reason_title(self.reason), "waiting": words.waiting(self.waiting_s),
                "detail": detail}


@dataclass
class TicketView:
    ticket: Dict[str, Any]
    customer: Optional[Dict[str, Any]]
    orders: List[Dict[str, Any]]
    transcript: List[Dict[str, Any]]
    frustration: List[float]
    intents: List[str]
    decisions: List[Dict[str, Any]]
    events: List[Dict[str, Any]]
    fees: List[Dict[str, Any]] = field(default_factory=list)
    refund_reasons: List[Tuple[str, str]] = field(default_factory=list)  # (policy.yml key, label)


def reason_label(reason: str) -> str:
    """How the desk names a refund reason of policy.yml: `not_as_described` -> "Not as described"."""
    return reason.replace("_", " ").capitalize()


def _event_text(kind: str, agent: Optional[str], detail: str, verified: bool) -> str:
    """A desk event in words (careline.desk.words.event_text), redacted; the address a verified
    customer left for replies is theirs to see, so it stays (an unverified customer's never shows)."""
    if kind == CONTACT_EMAIL:
        return words.event_text(kind, agent, detail, show_address=verified)
    return redact(words.event_text(kind, agent, detail))


def _clean_text(text: Any, what: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise DeskError(f"the {what} is empty")
    if len(text) > MAX_TEXT:
        raise DeskError(f"the {what} is too long ({len(text)} characters; the limit is {MAX_TEXT})")
    return text.strip()


def parse_amount(raw: Any) -> Optional[Decimal]:
    """An optional amount typed by an agent: positive, at most two decimals."""
    if raw in (None, ""):
        return None
    try:
        amount = Decimal(str(raw).strip().lstrip("$"))
    except InvalidOperation:
        raise DeskError(f"{raw!r} is not an amount") from None
    if not amount.is_finite() or amount <= 0 or amount > 10**6 or amount != amount.quantize(Decimal("0.01")):
        raise DeskError("the amount must be a positive number of dollars and cents")
    return amount


@dataclass(frozen=True)
class ClaimOwner:
    """The verified order of a ticket and the email on it: what `ClaimService` checks a claim against."""

    order_number: str
    email: str


class DeskService:
    def __init__(self, engine: Engine, claims: ClaimService, now: Callable[[], datetime] = utcnow,
                 label_url: Optional[Callable[[str], str]] = None, review_key: Optional[str] = None) -> None:
        """`label_url(reference)`: a fresh signed link to a return's label (careline.fulfilment), shown with it.
        `review_key`: signs money reviews (default: a secret of this process; a restart asks for a new review)."""
        self._sessions = sessionmaker(bind=engine, future=True, expire_on_commit=False)
        self._claims = claims
        self._now = now
        self._label_url = label_url
        self._reviews = Signer(review_key or secrets.token_urlsafe(32), "desk-money-review")

    # --- reading ---------------------------------------------------------------------------------

    def queue(self, show: str = "all", user: Optional[DeskUser] = None) -> List[QueueItem]:
        """Tickets waiting for or with a person: highest priority first, then longest waiting.

        `show`: "all", "mine" (assigned to `user`) or "unassigned" (careline.desk.words.SHOW_FILTERS).
        """
        show = words.show_filter(show)
        if show == "mine" and user is None:
            raise DeskError("whose tickets? (show=mine needs a signed-in agent)")
        now = self._now()
        query = (sa.select(Ticket, Customer.name, Order.number, Agent.name)
                 .outerjoin(Customer, Customer.id == Ticket.customer_id)
                 .outerjoin(Order, Order.id == Ticket.order_id)
                 .outerjoin(Agent, Agent.id == Ticket.assigned_agent_id)
                 .where(Ticket.status.in_(ACTIVE))
                 .order_by(Ticket.priority.desc(), Ticket.created_at, Ticket.id))
        if show == "mine" and user is not None:
            query = query.where(Ticket.assigned_agent_id == user.id)
        elif show == "unassigned":
            query = query.where(Ticket.assigned_agent_id.is_(None))
        with self._sessions() as session:
            rows = session.execute(query).all()
        items = []
        for ticket, customer, order_number, agent in rows:
            scores = json.loads(ticket.frustration or "[]")
            items.append(QueueItem(
                ticket.id, ticket.conversation_id, ticket.channel, ticket.status, ticket.reason, ticket.priority,
                customer or "Unverified customer", order_number, redact(ticket.summary),
                max(0, int((now - ticket.created_at).total_seconds())), agent, scores[-1] if scores else None,
                verified=customer is not None, said=redact(conversation.gist(json.loads(ticket.transcript or "[]"))),
            ))
        return items

    def queue_fingerprint(self) -> Tuple[int, int, int]:
        """Changes whenever the queue does (a new ticket, a status change, an agent action)."""
        with self._sessions() as session:
            tickets = session.execute(sa.select(sa.func.count(Ticket.id), sa.func.max(Ticket.id))
                                      .where(Ticket.status.in_(ACTIVE))).one()
            last_event = session.execute(sa.select(sa.func.max(TicketEvent.id))).scalar_one()
        return int(tickets[0] or 0), int(tickets[1] or 0), int(last_event or 0)

    def ticket_fingerprint(self, ticket_id: int) -> Tuple[str, int, int]:
        """Changes whenever the ticket does (status, who has it, a desk event such as a note); raises NotFound."""
        with self._sessions() as session:
            row = session.execute(sa.select(Ticket.status, Ticket.assigned_agent_id)
                                  .where(Ticket.id == ticket_id)).one_or_none()
            if row is None:
                raise NotFound(f"there is no ticket {ticket_id}")
            last_event = session.execute(sa.select(sa.func.max(TicketEvent.id))
                                         .where(TicketEvent.ticket_id == ticket_id)).scalar_one()
        return str(row[0]), int(row[1] or 0), int(last_event or 0)

    def _ticket(self, session: Session, ticket_id: int) -> Ticket:
        ticket: Optional[Ticket] = session.get(Ticket, ticket_id)
        if ticket is None:
            raise NotFound(f"there is no ticket {ticket_id}")
        return ticket

    def view(self, ticket_id: int) -> TicketView:
        with self._sessions() as session:
            ticket = self._ticket(session, ticket_id)
            customer = session.get(Customer, ticket.customer_id) if ticket.customer_id else None
            orders = []
            if customer:
                for order in session.execute(sa.select(Order).where(Order.customer_id == customer.id)
                                             .order_by(Order.placed_at.desc())).scalars():
                    orders.append({"number": order.number, "status": order.status,
                                   "placed": order.placed_at.date().isoformat(),
                                   "total": f"${from_cents(order.total_cents):.2f}",
                                   "this_ticket": order.id == ticket.order_id})
            decisions = self._decisions(session, ticket)
            events = [
                {"at": e.created_at.isoformat(timespec="seconds"), "ts": as_utc(e.created_at).timestamp(),
                 "kind": e.kind, "detail": redact(describe_event(e.kind, e.detail)), "agent": name,
                 "text": _event_text(e.kind, name, e.detail, customer is not None)}
                for e, name in session.execute(sa.select(TicketEvent, Agent.name)
                                               .outerjoin(Agent, Agent.id == TicketEvent.agent_id)
                                               .where(TicketEvent.ticket_id == ticket.id)
                                               .order_by(TicketEvent.id)).all()
            ]
            assigned = session.get(Agent, ticket.assigned_agent_id) if ticket.assigned_agent_id else None
            order = session.get(Order, ticket.order_id) if ticket.order_id else None
            view = TicketView(
                ticket={"id": ticket.id, "conversation_id": ticket.conversation_id, "channel": ticket.channel,
                        "status": ticket.status, "reason": ticket.reason, "priority": ticket.priority,
                        "summary": redact(ticket.summary),
                        "created_at": ticket.created_at.isoformat(timespec="seconds"),
                        "assigned_to": assigned.name if assigned else None,
                        "order_number": order.number if order else None},
                customer={"name": customer.name, "email": customer.email, "phone": customer.phone,
                          "tier": customer.tier, "since": customer.since.isoformat()} if customer else None,
                orders=orders, transcript=redact_lines(json.loads(ticket.transcript)),
                frustration=json.loads(ticket.frustration), intents=json.loads(ticket.intents),
                decisions=decisions, events=events,
                refund_reasons=[(reason, reason_label(reason)) for reason in self._claims.refund_reasons],
            )
            verified = (order.number, customer.email) if order and customer else None
        if verified:  # after the session: the claim service opens its own
            view.fees = [{"id": f.charge_id, "description": f.description, "amount": f"${f.amount:.2f}",
                          "charged_on": f.charged_on.isoformat()} for f in self._claims.waivable_fees(*verified)]
        return view

    # --- acting ----------------------------------------------------------------------------------

    def _audit(self, session: Session, ticket: Ticket, user: DeskUser, kind: str, detail: Any = "",
               at: Optional[datetime] = None) -> None:
        session.add(TicketEvent(ticket_id=ticket.id, agent_id=user.id, kind=kind, created_at=at or self._now(),
                                detail=detail if isinstance(detail, str) else json.dumps(detail)))

    def _active(self, session: Session, ticket_id: int) -> Ticket:
        ticket = self._ticket(session, ticket_id)
        if ticket.status not in ACTIVE:
            raise DeskError(f"ticket {ticket_id} is {ticket.status}; reopen it from the helpdesk to act on it")
        return ticket

    def _may_act(self, session: Session, ticket: Ticket, user: DeskUser) -> None:
        """Anyone may act on an unassigned ticket; on an assigned one, its agent or a supervisor."""
        if ticket.assigned_agent_id in (None, user.id) or user.is_supervisor:
            return
        owner = session.get(Agent, ticket.assigned_agent_id)
        raise Forbidden(f"ticket {ticket.id} is assigned to {owner.name if owner else 'another agent'}: only they "
                        "or a supervisor can reply, refund, waive, resolve or close it. You can add a note.")

    def issue_form_keys(self, ticket_id: int, user: DeskUser, forms: Sequence[str]) -> Dict[str, str]:
        """A new key for each money form (e.g. "refund", "waiver-7") of this ticket, good for this agent only.

        Raises Forbidden when the agent may not act on the ticket (so the page offers no money forms).
        """
        now = self._now()
        with self._sessions() as session:
            ticket = self._active(session, ticket_id)
            self._may_act(session, ticket, user)
            session.execute(sa.delete(DeskFormKey).where(
                DeskFormKey.used_at.is_(None), DeskFormKey.created_at < now - timedelta(hours=FORM_KEY_HOURS)))
            keys = {form: secrets.token_urlsafe(24) for form in forms}
            session.add_all([DeskFormKey(key=key, ticket_id=ticket.id, agent_id=user.id, created_at=now)
                             for key in keys.values()])
            session.commit()
        return keys

    def _issued_key(self, session: Session, form_key: Any, ticket: Ticket, user: DeskUser,
                    unused: bool = False) -> str:
        """`form_key` if this desk issued it for this ticket and agent (used keys replay their first result);
        `unused`: and no decision was made with it yet (a review: its confirm would only replay the first)."""
        if not isinstance(form_key, str) or not form_key or len(form_key) > 64:
            raise DeskError("the form is missing its key; reload the page")
        row = session.execute(sa.select(DeskFormKey).where(DeskFormKey.key == form_key)).scalar_one_or_none()
        if row is None or row.ticket_id != ticket.id or row.agent_id != user.id:
            raise DeskError("this form was not issued to you for this ticket, or it expired; reload the page "
                            "and try again")
        if row.used_at is None and row.created_at < self._now() - timedelta(hours=FORM_KEY_HOURS):
            raise DeskError("this form expired; reload the page and try again")
        if unused and row.used_at is not None:
            raise DeskError("this form was already used for a decision (see the decisions); reload the page "
                            "for a new one")
        return form_key

    def take(self, ticket_id: int, user: DeskUser) -> bool:
        """The ticket is `user`'s now; True when that is new (so the customer is told who joined)."""
        with self._sessions() as session:
            ticket = self._active(session, ticket_id)
            self._may_act(session, ticket, user)  # a supervisor may take a ticket over, another agent may not
            if ticket.assigned_agent_id == user.id:
                return False
            ticket.status, ticket.assigned_agent_id = "assigned", user.id
            self._audit(session, ticket, user, "take")
            session.commit()
            return True

    def _active_conversation(self, ticket_id: int, user: DeskUser) -> str:
        return self.conversation_for(ticket_id, user)[0]

    def conversation_for(self, ticket_id: int, user: DeskUser) -> Tuple[str, bool]:
        """(conversation id, whether nobody has the ticket yet) of an active ticket `user` may act on;
        raises NotFound, Forbidden or DeskError."""
        with self._sessions() as session:
            ticket = self._active(session, ticket_id)
            self._may_act(session, ticket, user)
            conversation_id: str = ticket.conversation_id
            return conversation_id, ticket.assigned_agent_id is None

    def reply(self, ticket_id: int, user: DeskUser, text: Any, send: Callable[[str, str], None],
              joining: Optional[Callable[[str], Any]] = None) -> bool:
        """Send `text` to the customer (through `send(conversation_id, text)`), then record it.

        The first reply to a ticket nobody has takes it (audited as a take): `joining(conversation_id)`
        runs before the reply is sent (to tell the customer who joined). True when the ticket was taken so.
        No database transaction is open while the bot server works (SQLite has one writer).
        """
        text = _clean_text(text, "reply")
        conversation, unassigned = self.conversation_for(ticket_id, user)
        joined_at = self._now()  # the desk's "joined" line comes before the reply
        if unassigned and joining is not None:
            joining(conversation)
        send(conversation, text)
        with self._sessions() as session:
            ticket = self._ticket(session, ticket_id)
            taken = ticket.assigned_agent_id is None
            if taken:
                ticket.status, ticket.assigned_agent_id = "assigned", user.id
                self._audit(session, ticket, user, "take", words.TAKEN_BY_REPLYING, at=joined_at)
            ticket.first_response_at = ticket.first_response_at or self._now()
            self._audit(session, ticket, user, "reply", text)
            session.commit()
        return taken

    def note(self, ticket_id: int, user: DeskUser, text: Any) -> None:
        text = _clean_text(text, "note")
        with self._sessions() as session:
            ticket = self._ticket(session, ticket_id)
            self._audit(session, ticket, user, "note", text)
            session.commit()

    # --- money -----------------------------------------------------------------------------------

    def _claim_owner(self, session: Session, ticket: Ticket) -> ClaimOwner:
        if not ticket.order_id:
            raise DeskError("this conversation has no verified order, so nothing can be refunded or waived here")
        order = session.get(Order, ticket.order_id)
        return ClaimOwner(order.number, session.get(Customer, order.customer_id).email)

    def _money_request(self, kind: str, amount: Any, reason: Optional[str], charge_id: Any,
                       override_cap: bool) -> Request:
        """The policy request of a money form, checked (one place for the review and the confirm)."""
        if kind not in MONEY_ACTIONS:
            raise DeskError(f"unknown action {kind!r}")
        try:
            charge = int(charge_id) if kind == "waiver" else None
        except (TypeError, ValueError):
            raise DeskError("choose the charge to waive") from None
        value = parse_amount(amount) if kind != "waiver" else None
        if kind == "refund" and reason not in self._claims.refund_reasons:
            raise DeskError(f"choose the refund's reason: {', '.join(self._claims.refund_reasons)}")
        return Request(kind, reason=reason if kind != "waiver" else None, amount=value, charge_id=charge,
                       override_cap=bool(override_cap) and kind != "waiver")

    def preview(self, ticket_id: int, user: DeskUser, kind: str, amount: Any = None, reason: Optional[str] = None,
                charge_id: Any = None, override_cap: bool = False, form_key: Any = None) -> Dict[str, Any]:
        """What the policy would decide for this money form with the agent's authority, applying nothing:
        the review the agent confirms or cancels (careline.desk.money_view.review).

        With the form's `form_key` (one this desk issued for the ticket and agent), an allowed review
        has a `review_token`: `confirm` needs it, and applies only what was reviewed (the amount shown,
        the kind, reason, charge and cap override). Without one, it is a preview only.
        """
        with self._sessions() as session:
            ticket = self._active(session, ticket_id)
            self._may_act(session, ticket, user)
            owner = self._claim_owner(session, ticket)
            if form_key is not None:
                form_key = self._issued_key(session, form_key, ticket, user, unused=True)
        request = self._money_request(kind, amount, reason, charge_id, override_cap)
        decision = self._claims.preview(order_number=owner.order_number, email=owner.email, request=request,
                                        authority=user.role, ticket_id=ticket_id)
        fee = ""
        if kind == "waiver":
            fee = next((f.description for f in self._claims.waivable_fees(owner.order_number, owner.email)
                        if f.charge_id == request.charge_id), "")
        shown = review(kind, decision, owner.order_number, user.role, request.amount, redact(fee))
        token = ""
        if form_key is not None and shown["allowed"] and decision.amount > 0:
            reviewed = replace(request, amount=decision.amount if kind != "waiver" else None)
            token = self._reviews.sign({**self._reviewed(ticket_id, user, form_key, reviewed),
                                        "at": int(self._now().timestamp())})
        return {**shown, "reason": request.reason, "charge_id": request.charge_id,
                "override_cap": request.override_cap, "review_token": token}

    @staticmethod
    def _reviewed(ticket_id: int, user: DeskUser, form_key: str, request: Request) -> Dict[str, Any]:
        """What a review binds its confirm to (signed into `review_token`, compared at the confirm)."""
        return {"ticket": ticket_id, "agent": user.id, "form_key": form_key, "kind": request.kind,
                "amount": None if request.amount is None else f"{request.amount:.2f}", "reason": request.reason,
                "charge": request.charge_id, "override": request.override_cap}

    def _check_review(self, ticket_id: int, user: DeskUser, form_key: str, request: Request, token: Any,
                      replay: bool = False) -> None:
        """Raises DeskError unless `token` is this desk's review of exactly this confirm, and fresh (`replay`:
        a decision was made with its key, so the confirm can only answer that decision: of any age, so that a
        confirm tried again long after its answer was lost never leads to paying twice)."""
        signed = self._reviews.verify(token)
        if signed is None:
            raise DeskError("review it first: a refund or waiver is confirmed from its review (review it again)")
        at = signed.pop("at", None)
        if signed != self._reviewed(ticket_id, user, form_key, request):
            raise DeskError("this is not what was reviewed (the amount, kind, reason, charge or cap override "
                            "differ); review it again")
        if not isinstance(at, int) or (not replay and self._now().timestamp() - at > REVIEW_MINUTES * 60):
            raise DeskError(f"this review is more than {REVIEW_MINUTES} minutes old; review it again")

    @staticmethod
    def _decided(session: Session, idempotency_key: str) -> bool:
        return session.execute(sa.select(DecisionRecord.id).where(
            DecisionRecord.idempotency_key == idempotency_key)).first() is not None

    def _use_key(self, form_key: str) -> None:
        """From now on a review with `form_key` is refused (`preview`): its confirm is deciding."""
        with self._sessions() as session:
            session.execute(sa.update(DeskFormKey).where(DeskFormKey.key == form_key, DeskFormKey.used_at.is_(None))
                            .values(used_at=self._now()))
            session.commit()

    def _release_key(self, form_key: str, idempotency_key: str) -> None:
        """The form is good again when nothing was decided with its key (its confirm failed)."""
        with self._sessions() as session:
            decided = sa.select(DecisionRecord.id).where(DecisionRecord.idempotency_key == idempotency_key)
            session.execute(sa.update(DeskFormKey).where(DeskFormKey.key == form_key, ~decided.exists())
                            .values(used_at=None).execution_options(synchronize_session=False))
            session.commit()

    def claim(self, ticket_id: int, user: DeskUser, kind: str, form_key: Any, amount: Any = None,
              reason: Optional[str] = None, charge_id: Any = None, override_cap: bool = False) -> Dict[str, Any]:
        """A refund, goodwill refund or fee waiver decided with the agent's authority, once per issued form key.

        `override_cap`: a supervisor goes past the goodwill cap per customer (recorded and audited).
        The result says what was decided, with the rule in agent language (`why`) and a sentence
        for the agent (`message`); a used key answers its first result again. The desk's pages and
        API confirm with `confirm` (bound to a review); this is the same without one.
        """
        return self._claim(ticket_id, user, kind, form_key, amount, reason, charge_id, override_cap)[0]

    def confirm(self, ticket_id: int, user: DeskUser, kind: str, form_key: Any, amount: Any = None,
                reason: Optional[str] = None, charge_id: Any = None, override_cap: bool = False,
                tell: Optional[Callable[[str], Dict[str, Any]]] = None, review_token: Any = None) -> Dict[str, Any]:
        """`claim` of what was reviewed: `review_token` is `preview`'s for this form key, and the values
        must be the ones it showed (else DeskError: review it again). Then, when it paid or waived
        something now (not a replayed key), `tell(reference)` the customer (e.g. `tell_outcome`).
        `told` in the result: whether the customer heard of it now; `tell_error`: why not, when telling
        failed (the money is applied all the same)."""
        result, replayed = self._claim(ticket_id, user, kind, form_key, amount, reason, charge_id, override_cap,
                                       review_token=review_token, reviewed=True)
        answer: Dict[str, Any] = {}
        if tell is not None and result["allowed"] and result["reference"] and not replayed:
            answer = tell(result["reference"])
        return {**result, "told": bool(answer.get("told")), "tell_error": str(answer.get("error") or ""),
                "replayed": replayed}

    def _claim(self, ticket_id: int, user: DeskUser, kind: str, form_key: Any, amount: Any,
               reason: Optional[str], charge_id: Any, override_cap: bool, review_token: Any = None,
               reviewed: bool = False) -> Tuple[Dict[str, Any], bool]:
        """`claim`'s result and whether it replayed the key's first result (nothing happened again);
        `reviewed`: only what `review_token` reviewed (`confirm`)."""
        if kind not in MONEY_ACTIONS:
            raise DeskError(f"unknown action {kind!r}")
        with self._sessions() as session:
            ticket = self._active(session, ticket_id)
            self._may_act(session, ticket, user)
            owner = self._claim_owner(session, ticket)
            form_key = self._issued_key(session, form_key, ticket, user)
            idempotency_key = f"desk:{ticket_id}:{form_key}"
            decided = self._decided(session, idempotency_key)  # decisions are never deleted: a sure replay
        request = self._money_request(kind, amount, reason, charge_id, override_cap)
        if reviewed:
            self._check_review(ticket_id, user, form_key, request, review_token, replay=decided)
        self._use_key(form_key)
        try:
            outcome = self._claims.decide_and_apply(
                idempotency_key=idempotency_key, order_number=owner.order_number, email=owner.email,
                request=request, authority=user.role, conversation_id=ticket.conversation_id, ticket_id=ticket_id,
            )
        except Exception:
            self._release_key(form_key, idempotency_key)
            raise
        decision = outcome.decision
        result = {"kind": kind, "outcome": decision.outcome, "amount": f"{decision.amount:.2f}",
                  "rule": decision.rule, "reference": outcome.reference, "explanation": decision.explanation,
                  "authority": user.role, "why": rule_words(decision.rule, decision.facts, user.role)}
        with self._sessions() as session:
            if not outcome.replayed:
                ticket = self._ticket(session, ticket_id)
                self._audit(session, ticket, user, kind, result)
                if decision.rule == GOODWILL_CAP_OVERRIDDEN:
                    self._audit(session, ticket, user, "cap_override",
                                f"{user.name} went past the goodwill cap per customer: {kind} of "
                                f"${decision.amount:.2f} ({outcome.reference})")
            session.commit()
        return {**result, "allowed": allowed(decision.outcome), "message": outcome_text(result)}, outcome.replayed

    def tell_outcome(self, ticket_id: int, user: DeskUser, reference: Any, send: Callable[[str, str], None],
                     joining: Optional[Callable[[str], Any]] = None) -> Dict[str, Any]:
        """Tell the customer, as the agent's message, what was done on this ticket under `reference`
        (an applied refund or waiver), in the bot's own words for it (utter_done_refund or utter_done_waiver).

        Once per outcome: a `DeskTold` row for the ticket and reference is inserted first, in its own
        transaction, under a unique key; only the request that inserted it sends, the others answer
        {"told": False, "already": True}. When sending fails, the row is removed again (so the agent can
        try again) and the error is raised. Sent through `reply` (recorded, takes an unassigned ticket).
        """
        if not isinstance(reference, str) or not reference or len(reference) > 40:
            raise DeskError("which outcome should the customer hear about? (no reference)")
        with self._sessions() as session:
            ticket = self._active(session, ticket_id)
            self._may_act(session, ticket, user)
            record = session.execute(sa.select(DecisionRecord).where(
                DecisionRecord.reference == reference, DecisionRecord.ticket_id == ticket.id,
                DecisionRecord.kind.in_(MONEY_ACTIONS))).scalar_one_or_none()
            if record is None or not allowed(record.outcome):
                raise DeskError(f"nothing was paid or waived on this ticket under {reference}")
            text = self._told_text(record)
        if not self._claim_told(ticket_id, user, reference):
            return {"told": False, "already": True, "text": text}
        went = False

        def sending(conversation_id: str, words: str) -> None:
            nonlocal went
            send(conversation_id, words)
            went = True
        try:
            self.reply(ticket_id, user, text, sending, joining=joining)
        except Exception:
            if not went:  # nothing reached the customer: the outcome can be told again
                with self._sessions() as session:
                    session.execute(sa.delete(DeskTold).where(DeskTold.ticket_id == ticket_id,
                                                              DeskTold.reference == reference))
                    session.commit()
            raise
        return {"told": True, "already": False, "text": text}

    def _claim_told(self, ticket_id: int, user: DeskUser, reference: str) -> bool:
        """Claim telling the customer of `reference` (its own transaction); False when it was claimed already."""
        with self._sessions() as session:
            session.add(DeskTold(ticket_id=ticket_id, reference=reference, agent_id=user.id, created_at=self._now()))
            try:
                session.commit()
            except sa.exc.IntegrityError:
                session.rollback()
                return False
        return True

    @staticmethod
    def _told_text(record: DecisionRecord) -> str:
        """What the customer is told of an applied desk refund or waiver (money_view.told_text)."""
        kind = "goodwill" if record.rule in GOODWILL_RULES else str(record.kind)
        return told_text(kind, from_cents(record.amount_cents), record.reference)

    def _decisions(self, session: Session, ticket: Ticket) -> List[Dict[str, Any]]:
        """The conversation's policy decisions (the bot's and the desk's) as the decisions table shows
        them: who, what, the outcome and the rule in words, amount, reference, the return label's link;
        `tellable` for what this ticket paid or waived, and `told` once the customer had that message
        (or it is being sent: `DeskTold`)."""
        records = session.execute(sa.select(DecisionRecord)
                                  .where(DecisionRecord.conversation_id == ticket.conversation_id)
                                  .order_by(DecisionRecord.id)).scalars().all()
        told_of = set(session.execute(sa.select(DeskTold.reference).where(DeskTold.ticket_id == ticket.id)).scalars())
        keys = [r.idempotency_key.rsplit(":", 1)[-1] for r in records if r.idempotency_key.startswith("desk:")]
        names = dict(session.execute(sa.select(DeskFormKey.key, Agent.name)
                                     .join(Agent, Agent.id == DeskFormKey.agent_id)
                                     .where(DeskFormKey.key.in_(keys))).all()) if keys else {}
        rows = []
        for r in records:
            name = names.get(r.idempotency_key.rsplit(":", 1)[-1]) if r.idempotency_key.startswith("desk:") else None
            who = "Bot" if r.authority == "bot" else f"{name or 'Someone'} ({r.authority})"
            tellable = bool(r.ticket_id == ticket.id and r.kind in MONEY_ACTIONS and allowed(r.outcome) and r.reference)
            told = tellable and r.reference in told_of
            rows.append({
                "at": r.created_at.isoformat(timespec="seconds"), "authority": r.authority, "who": who,
                "kind": r.kind, "what": kind_title(r.kind), "outcome": r.outcome,
                "outcome_words": outcome_words(r.outcome, r.authority), "allowed": allowed(r.outcome),
                "amount": f"${from_cents(r.amount_cents):.2f}", "rule": r.rule,
                "why": rule_words(r.rule, authority=r.authority), "reference": r.reference,
                "tellable": tellable, "told": told,
                "label_url": self._label_url(r.reference) if self._label_url and has_label(
                    r.kind, r.outcome, r.reference) else None,
            })
        return rows

    def finish(self, ticket_id: int, user: DeskUser, status: str, resume: Callable[[str], None]) -> None:
        """Resolve or close a ticket, then give the conversation back to the bot, which tells the customer.

        The ticket is finished first: if the bot server cannot be reached, the customer's next
        message finds the ticket finished and the bot hands itself back (actions/handoff.py).
        """
        if status not in ("resolved", "closed"):
            raise DeskError(f"unknown status {status!r}")
        conversation = self._active_conversation(ticket_id, user)
        with self._sessions() as session:
            ticket = self._ticket(session, ticket_id)
            now = self._now()
            ticket.status = status
            ticket.resolved_at = ticket.resolved_at or now
            if status == "closed":
                ticket.closed_at = now
            ticket.assigned_agent_id = ticket.assigned_agent_id or user.id
            self._audit(session, ticket, user, "handback" if status == "resolved" else "close")
            session.commit()
        resume(conversation)
