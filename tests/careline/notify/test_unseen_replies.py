"""Agent replies a customer has not seen go by email after a grace period, once, on a real SQLite store
(careline.notify.unseen_replies; it replaced the desk's immediate email of every reply)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from careline.access.seen_marks import SeenMarks
from careline.db import Agent, EmailRecord, ReplyNotice, TicketEvent, make_engine
from careline.handoff import TicketService, reply_address
from careline.handoff.ticket import TicketFacts, build_ticket
from careline.notify import UnseenReplies
from tests.conftest import Clock

START = datetime(2026, 11, 23, 15, 0, tzinfo=timezone.utc)
GRACE = timedelta(minutes=2)


@pytest.fixture
def engine(fresh_store_url):
    return make_engine(fresh_store_url)


@pytest.fixture
def clock():
    return Clock(START)


@pytest.fixture
def job(engine, clock):
    return UnseenReplies(engine, reply_address, grace=GRACE, now=clock)


@pytest.fixture
def ana(engine):
    with Session(engine) as session, session.begin():
        agent = Agent(email="ana@example.test", name="Ana Rivera", role="agent", password_hash="x", created_at=START)
        session.add(agent)
        session.flush()
        return agent.id


def _ticket(engine, conversation, channel="socketio", verified=False, contact=None):
    draft = build_ticket(conversation, channel, "customer_request",
                         [{"event": "user", "text": "a person please", "timestamp": 1_700_000_000}],
                         TicketFacts(order_number="CL-100001" if verified else None))
    with Session(engine) as session:
        maria = session.execute(sa.text("SELECT id FROM customers WHERE email='maria.lopez@example.com'")).scalar_one()
    ticket = TicketService(engine).open(draft, f"{conversation}:1", customer_id=maria if verified else None).id
    if contact:
        TicketService(engine).leave_contact(ticket, contact)
    return ticket


def _reply(engine, ticket, agent, text, at):
    with Session(engine) as session, session.begin():
        session.add(TicketEvent(ticket_id=ticket, agent_id=agent, kind="reply", detail=text, created_at=at))


def _emails(engine):
    with Session(engine) as session:
        return [(e.idempotency_key, e.recipient, e.subject, e.body) for e in
                session.execute(sa.select(EmailRecord).order_by(EmailRecord.id)).scalars()]


def test_a_reply_the_widget_showed_is_not_emailed_and_a_missed_one_is_after_the_grace(engine, clock, job, ana):
    seen_in_time = _ticket(engine, "web-seen", contact="kim@example.net")
    missed = _ticket(engine, "web-missed", contact="lee@example.net")
    marks = SeenMarks(engine, clock=clock)
    _reply(engine, seen_in_time, ana, "Hi Kim, Ana here.", START)
    _reply(engine, missed, ana, "Hi Lee, Ana here.", START)
    clock.now = START + timedelta(seconds=1)
    marks.mark("web-seen", clock.now)  # Kim's widget showed it a second later
    clock.now = START + GRACE - timedelta(seconds=1)
    assert job.queue_due() == 0 and _emails(engine) == [], "nothing within the grace period"
    clock.now = START + GRACE
    assert job.queue_due() == 1
    [(key, to, subject, body)] = _emails(engine)
    assert to == "lee@example.net" and key.startswith("unseen-reply:")
    assert subject == "Ana from Harbor & Pine replied to your message"
    assert "Hi Lee, Ana here." in body and "Ana from our support team" in body
    clock.now += timedelta(minutes=10)
    assert job.queue_due() == 0 and len(_emails(engine)) == 1, "never twice"


def test_the_replies_missed_together_go_in_one_email_and_later_ones_in_the_next(engine, clock, job, ana):
    ticket = _ticket(engine, "web-batch", verified=True, contact="typed@example.net")
    marks = SeenMarks(engine, clock=clock)
    _reply(engine, ticket, ana, "First.", START)
    _reply(engine, ticket, ana, "Second.", START + timedelta(seconds=30))
    marks.mark("web-batch", START - timedelta(minutes=5))  # the customer left before the replies came
    clock.now = START + GRACE
    assert job.queue_due() == 1
    _reply(engine, ticket, ana, "Third, sent just now.", clock.now + timedelta(seconds=5))
    clock.now += timedelta(seconds=10)
    marks.mark("web-batch", clock.now)  # back: the third is on screen
    _reply(engine, ticket, ana, "Fourth.", clock.now + timedelta(seconds=20))
    clock.now += GRACE + timedelta(seconds=30)
    assert job.queue_due() == 1 and job.queue_due() == 0
    emails = _emails(engine)
    assert [to for _, to, _, _ in emails] == ["maria.lopez@example.com"] * 2, "a verified customer's own address"
    assert "First.\n\nSecond." in emails[0][3], "the missed replies joined by blank lines"
    assert "Fourth." in emails[1][3] and "Third" not in emails[1][3] and "First" not in emails[1][3]
    with Session(engine) as session:
        notice = session.get(ReplyNotice, ticket)
        last = session.execute(sa.select(sa.func.max(TicketEvent.id))).scalar_one()
    assert notice.through_event_id == last and emails[1][0] == f"unseen-reply:{ticket}:{last}"


def test_a_web_customer_without_an_address_gets_no_email_and_the_reply_is_settled(engine, clock, job, ana):
    ticket = _ticket(engine, "web-nobody")
    _reply(engine, ticket, ana, "Hello?", START)
    clock.now = START + GRACE
    assert job.queue_due() == 0 and _emails(engine) == []
    with Session(engine) as session:
        assert session.get(ReplyNotice, ticket).through_event_id > 0, "not looked at again every second"


def test_other_channels_email_only_when_the_customer_left_an_address(engine, clock, job, ana):
    quiet = _ticket(engine, "fb-quiet", channel="facebook", verified=True)
    asked = _ticket(engine, "rest-asked", channel="rest", contact="kim.waiting@example.net")
    for ticket in (quiet, asked):
        _reply(engine, ticket, ana, f"Hi, Ana here ({ticket})", START)
    clock.now = START + GRACE
    assert job.queue_due() == 1
    [(_, to, _, body)] = _emails(engine)
    assert to == "kim.waiting@example.net" and f"({asked})" in body


def test_old_replies_are_never_emailed(engine, clock, ana):
    ticket = _ticket(engine, "web-old", contact="kim@example.net")
    _reply(engine, ticket, ana, "From last week.", START - timedelta(days=7))
    job = UnseenReplies(engine, reply_address, grace=GRACE, now=clock, horizon=timedelta(days=1))
    assert job.queue_due() == 0 and _emails(engine) == []
