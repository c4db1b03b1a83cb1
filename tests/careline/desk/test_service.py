"""The desk's core on a real SQLite store: accounts, queue, agent actions and audit, ratings, analytics."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from careline.db.engine import make_engine
from careline.db.models.desk import DeskFormKey
from careline.db.models.feedback import Feedback
from careline.db.models.handoff import Ticket, TicketEvent
from careline.db.models.money import DecisionRecord, Refund
from careline.desk import analytics
from careline.desk.app import templates as desk_templates
from careline.desk.auth import AccountError, Accounts, check_password, hash_password
from careline.desk.service import MAX_TEXT, DeskError, Forbidden, NotFound, parse_amount, redact_lines
from careline.feedback.csat import FeedbackService, no_comment, parse_rating
from careline.handoff.ticket import TicketFacts, build_ticket
from careline.handoff.tickets import TicketService

EVENTS = [
    {"event": "user", "text": "where is my order CL-100001", "timestamp": 1_700_000_000,
     "parse_data": {"intent": {"name": "order_status"}, "frustration": {"score": 0.3}}},
    {"event": "bot", "text": "Let me check.", "timestamp": 1_700_000_001},
    {"event": "user", "text": "this is ridiculous, a person please", "timestamp": 1_700_000_002,
     "parse_data": {"intent": {"name": "human_handoff"}, "frustration": {"score": 0.9}}},
]




@pytest.fixture
def accounts(engine, clock):
    return Accounts(engine, now=clock)


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
    keys = desk.issue_form_keys(ticket_id, user, ["refund", "other"])
    refund = desk.claim(ticket_id, user, "goodwill", keys["refund"], amount="60.00")
    assert refund["outcome"] == "approve" and refund["amount"] == "60.00", "above the bot's $25, within the agent's"
    again = desk.claim(ticket_id, user, "goodwill", keys["refund"], amount="60.00")
    assert again["reference"] == refund["reference"], "a resubmitted form pays once"
    with pytest.raises(DeskError):
        desk.claim(ticket_id, user, "refund", keys["other"], amount="-5")
    with pytest.raises(DeskError):
        desk.claim(ticket_id, user, "teleport", keys["other"])
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
    assert kinds == ["take", "reply", "note", "goodwill", "handback"]
    assert ticket.status == "resolved" and ticket.first_response_at and ticket.resolved_at and refunds == 1


def test_every_change_a_customer_sees_makes_a_newer_revision_of_the_conversations_tickets(engine, desk, accounts):
    """The widget keeps the state with the highest revision (a stale one may arrive last): taking, answering,
    handing back and a new ticket after it each raise it; another conversation's tickets do not."""
    tickets, user = TicketService(engine), _user(accounts)
    assert tickets.revision("conv-1") == (0, 0)
    first = _ticket(engine)
    seen = [tickets.revision("conv-1")]
    assert seen[0] == (1, 0), "counts of this conversation's tickets and events, never global ids"
    for act in (lambda: desk.take(first, user), lambda: desk.reply(first, user, "Hi, Ana here.", lambda *_: None),
                lambda: desk.finish(first, user, "resolved", lambda _: None),
                lambda: _ticket(engine, "conv-2"), lambda: tickets.open(
                    build_ticket("conv-1", "socketio", "human_requested", EVENTS, TicketFacts()), "conv-1:2")):
        act()
        seen.append(tickets.revision("conv-1"))
    assert seen[1] > seen[0] and seen[2] > seen[1] and seen[3] > seen[2], seen
    assert seen[4] == seen[3], "another conversation's ticket is not this one's change"
    assert seen[5] > seen[4] and seen[5][0] == 2, "a new ticket after the last one was finished"


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


@pytest.mark.parametrize("raw", ["abc", "0", "-1", "1.005", "NaN", "Infinity", "1e9", "1e26",
                                 "123456789012345678901234567.5"])
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


# --- security issue: redaction (6), money limits (7), assigned tickets (13) ----------------

