"""The desk's core on a real SQLite store: accounts, queue, agent actions and audit, ratings, analytics."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from careline.claims import ClaimService
from careline.desk import analytics
from careline.desk.auth import AccountError, Accounts, check_password, hash_password
from careline.desk.feedback import FeedbackService, no_comment, parse_rating
from careline.desk.service import DeskError, DeskService, NotFound, parse_amount
from careline.handoff import TicketFacts, build_ticket
from careline.policy import load_policy
from careline.store import Feedback, Refund, Ticket, TicketEvent, make_engine
from careline.tickets import TicketService
from tests.conftest import SEED_DAY, Clock

EVENTS = [
    {"event": "user", "text": "where is my order CL-100001", "timestamp": 1_700_000_000,
     "parse_data": {"intent": {"name": "order_status"}, "frustration": {"score": 0.3}}},
    {"event": "bot", "text": "Let me check.", "timestamp": 1_700_000_001},
    {"event": "user", "text": "this is ridiculous, a person please", "timestamp": 1_700_000_002,
     "parse_data": {"intent": {"name": "human_handoff"}, "frustration": {"score": 0.9}}},
]




@pytest.fixture
def engine(fresh_store_url):
    return make_engine(fresh_store_url)


@pytest.fixture
def clock():
    return Clock(datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc))


@pytest.fixture
def accounts(engine, clock):
    return Accounts(engine, now=clock)


@pytest.fixture
def desk(engine, clock):
    return DeskService(engine, ClaimService(engine, load_policy(), today=lambda: SEED_DAY), now=clock)


def _ticket(engine, conversation="conv-1", order="CL-100001", reason="frustration", now=None):
    draft = build_ticket(conversation, "socketio", reason, EVENTS,
                         TicketFacts(customer_name="Maria Lopez", order_number=order, order_total=230.0))
    with Session(engine) as session:
        customer_id = session.execute(sa.text("SELECT id FROM customers WHERE email='maria.lopez@example.com'")
                                      ).scalar_one()
    service = TicketService(engine, now=now) if now else TicketService(engine)
    return service.open(draft, f"{conversation}:1", customer_id=customer_id if order else None).id


def _user(accounts, role="agent", email="ana@example.test"):
    return accounts.create(email, "Ana Agent", role, "correct horse battery")


def test_passwords_are_salted_scrypt_and_checked_in_constant_time():
    first, second = hash_password("s3cret-pass"), hash_password("s3cret-pass")
    assert first != second and first.startswith("scrypt$") and "s3cret" not in first
    assert check_password("s3cret-pass", first) and not check_password("s3cret-pasS", first)
    assert not check_password("x", "garbage") and not check_password("x", "md5$abc")


def test_accounts_sessions_and_their_expiry(accounts, clock):
    user = _user(accounts)
    with pytest.raises(AccountError):
        _user(accounts)
    with pytest.raises(AccountError):
        accounts.create("b@example.test", "B", "admin", "long enough password")
    with pytest.raises(AccountError):
        accounts.create("c@example.test", "C", "agent", "short")
    assert accounts.authenticate("ANA@example.test ", "correct horse battery") == user
    assert accounts.authenticate("ana@example.test", "wrong") is None
    assert accounts.authenticate("nobody@example.test", "correct horse battery") is None
    token, csrf = accounts.start_session(user)
    assert accounts.resume_session(token) == (user, csrf)
    assert accounts.resume_session(token + "x") is None and accounts.resume_session(None) is None
    clock.now += timedelta(hours=13)
    assert accounts.resume_session(token) is None, "sessions expire"
    token, _ = accounts.start_session(user)
    accounts.end_session(token)
    assert accounts.resume_session(token) is None


def test_queue_orders_by_priority_then_waiting_time(engine, desk, clock):
    low = _ticket(engine, "a", reason="customer_request", now=clock)
    clock.now += timedelta(minutes=5)
    high = _ticket(engine, "b", now=clock)
    items = desk.queue()
    order = [(-i.priority, -i.waiting_s) for i in items]
    assert order == sorted(order), "highest priority first, then longest waiting"
    assert [i.waiting_s for i in items if i.ticket_id == low] == [300]
    assert {i.ticket_id for i in items} == {low, high}
    assert all(i.customer == "Maria Lopez" and i.order_number == "CL-100001" for i in items)
    before = desk.queue_fingerprint()
    _ticket(engine, "c")
    assert desk.queue_fingerprint() != before


def test_agent_actions_are_audited_and_money_uses_the_agents_authority(engine, desk, accounts):
    user = _user(accounts)
    ticket_id = _ticket(engine)
    sent = []
    desk.take(ticket_id, user)
    desk.reply(ticket_id, user, "Hi Maria, Ana here.", lambda conversation, text: sent.append((conversation, text)))
    assert sent == [("conv-1", "Hi Maria, Ana here.")]
    with pytest.raises(DeskError):
        desk.reply(ticket_id, user, "   ", lambda *_: None)
    desk.note(ticket_id, user, "Customer was polite after the apology.")
    refund = desk.claim(ticket_id, user, "refund", "form-1", amount="200.00", reason="damaged")
    assert refund["outcome"] == "approve" and refund["amount"] == "200.00", "above the bot's $150, within the agent's"
    again = desk.claim(ticket_id, user, "refund", "form-1", amount="200.00", reason="damaged")
    assert again["reference"] == refund["reference"], "a resubmitted form pays once"
    with pytest.raises(DeskError):
        desk.claim(ticket_id, user, "refund", "form-2", amount="-5")
    with pytest.raises(DeskError):
        desk.claim(ticket_id, user, "teleport", "form-3")
    view = desk.view(ticket_id)
    assert view.customer["email"] == "maria.lopez@example.com" and any(o["this_ticket"] for o in view.orders)
    assert view.frustration == [0.3, 0.9] and view.intents == ["order_status", "human_handoff"]
    assert [d["authority"] for d in view.decisions] == ["agent"]
    assert view.fees and view.fees[0]["amount"] == "$14.99"
    resumed = []
    desk.finish(ticket_id, user, "resolved", resumed.append)
    assert resumed == ["conv-1"]
    with pytest.raises(DeskError):
        desk.note(ticket_id + 999, user, "x")
    with pytest.raises(DeskError):
        desk.reply(ticket_id, user, "too late", lambda *_: None)
    with Session(engine) as session:
        kinds = list(session.execute(sa.select(TicketEvent.kind).order_by(TicketEvent.id)).scalars())
        ticket = session.get(Ticket, ticket_id)
        refunds = session.execute(sa.select(sa.func.count(Refund.id))).scalar_one()
    assert kinds == ["take", "reply", "note", "refund", "handback"]
    assert ticket.status == "resolved" and ticket.first_response_at and ticket.resolved_at and refunds == 1


def test_a_failed_send_records_nothing(engine, desk, accounts):
    user = _user(accounts)
    ticket_id = _ticket(engine)

    def broken(*_):
        raise RuntimeError("bot down")

    with pytest.raises(RuntimeError):
        desk.reply(ticket_id, user, "hello", broken)
    with Session(engine) as session:
        assert session.execute(sa.select(sa.func.count(TicketEvent.id))).scalar_one() == 0


def test_unverified_tickets_cannot_pay_and_unknown_tickets_are_404(engine, desk, accounts):
    user = _user(accounts)
    ticket_id = _ticket(engine, "anon", order=None)
    with pytest.raises(DeskError, match="no verified order"):
        desk.claim(ticket_id, user, "refund", "k", amount="10")
    with pytest.raises(NotFound):
        desk.view(424242)


@pytest.mark.parametrize("raw, expected", [("12.50", "12.50"), ("$7", "7"), ("", None), (None, None)])
def test_amounts(raw, expected):
    amount = parse_amount(raw)
    assert (str(amount) if amount is not None else None) == expected


@pytest.mark.parametrize("raw", ["abc", "0", "-1", "1.005", "NaN", "Infinity", "1e9"])
def test_bad_amounts(raw):
    with pytest.raises(DeskError):
        parse_amount(raw)


@pytest.mark.parametrize("text, rating", [("5", 5), ("4/5", 4), ("four stars", 4), ("⭐⭐⭐", 3), ("1 - poor", 1),
                                          ("where is my order", None), ("10", None), ("3 or 4", None), ("", None)])
def test_ratings_are_read_from_what_customers_type(text, rating):
    assert parse_rating(text) == rating


def test_no_comment_words():
    assert no_comment("No, that's all") and no_comment("no comment") and not no_comment("the bot was slow")


def test_ratings_once_per_conversation_and_per_ticket(engine, clock):
    feedback = FeedbackService(engine, now=clock)
    assert feedback.record("bot-only", 5, "quick") and not feedback.record("bot-only", 1)
    assert feedback.already_rated("bot-only")
    _ticket(engine, "with-agent")
    assert not feedback.already_rated("with-agent")
    assert feedback.record("with-agent", 4, "")
    with Session(engine) as session:
        rows = dict(session.execute(sa.select(Feedback.conversation_id, Feedback.handled_by)).all())
    assert rows == {"bot-only": "bot", "with-agent": "agent"}
    with pytest.raises(ValueError):
        feedback.record("x", 6)


def test_analytics_from_the_real_stores(engine, desk, accounts, clock, tmp_path):
    tracker = make_engine(f"sqlite:///{tmp_path / 'tracker.db'}")
    with tracker.begin() as db:
        db.exec_driver_sql("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id TEXT, type_name TEXT, "
                           "timestamp REAL, intent_name TEXT, action_name TEXT, data TEXT)")
        at = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc).timestamp()
        rows = [("a", "greet", 0.1), ("a", "order_status", 0.2), ("b", "nlu_fallback", 0.5), ("b", "complain", 0.9),
                ("c", "order_status", 0.7)]
        for sender, intent, score in rows:
            db.exec_driver_sql("INSERT INTO events (sender_id, type_name, timestamp, intent_name, data) "
                               "VALUES (?, 'user', ?, ?, ?)",
                               (sender, at, intent, json.dumps({"parse_data": {"frustration": {"score": score}}})))
    user = _user(accounts)
    ticket_id = _ticket(engine, "b", now=clock)
    clock.now += timedelta(minutes=2)
    desk.reply(ticket_id, user, "hi", lambda *_: None)
    clock.now += timedelta(minutes=8)
    desk.finish(ticket_id, user, "resolved", lambda *_: None)
    feedback = FeedbackService(engine, now=clock)
    feedback.record("a", 5)
    feedback.record("b", 3)
    report = analytics.report(engine, tracker, date(2026, 11, 19), date(2026, 11, 21))
    assert (report.conversations, report.customer_messages, report.handoffs) == (3, 5, 1)
    assert report.containment_rate == pytest.approx(2 / 3) and report.handoff_rate == pytest.approx(1 / 3)
    assert report.fallback_rate == pytest.approx(0.2) and report.handoff_reasons == {"frustration": 1}
    assert report.first_response_s == 120 and report.resolution_s == 600
    assert report.csat["bot"] == {"count": 1, "average": 5} and report.csat["agent"] == {"count": 1, "average": 3}
    assert dict(report.frustration)["0.8-1.0"] == 1 and report.top_intents[0] == ("order_status", 2)
    assert ("rates", "containment_rate", "0.667") in report.rows()
    empty = analytics.report(engine, tracker, date(2025, 1, 1), date(2025, 1, 2))
    assert empty.conversations == 0 and empty.containment_rate is None
    with pytest.raises(ValueError):
        analytics.report(engine, tracker, date(2026, 1, 2), date(2026, 1, 1))
