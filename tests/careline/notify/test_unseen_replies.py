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
from careline.notify.unseen_replies import REPLY_EMAIL_GAP
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
    assert job.queue_due() == 0, "one email per ticket every REPLY_EMAIL_GAP: the fourth waits"
    clock.now = START + GRACE + REPLY_EMAIL_GAP
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


def test_an_unverified_customer_cannot_turn_the_replies_into_a_relay(engine, clock, ana):
    """The review's case: four replies 12 s apart, a new address typed before each, a short grace (3 s):
    one email, then the rest together after the gap, to at most MAX_CONTACTS addresses."""
    job = UnseenReplies(engine, reply_address, grace=timedelta(seconds=3), now=clock)
    ticket = _ticket(engine, "web-relay")
    service = TicketService(engine)
    assert timedelta(minutes=10) == REPLY_EMAIL_GAP
    for number, victim in enumerate(("one", "two", "three", "four"), start=1):
        service.leave_contact(ticket, f"victim.{victim}@example.org")
        _reply(engine, ticket, ana, f"Reply {number}.", clock.now)
        clock.now += timedelta(seconds=12)
        job.queue_due()
    for _ in range(10):  # the worker keeps running for the next minutes
        clock.now += timedelta(seconds=30)
        job.queue_due()
    assert clock.now - START < REPLY_EMAIL_GAP
    [(_, to, _, body)] = _emails(engine)
    assert to == "victim.one@example.org" and "Reply 1." in body and "Reply 2." not in body
    clock.now = START + timedelta(seconds=12) + REPLY_EMAIL_GAP
    assert job.queue_due() == 1, "after the gap, the replies missed meanwhile in one email"
    emails = _emails(engine)
    assert emails[1][1] == "victim.three@example.org", "a fourth address was never kept"
    assert all(f"Reply {n}." in emails[1][3] for n in (2, 3, 4)) and "Reply 1." not in emails[1][3]
    clock.now += REPLY_EMAIL_GAP
    assert job.queue_due() == 0 and len(_emails(engine)) == 2, "nothing twice, nothing lost"


def test_a_ticket_waiting_out_its_gap_does_not_hold_back_the_others(engine, clock, ana):
    job = UnseenReplies(engine, reply_address, grace=GRACE, now=clock)
    first = _ticket(engine, "web-first", contact="kim@example.net")
    _reply(engine, first, ana, "One.", START)
    clock.now = START + GRACE
    assert job.queue_due() == 1
    _reply(engine, first, ana, "Two.", clock.now)
    later = _ticket(engine, "web-later", contact="lee@example.net")
    _reply(engine, later, ana, "Hello Lee.", clock.now)
    clock.now += GRACE
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("careline.notify.unseen_replies.TICKETS_PER_ROUND", 1)
        assert job.queue_due() == 1, "the ticket in its gap is not picked (it would fill the round)"
    assert [to for _, to, _, _ in _emails(engine)] == ["kim@example.net", "lee@example.net"]


def test_a_reply_seen_during_the_gap_is_not_emailed_after_it(engine, clock, job, ana):
    ticket = _ticket(engine, "web-gap-seen", contact="kim@example.net")
    marks = SeenMarks(engine, clock=clock)
    _reply(engine, ticket, ana, "One.", START)
    clock.now = START + GRACE
    assert job.queue_due() == 1
    _reply(engine, ticket, ana, "Two.", clock.now)
    clock.now += timedelta(minutes=5)
    marks.mark("web-gap-seen", clock.now)  # back in the chat: read it there
    clock.now = START + GRACE + REPLY_EMAIL_GAP
    assert job.queue_due() == 0 and len(_emails(engine)) == 1
    with Session(engine) as session:
        assert session.get(ReplyNotice, ticket).through_event_id == \
            session.execute(sa.select(sa.func.max(TicketEvent.id))).scalar_one(), "settled: seen"