CARD, PHONE, EMAIL = "4111 1111 1111 1111", "+1 415 555 0134", "maria.lopez@example.com"


def _raw(*texts):
    return [{"role": "customer", "text": text, "at": "2026-11-20T10:00:00"} for text in texts]


def test_the_desk_shows_no_card_numbers_phones_or_emails_except_the_customer_panel(engine, desk, accounts):
    user = _user(accounts)
    ticket_id = _ticket(engine)
    with Session(engine) as session:  # a ticket stored unredacted (an older version, an import)
        ticket = session.get(Ticket, ticket_id)
        ticket.transcript = json.dumps(_raw(f"my card is {CARD}", f"call me on {PHONE} or mail {EMAIL}"))
        ticket.summary = f"Maria ({EMAIL}, {PHONE}) wants a refund."
        session.commit()
    desk.note(ticket_id, user, f"She asked us to call {PHONE}; card {CARD}")
    desk.reply(ticket_id, user, f"We'll write to {EMAIL}.", lambda *_: None)
    view = desk.view(ticket_id)
    shown = json.dumps({key: value for key, value in view.__dict__.items() if key != "customer"}, default=str)
    shown += json.dumps([item.as_dict() for item in desk.queue()])
    for secret in (CARD, "4111", PHONE, "555 0134", EMAIL):
        assert secret not in shown, secret
    assert "[card number]" in shown and "[phone number]" in shown and "[email]" in shown
    assert view.customer["email"] == EMAIL, "the verified customer's own address stays in the customer panel"
    live = redact_lines([{"role": "customer", "text": f"{CARD} / {PHONE} / {EMAIL}", "at": 1.0},
                         {"role": "agent", "agent": "Ana", "text": None}])
    assert live == [{"role": "customer", "text": "[card number] / [phone number] / [email]", "at": 1.0},
                    {"role": "agent", "agent": "Ana", "text": ""}]


def test_money_forms_count_only_with_a_key_the_desk_issued_for_this_ticket_and_agent(engine, desk, accounts,
                                                                                      clock):
    ana, ben = _user(accounts), _user(accounts, email="ben@example.test")
    ticket_id, other_ticket = _ticket(engine), _ticket(engine, "conv-2")
    for made_up in ("f1", "desk-1-refund", "x" * 64):
        with pytest.raises(DeskError, match="not issued"):
            desk.claim(ticket_id, ana, "goodwill", made_up, amount="10")
    with pytest.raises(DeskError, match="missing its key"):
        desk.claim(ticket_id, ana, "goodwill", None, amount="10")
    elsewhere = desk.issue_form_keys(other_ticket, ana, ["refund"])["refund"]
    with pytest.raises(DeskError, match="not issued"):
        desk.claim(ticket_id, ana, "goodwill", elsewhere, amount="10")
    bens = desk.issue_form_keys(ticket_id, ben, ["refund"])["refund"]
    with pytest.raises(DeskError, match="not issued"):
        desk.claim(ticket_id, ana, "goodwill", bens, amount="10")
    key = desk.issue_form_keys(ticket_id, ana, ["refund"])["refund"]
    first = desk.claim(ticket_id, ana, "goodwill", key, amount="10")
    replay = desk.claim(ticket_id, ana, "goodwill", key, amount="70")
    assert first["outcome"] == "approve" and replay == first, "a used key replays the first result"
    stale = desk.issue_form_keys(ticket_id, ana, ["refund"])["refund"]
    clock.now += timedelta(hours=13)
    with pytest.raises(DeskError, match="expired"):
        desk.claim(ticket_id, ana, "goodwill", stale, amount="10")
    assert desk.claim(ticket_id, ana, "goodwill", key, amount="10") == first, "a used key still replays"
    with Session(engine) as session:
        assert session.execute(sa.select(sa.func.count(Refund.id))).scalar_one() == 1
        used = session.execute(sa.select(DeskFormKey).where(DeskFormKey.key == key)).scalar_one()
        assert used.used_at is not None and (used.ticket_id, used.agent_id) == (ticket_id, ana.id)
        assert session.execute(sa.select(DecisionRecord.ticket_id)).scalars().all() == [ticket_id]


