"""The customer's view of the wait for a person, as the website widget shows it (its header).

`conversation_state` (pure) says whether a person has or will take the conversation, whether the
team is at work, the expected wait, when the team is back, who has the conversation and whether we
have an address to send the reply to. `CustomerView` gathers those facts from the store.
`reply_address` is the one rule for where an agent's reply goes by email: the verified customer's
own address (never one typed in chat), else the address the customer left while waiting.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Callable, Dict, Optional, Tuple

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from careline.db import Customer, Ticket, TicketEvent
from careline.handoff.tickets import CONTACT_EMAIL, TicketService, TicketState
from careline.handoff.waiting import (
    WaitEstimate,
    WaitSettings,
    after_closing,
    estimate_wait,
    handling_minutes,
    when_back,
)
from careline.shared import Shop, transcript, utcnow


@dataclass(frozen=True)
class ConversationState:
    """What the widget's `conversation_state` event carries (the widget's protocol, contract 3)."""

    waiting: bool                 # a person has or will take the conversation
    team_open: bool               # the support team is at work now
    eta_minutes: Optional[int]    # the expected wait while queued and the team is at work
    back: Optional[str]           # when the team is back ("tomorrow at 9:00 AM EST"), while it is away
    agent: Optional[str]          # the full name of the agent who has the conversation
    initials: Optional[str]
    email_known: bool             # we have an address to send the reply to
    revision: Tuple[int, int] = (0, 0)  # TicketService.revision, read first: a newer state has one as high

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)


def conversation_state(ticket: Optional[TicketState], with_a_person: bool, now: datetime, shop: Shop,
                       estimate: Optional[WaitEstimate], email_known: bool,
                       revision: Tuple[int, int] = (0, 0)) -> ConversationState:
    """The state of a conversation for its customer.

    `with_a_person`: the conversation's `handoff_ticket` slot is set (the bot stands back); it waits
    only while its latest ticket is still open or assigned. `estimate`: the wait of a queued ticket.
    `revision`: how far the tickets had come when they were read (the widget keeps the newest state).
    """
    team_open = shop.is_open(now)
    opening = shop.next_opening(now)
    back = when_back(opening, now, shop) if opening is not None else None
    waiting = bool(with_a_person and ticket is not None and ticket.active)
    if not waiting or ticket is None:
        return ConversationState(False, team_open, None, back, None, None, False, revision)
    agent = ticket.agent_name if ticket.status == "assigned" else None
    eta = None
    if agent is None and team_open and estimate is not None:
        late = after_closing(now, shop, estimate)
        if late is None:
            eta = estimate.minutes
        else:  # the team leaves before the estimated reply: say when it is back instead
            back = when_back(late[1], now, shop)
    initials = transcript.initials(agent) or None if agent else None
    return ConversationState(True, team_open, eta, back, agent, initials, email_known, revision)


def reply_address(session: Session, ticket: Ticket, only_if_left: bool = False) -> Optional[str]:
    """Where an agent's reply to `ticket` goes by email, or None.

    A verified customer's reply goes to the address on their account, never to one typed in chat;
    else to the address the customer left while waiting. `only_if_left`: only when the customer left
    one (they asked for replies by email), as on channels where we cannot tell what they have seen.
    """
    left = session.execute(sa.select(TicketEvent.detail).where(
        TicketEvent.ticket_id == ticket.id, TicketEvent.kind == CONTACT_EMAIL)
        .order_by(TicketEvent.id.desc()).limit(1)).scalar_one_or_none()
    if only_if_left and not left:
        return None
    if ticket.customer_id is not None:
        customer = session.get(Customer, ticket.customer_id)
        if customer is not None and customer.email:
            return str(customer.email)
    return str(left) if left else None


def estimate_for(service: TicketService, position: int, shop: Shop, rules: WaitSettings) -> WaitEstimate:
    """The wait for `position`, from how long people took with the tickets they handled lately."""
    minutes = handling_minutes(service.handled_spans(rules.history_tickets), shop)
    return estimate_wait(position, minutes, service.agents_at_work(rules.agent_active_minutes), rules)


class CustomerView:
    """A conversation's state for its customer, from the store (blocking: call off the event loop)."""

    def __init__(self, engine: Engine, shop: Callable[[], Shop], rules: WaitSettings,
                 now: Callable[[], datetime] = utcnow) -> None:
        self._tickets = TicketService(engine, now=now)
        self._sessions = sessionmaker(bind=engine, future=True)
        self._shop, self._rules, self._now = shop, rules, now

    def state(self, conversation_id: str, with_a_person: bool) -> ConversationState:
        now, shop = self._now(), self._shop()
        if with_a_person:
            ticket = self._tickets.state(conversation_id)
            revision = ticket.revision if ticket is not None else (0, 0)
        else:  # no ticket to show, but the revision still labels the state
            ticket, revision = None, self._tickets.revision(conversation_id)
        estimate = None
        if ticket is not None and ticket.status == "open":
            estimate = estimate_for(self._tickets, ticket.queue_position, shop, self._rules)
        email_known = False
        if ticket is not None and ticket.active:
            with self._sessions() as session:
                row = session.get(Ticket, ticket.id)
                email_known = row is not None and reply_address(session, row) is not None
        return conversation_state(ticket, with_a_person, now, shop, estimate, email_known, revision)
