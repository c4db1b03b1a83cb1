"""The wait as the website widget's header shows it (conversation_state), and where an agent's reply
goes by email (reply_address), on shop.yml's hours and a real SQLite store."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from careline.db import Agent, Ticket, make_engine
from careline.handoff import (
    CustomerView,
    TicketService,
    TicketState,
    WaitEstimate,
    WaitSettings,
    conversation_state,
    reply_address,
)
from careline.handoff.ticket import TicketFacts, build_ticket
from careline.shared import PROJECT_ROOT, load_shop
from tests.conftest import Clock

SHOP = load_shop(PROJECT_ROOT / "shop.yml")
MONDAY_10AM = datetime(2026, 11, 23, 15, 0, tzinfo=timezone.utc)      # 10:00 in New York
MONDAY_7_50PM = datetime(2026, 11, 24, 0, 50, tzinfo=timezone.utc)    # 19:50, the team leaves at 20:00
SUNDAY_10AM = datetime(2026, 11, 22, 15, 0, tzinfo=timezone.utc)
QUEUED = TicketState(7, "open", 3, None, None, None)
WITH_ANA = TicketState(7, "assigned", 0, "Ana Rivera", None, None)
TWENTY = WaitEstimate(20, from_history=True)


def test_nobody_is_waited_for_without_the_slot_or_an_active_ticket():
    resolved = TicketState(7, "resolved", 0, "Ana Rivera", None, None)
    for ticket, slot in ((None, True), (QUEUED, False), (resolved, True)):
        state = conversation_state(ticket, slot, MONDAY_10AM, SHOP, TWENTY, email_known=True)
        assert state.as_dict() == {"waiting": False, "team_open": True, "eta_minutes": None, "back": None,
                                   "agent": None, "initials": None, "email_known": False, "revision": (0, 0)}


def test_queued_in_hours_has_an_eta_and_with_an_agent_their_name():
    queued = conversation_state(QUEUED, True, MONDAY_10AM, SHOP, TWENTY, email_known=False)
    assert (queued.waiting, queued.team_open, queued.eta_minutes, queued.back, queued.agent) == \
        (True, True, 20, None, None)
    taken = conversation_state(WITH_ANA, True, MONDAY_10AM, SHOP, None, email_known=True, revision=(7, 12))
    assert taken.as_dict() == {"waiting": True, "team_open": True, "eta_minutes": None, "back": None,
                               "agent": "Ana Rivera", "initials": "AR", "email_known": True, "revision": (7, 12)}


def test_out_of_hours_says_when_the_team_is_back_and_no_eta():
    away = conversation_state(QUEUED, True, SUNDAY_10AM, SHOP, TWENTY, email_known=False)
    assert (away.waiting, away.team_open, away.eta_minutes, away.back) == (True, False, None, "tomorrow at 8:00 AM EST")
    idle = conversation_state(None, False, SUNDAY_10AM, SHOP, None, email_known=False)
    assert (idle.waiting, idle.team_open, idle.back) == (False, False, "tomorrow at 8:00 AM EST")
    late = conversation_state(QUEUED, True, MONDAY_7_50PM, SHOP, TWENTY, email_known=False)
    assert (late.team_open, late.eta_minutes, late.back) == (True, None, "tomorrow at 8:00 AM EST"), \
        "a wait past closing time is not promised: the team is back tomorrow"


@pytest.fixture
def engine(fresh_store_url):
    return make_engine(fresh_store_url)


def _ticket(engine, conversation, verified):
    draft = build_ticket(conversation, "socketio", "customer_request",
                         [{"event": "user", "text": "a person please", "timestamp": 1_700_000_000}],
                         TicketFacts(customer_name="Maria Lopez" if verified else None,
                                     order_number="CL-100001" if verified else None))
    with Session(engine) as session:
        maria = session.execute(sa.text("SELECT id FROM customers WHERE email='maria.lopez@example.com'")).scalar_one()
    return TicketService(engine).open(draft, f"{conversation}:1", customer_id=maria if verified else None).id


def _address(engine, ticket_id, only_if_left=False):
    with Session(engine) as session:
        return reply_address(session, session.get(Ticket, ticket_id), only_if_left)


def test_a_reply_goes_to_the_verified_customers_own_address_else_the_one_they_left(engine):
    verified, anonymous = _ticket(engine, "web-verified", True), _ticket(engine, "web-anonymous", False)
    assert _address(engine, verified) == "maria.lopez@example.com"
    assert _address(engine, verified, only_if_left=True) is None, "other channels: only when they asked"
    assert _address(engine, anonymous) is None
    for ticket in (verified, anonymous):
        TicketService(engine).leave_contact(ticket, "typed.in.chat@example.net")
    assert _address(engine, verified, only_if_left=True) == "maria.lopez@example.com", "never one typed in chat"
    assert _address(engine, anonymous) == _address(engine, anonymous, True) == "typed.in.chat@example.net"


def test_the_view_reads_the_ticket_its_agent_and_the_address_from_the_store(engine):
    clock = Clock(MONDAY_10AM)
    view = CustomerView(engine, lambda: SHOP, WaitSettings(), now=clock)
    ticket = _ticket(engine, "web-view", False)
    queued = view.state("web-view", with_a_person=True)
    assert queued.waiting and queued.eta_minutes == 6 and not queued.email_known  # the default: 6 minutes a ticket
    TicketService(engine).leave_contact(ticket, "kim@example.net")
    with Session(engine) as session, session.begin():
        ana = Agent(email="ana@example.test", name="Ana Rivera", role="agent", password_hash="x", created_at=clock.now)
        session.add(ana)
        session.flush()
        row = session.get(Ticket, ticket)
        row.status, row.assigned_agent_id = "assigned", ana.id
    taken = view.state("web-view", with_a_person=True)
    assert (taken.agent, taken.initials, taken.eta_minutes, taken.email_known) == ("Ana Rivera", "AR", None, True)
    assert queued.revision == (1, 0), "one ticket, nothing done with it yet"
    assert taken.revision > queued.revision, "the contact left is a ticket event: a newer state"
    assert not view.state("web-view", with_a_person=False).waiting, "handed back: the slot is cleared"
    assert not view.state("web-nobody", with_a_person=True).waiting
    assert view.state("web-nobody", with_a_person=True).revision == (0, 0)
    assert view.state("web-view", with_a_person=False).revision == taken.revision, "read also without the slot"