def _goodwill_paid(engine):
    with Session(engine) as session:
        return session.execute(sa.select(sa.func.coalesce(sa.func.sum(Refund.amount_cents), 0))
                               .where(Refund.kind == "goodwill")).scalar_one()


def _big_order(engine):
    """A seeded order worth more than $400 (room for more than a supervisor's $250 of goodwill)."""
    with Session(engine) as session:
        return session.execute(sa.text("SELECT number FROM orders WHERE total_cents > 40000 ORDER BY number")
                               ).first()[0]


def test_four_75_goodwill_refunds_on_one_ticket_pay_75_not_300(engine, desk, accounts):
    """The reported attack: four $75 goodwill refunds, each with its own key, on one ticket."""
    ana = _user(accounts)
    order = _big_order(engine)
    ticket_id = _ticket(engine, order=order)
    keys = desk.issue_form_keys(ticket_id, ana, ["a", "b", "c", "d"])
    results = [desk.claim(ticket_id, ana, "goodwill", keys[k], amount="75") for k in "abcd"]
    assert [r["outcome"] for r in results] == ["approve", "escalate", "escalate", "escalate"]
    assert {r["rule"] for r in results[1:]} == {"ticket_total_limit"}
    assert _goodwill_paid(engine) == 7500
    second = _ticket(engine, "conv-2", order=order)  # another ticket on the same order
    key = desk.issue_form_keys(second, ana, ["refund"])["refund"]
    assert desk.claim(second, ana, "goodwill", key, amount="20")["rule"] == "order_total_limit"
    assert _goodwill_paid(engine) == 7500


def test_a_supervisors_total_is_capped_too_and_an_override_of_the_goodwill_cap_is_audited(engine, desk, accounts):
    ana, sam = _user(accounts), _user(accounts, role="supervisor", email="sam@example.test")
    ticket_id = _ticket(engine, order=_big_order(engine))

    def goodwill(user, amount, override=False):
        key = desk.issue_form_keys(ticket_id, user, ["refund"])["refund"]
        return desk.claim(ticket_id, user, "goodwill", key, amount=amount, override_cap=override)

    assert goodwill(ana, "20")["outcome"] == "approve" and goodwill(ana, "20")["outcome"] == "approve"
    capped = goodwill(ana, "20", override=True)
    assert (capped["outcome"], capped["rule"]) == ("escalate", "goodwill_cap_reached"), "an agent cannot override"
    assert "supervisor" in capped["explanation"]
    assert goodwill(sam, "20")["rule"] == "goodwill_cap_reached", "a supervisor overrides only when asking to"
    overridden = goodwill(sam, "150", override=True)
    assert (overridden["outcome"], overridden["rule"]) == ("approve", "goodwill_cap_overridden")
    over_total = goodwill(sam, "75", override=True)
    assert (over_total["outcome"], over_total["rule"]) == ("escalate", "ticket_total_limit"), "190 + 75 > 250"
    assert _goodwill_paid(engine) == 19000
    with Session(engine) as session:
        record = session.execute(sa.select(DecisionRecord).where(DecisionRecord.reference == overridden["reference"])
                                 ).scalar_one()
        events = session.execute(sa.select(TicketEvent).where(TicketEvent.kind == "cap_override")).scalars().all()
    assert (record.authority, record.rule, record.ticket_id) == ("supervisor", "goodwill_cap_overridden", ticket_id)
    assert len(events) == 1 and events[0].agent_id == sam.id and overridden["reference"] in events[0].detail


