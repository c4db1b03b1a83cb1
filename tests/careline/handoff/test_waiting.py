"""Waiting for a person: a wait estimated from real handling times, business hours from shop.yml,
and acknowledgements that never repeat three times in a row."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy.orm import Session

from careline.db import Agent, Ticket, TicketEvent, make_engine
from careline.db.migrate import migrate
from careline.handoff.tickets import TicketService
from careline.handoff.waiting import (
    HandledSpan,
    WaitSettings,
    estimate_wait,
    expectation,
    handling_minutes,
    waiting_reply,
)
from careline.shared import PROJECT_ROOT, load_settings, load_shop

SHOP = load_shop(PROJECT_ROOT / "shop.yml")
RULES = WaitSettings()
MONDAY_10AM = datetime(2026, 11, 23, 15, 0, tzinfo=timezone.utc)     # 10:00 in New York
SUNDAY_10AM = datetime(2026, 11, 22, 15, 0, tzinfo=timezone.utc)
SATURDAY_9PM = datetime(2026, 11, 29, 2, 0, tzinfo=timezone.utc)     # Sat 28 Nov, 21:00 New York


def test_without_history_the_default_is_used_and_said_as_usual():
    estimate = estimate_wait(3, [], agents_at_work=0, settings=RULES)
    assert (estimate.minutes, estimate.from_history) == (20, False)  # 3 x 6 = 18, rounded up to 5 past 15
    text = expectation(3, MONDAY_10AM, SHOP, estimate)
    assert "number 3 in the queue" in text and "usually replies within about 20 minutes" in text


def test_with_history_the_median_handling_time_and_the_agents_at_work_decide():
    minutes = [4, 5, 6, 30, 5, 4]                                      # one slow case does not swing it
    estimate = estimate_wait(4, minutes, agents_at_work=2, settings=RULES)
    assert estimate.from_history and estimate.minutes == 10           # median 5 x 4 ahead / 2 agents
    text = expectation(4, MONDAY_10AM, SHOP, estimate)
    assert "going by how long our team is taking right now" in text and "about 10 minutes" in text
    assert estimate_wait(1, [0.2] * 10, 1, RULES).minutes == 2, "never promises less than 2 minutes"
    assert estimate_wait(20, [7] * 10, 1, RULES).minutes == 140, "long waits are rounded to 5 minutes"


def test_handling_time_counts_working_hours_only():
    friday_7pm = datetime(2026, 12, 5, 0, 0, tzinfo=timezone.utc)
    monday_9am = datetime(2026, 12, 7, 14, 0, tzinfo=timezone.utc)
    assert handling_minutes([HandledSpan(friday_7pm, monday_9am)], SHOP) == [600.0]


def test_out_of_hours_the_customer_hears_when_the_team_is_back_in_its_time_zone():
    text = expectation(1, SUNDAY_10AM, SHOP, estimate_wait(1, [], 0, RULES))
    assert "offline right now and back tomorrow at 8:00 AM EST" in text and "email address" in text
    saturday = expectation(1, SATURDAY_9PM, SHOP, estimate_wait(1, [], 0, RULES))
    assert "back on Monday at 8:00 AM EST" in saturday
    thanksgiving_eve = datetime(2026, 11, 26, 1, 0, tzinfo=timezone.utc)  # Wed 25 Nov 20:00 New York
    assert "back on Friday at 8:00 AM EST" in expectation(1, thanksgiving_eve, SHOP, estimate_wait(1, [], 0, RULES))


def test_waiting_replies_alternate_and_name_the_agent_or_the_email_left():
    estimate = estimate_wait(2, [], 0, RULES)
    full = waiting_reply(2, MONDAY_10AM, SHOP, estimate, None, None, brief=False)
    brief = waiting_reply(2, MONDAY_10AM, SHOP, estimate, None, None, brief=True)
    assert full != brief and "number 2" in full and "number 2" in brief
    assert "Ana" in waiting_reply(1, MONDAY_10AM, SHOP, estimate, "Ana Ruiz", None, brief=False)
    offline = waiting_reply(1, SUNDAY_10AM, SHOP, estimate, None, "kim@example.net", brief=False)
    assert "by email to kim@example.net" in offline and "tomorrow at 8:00 AM EST" in offline


def test_wait_settings_come_from_policy_yml_and_are_checked():
    section = load_settings().policy_section("handoff")
    assert WaitSettings.from_mapping(section) == WaitSettings(
        **{k: v for k, v in section.items() if k in WaitSettings.__dataclass_fields__})
    assert section["default_minutes_per_ticket"] == WaitSettings().default_minutes_per_ticket
    with pytest.raises(ValueError, match="default_minutes_per_ticket"):
        WaitSettings.from_mapping({"default_minutes_per_ticket": 0})


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    migrate(engine)
    return engine


def _ticket(session, number, status="open", priority=40, agent_id=None, created=MONDAY_10AM, **times):
    ticket = Ticket(idempotency_key=f"k{number}", conversation_id=f"c{number}", channel="rest", status=status,
                    reason="customer_request", priority=priority, summary="s", transcript="[]", intents="[]",
                    frustration="[]", decisions="[]", created_at=created, assigned_agent_id=agent_id, **times)
    session.add(ticket)
    session.flush()
    return ticket


def test_the_store_gives_the_state_history_and_agents_at_work(engine):
    now = MONDAY_10AM + timedelta(hours=1)
    service = TicketService(engine, now=lambda: now)
    with Session(engine) as session:
        ana = Agent(email="ana@x", name="Ana Ruiz", role="agent", password_hash="x", active=True, created_at=now)
        session.add(ana)
        session.flush()
        for number in range(3):  # handled: 5, 10 and 15 minutes after the first reply
            _ticket(session, number, status="resolved", agent_id=ana.id,
                    first_response_at=MONDAY_10AM, resolved_at=MONDAY_10AM + timedelta(minutes=5 * (number + 1)))
        _ticket(session, 10, priority=40)
        waiting = _ticket(session, 11, priority=40)
        taken = _ticket(session, 12, status="assigned", agent_id=ana.id)
        session.add(TicketEvent(ticket_id=taken.id, agent_id=ana.id, kind="reply", detail="hi",
                                created_at=now - timedelta(minutes=1)))
        session.commit()
        waiting_id, taken_id = waiting.id, taken.id
    assert [round(s.finished.timestamp() - s.started.timestamp()) for s in service.handled_spans(10)] == [900, 600, 300]
    state = service.state("c11")
    assert (state.id, state.status, state.queue_position, state.agent_name) == (waiting_id, "open", 2, None)
    busy = service.state("c12")
    assert busy.agent_name == "Ana Ruiz" and busy.last_agent_reply is not None and busy.active
    assert service.agents_at_work(30) == 1 and service.state("nobody") is None
    service.leave_contact(waiting_id, "kim@example.net")
    assert service.state("c11").contact_email == "kim@example.net"
    assert not service.state("c0").active and service.state("c0").agent_name == "Ana Ruiz"
    assert taken_id


def test_a_wait_past_closing_time_says_so_and_when_the_team_is_back():
    ten_to_eight_pm = datetime(2026, 11, 24, 0, 50, tzinfo=timezone.utc)   # Mon 23 Nov 19:50 New York
    text = expectation(12, ten_to_eight_pm, SHOP, estimate_wait(12, [], 1, RULES))
    assert "finishes at 8:00 PM EST today" in text and "back tomorrow at 8:00 AM EST" in text
    assert "about" not in text, "no wait in minutes that cannot be kept"
    early = expectation(1, MONDAY_10AM, SHOP, estimate_wait(1, [], 1, RULES))
    assert "finishes" not in early


def test_offline_with_an_email_left_alternates_too():
    estimate = estimate_wait(1, [], 0, RULES)
    full = waiting_reply(1, SUNDAY_10AM, SHOP, estimate, None, "kim@example.net", brief=False)
    brief = waiting_reply(1, SUNDAY_10AM, SHOP, estimate, None, "kim@example.net", brief=True)
    assert full != brief and "by email" in brief