def test_only_the_assigned_agent_or_a_supervisor_acts_on_an_assigned_ticket(engine, desk, accounts):
    ana, ben = _user(accounts), _user(accounts, email="ben@example.test")
    sam = _user(accounts, role="supervisor", email="sam@example.test")
    ticket_id = _ticket(engine)
    ana_key = desk.issue_form_keys(ticket_id, ana, ["refund"])["refund"]
    desk.take(ticket_id, ana)
    sent, resumed = [], []
    refused = [
        lambda: desk.take(ticket_id, ben),
        lambda: desk.reply(ticket_id, ben, "Hi, Ben here", lambda *call: sent.append(call)),
        lambda: desk.finish(ticket_id, ben, "resolved", resumed.append),
        lambda: desk.finish(ticket_id, ben, "closed", resumed.append),
        lambda: desk.issue_form_keys(ticket_id, ben, ["refund"]),
        lambda: desk.claim(ticket_id, ben, "goodwill", ana_key, amount="10"),
    ]
    for action in refused:
        with pytest.raises(Forbidden, match="assigned to Ana Agent"):
            action()
    assert sent == [] and resumed == [], "nothing reaches the customer or the bot"
    desk.note(ticket_id, ben, "Ben: I know this customer, ask me.")
    desk.reply(ticket_id, ana, "Ana here.", lambda *call: sent.append(call))
    desk.reply(ticket_id, sam, "Sam, the supervisor, here.", lambda *call: sent.append(call))
    assert desk.claim(ticket_id, sam, "goodwill", desk.issue_form_keys(ticket_id, sam, ["r"])["r"],
                      amount="10")["outcome"] == "approve"
    desk.take(ticket_id, sam)
    with pytest.raises(Forbidden, match="assigned to Ana Agent"):
        desk.take(_ticket_taken_by(engine, desk, ana), ben)
    free = _ticket(engine, "conv-free")
    desk.take(free, ben)
    with Session(engine) as session:
        owners = {t.id: t.assigned_agent_id for t in session.execute(sa.select(Ticket)).scalars()}
        kinds = [e.kind for e in session.execute(sa.select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)
                                                 .order_by(TicketEvent.id)).scalars()]
    assert owners[ticket_id] == sam.id and owners[free] == ben.id
    assert kinds == ["take", "note", "reply", "reply", "goodwill", "take"]
    assert [text for _, text in sent] == ["Ana here.", "Sam, the supervisor, here."]


def _ticket_taken_by(engine, desk, user):
    ticket_id = _ticket(engine, "conv-taken")
    desk.take(ticket_id, user)
    return ticket_id


def test_the_refund_form_offers_exactly_the_policys_reasons_and_nothing_else_is_paid(engine, desk, accounts):
    """The desk once offered "other", a reason policy.yml does not have; the reasons are policy.yml's now."""
    import re

    from careline.shared import load_settings

    reasons = list(load_settings().policy_section("refund_reasons"))
    user = _user(accounts)
    ticket_id = _ticket(engine)
    view = desk.view(ticket_id)
    assert [key for key, _ in view.refund_reasons] == reasons
    templates = desk_templates()
    from careline.desk import conversation, words
    html = templates.get_template("ticket.html").render(
        view=view, may_act=True, csrf="c", user=user, form_keys={"refund": "k"}, message="", error="",
        items=[], show="all", filters=words.SHOW_FILTERS, empty="", words=words, moment=conversation.moment,
        lines=[], notes=[], live=[], macros=[], macros_error="")
    assert "maxlength" not in html and html.count(f'data-max="{MAX_TEXT}"') == 1, \
        "the reply box (reply or note) counts to the desk's limit and refuses more, never cuts (static/ticket.js)"
    select = re.search(r'<select id="refund-reason".*?</select>', html, re.DOTALL)
    assert select and re.findall(r'<option value="([^"]+)">', select.group(0)) == reasons
    key = desk.issue_form_keys(ticket_id, user, ["refund"])["refund"]
    for wrong in ("other", None):
        with pytest.raises(DeskError, match="reason"):
            desk.claim(ticket_id, user, "refund", key, amount="10", reason=wrong)
    assert desk.claim(ticket_id, user, "refund", key, amount="10", reason=reasons[0])["outcome"]
