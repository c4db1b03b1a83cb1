"""Money in the desk on a real SQLite store: a review that applies nothing and speaks in words, a
confirm that applies once (and tells the customer only when asked), refusals in agent language, and a
decision history and desk history with no JSON and no bare rule codes."""
from __future__ import annotations

import json
import re
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from careline.db.models.desk import DeskTold
from careline.db.models.handoff import TicketEvent
from careline.db.models.money import DecisionRecord, Refund, Waiver
from careline.db.models.shop import Customer, Order
from careline.desk.app import templates
from careline.desk.auth import Accounts
from careline.desk.money_view import describe_event, told_text
from careline.desk.rasa_api import RasaUnavailable
from careline.desk.service import DeskError
from careline.handoff.ticket import TicketFacts, build_ticket
from careline.handoff.tickets import TicketService
from careline.shared import utcnow
from tests.conftest import SEED_DAY, Clock

EVENTS = [{"event": "user", "text": "a refund please", "timestamp": 1_700_000_000,
           "parse_data": {"intent": {"name": "request_refund"}, "frustration": {"score": 0.4}}}]
JAMES = ("CL-100003", "jkim88@example.net")
MARIA = ("CL-100001", "maria.lopez@example.com")


@pytest.fixture
def clock():
    return Clock(datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc))


@pytest.fixture
def ana(engine, clock):
    return Accounts(engine, now=clock).create("ana@example.test", "Ana Rivera", "agent", "correct horse battery")


def _ticket(engine, who=JAMES, conversation="conv-money"):
    number, email = who
    with Session(engine) as session:
        customer_id = session.execute(sa.select(Customer.id).where(Customer.email == email)).scalar_one()
    draft = build_ticket(conversation, "socketio", "policy", EVENTS, TicketFacts(customer_name="James Kim",
                                                                                 order_number=number))
    return TicketService(engine).open(draft, f"{conversation}:1", customer_id=customer_id).id


def _count(engine, model):
    with Session(engine) as session:
        return session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()


def _delivered(engine, number, days_ago):
    with Session(engine) as session:
        order = session.execute(sa.select(Order).where(Order.number == number)).scalar_one()
        order.status, order.delivered_date = "delivered", SEED_DAY - timedelta(days=days_ago)
        session.commit()


def _goodwill_used(engine, email, times):
    """Earlier approved goodwill refunds of a customer (the policy's cap counts them)."""
    with Session(engine) as session:
        customer = session.execute(sa.select(Customer).where(Customer.email == email)).scalar_one()
        for n in range(times):
            session.add(DecisionRecord(created_at=utcnow(), idempotency_key=f"earlier-goodwill-{n}", authority="bot",
                                       customer_id=customer.id, kind="goodwill", outcome="approve", amount_cents=500,
                                       rule="goodwill_within_limit", explanation="ok"))
        session.commit()


def test_the_review_shows_amount_order_and_rule_in_words_and_applies_nothing(engine, desk, ana):
    ticket = _ticket(engine)
    shown = desk.preview(ticket, ana, "refund", reason="damaged")
    assert shown["allowed"] and shown["amount"] == "38.95"
    assert shown["text"] == "Refund $38.95 on CL-100003 - allowed: within an agent's refund limit"
    assert shown["confirm"] == "Confirm refund of $38.95"
    less = desk.preview(ticket, ana, "goodwill", amount="100")
    assert less["verdict"].startswith("allowed ($38.95 of the $100.00 asked)"), less
    assert _count(engine, DecisionRecord) == 0 and _count(engine, Refund) == 0, "a review decides nothing"
    with pytest.raises(DeskError, match="reason"):
        desk.preview(ticket, ana, "refund", reason="because")
    with pytest.raises(DeskError, match="amount"):
        desk.preview(ticket, ana, "refund", amount="-3", reason="damaged")


def test_a_refusal_is_in_agent_language_with_the_next_step_never_a_code(engine, desk, ana):
    _delivered(engine, "CL-100003", 45)
    _goodwill_used(engine, JAMES[1], 2)
    ticket = _ticket(engine)
    shown = desk.preview(ticket, ana, "refund", reason="changed_mind")
    assert not shown["allowed"] and shown["confirm"] == ""
    assert shown["verdict"] == ("Not allowed: the order was delivered 45 days ago; returns close after 30 days. "
                                "A supervisor can approve goodwill.")
    assert "_" not in shown["verdict"]


def test_a_persons_total_limit_is_refused_with_what_was_paid_and_what_is_left(engine, desk, ana):
    ticket = _ticket(engine, MARIA, "conv-maria")
    key = desk.issue_form_keys(ticket, ana, ["a"])["a"]
    assert desk.claim(ticket, ana, "goodwill", key, amount="75")["outcome"] == "approve"
    shown = desk.preview(ticket, ana, "goodwill", amount="20")
    assert shown["verdict"] == ("Not allowed: $75.00 was paid on this ticket already; with this the total would "
                                "pass an agent's limit of $75.00 ($0.00 left). Ask for less, or a supervisor can "
                                "approve it.")


def test_confirm_applies_once_and_tells_the_customer_once_when_asked(engine, desk, ana):
    ticket = _ticket(engine)
    key = desk.issue_form_keys(ticket, ana, ["refund"])["refund"]
    sent = []

    def tell(reference):
        return desk.tell_outcome(ticket, ana, reference, lambda conversation, text: sent.append((conversation, text)))
    token = desk.preview(ticket, ana, "refund", reason="damaged", form_key=key)["review_token"]
    first = desk.confirm(ticket, ana, "refund", key, amount="38.95", reason="damaged", tell=tell, review_token=token)
    again = desk.confirm(ticket, ana, "refund", key, amount="38.95", reason="damaged", tell=tell, review_token=token)
    assert first["told"] and not again["told"], "a replayed key tells nothing again"
    assert first["reference"] == again["reference"] and _count(engine, Refund) == 1
    assert first["message"] == f"Done: refund of $38.95 ({first['reference']})."
    assert sent == [("conv-money", f"Done: I've refunded $38.95 (reference {first['reference']}). The money goes "
                                   "back to your original payment method within 2 working days; your bank may take "
                                   "3-5 more to show it.")]
    assert sent[0][1] == told_text("refund", "38.95", first["reference"])
    again_told = desk.tell_outcome(ticket, ana, first["reference"], lambda *_: sent.append("twice"))
    assert again_told == {"told": False, "already": True, "text": sent[0][1]} and len(sent) == 1
    view = desk.view(ticket)
    assert [d["told"] for d in view.decisions] == [True]


def test_without_tell_nothing_is_sent_until_the_agent_chooses_and_a_waiver_reads_as_one(engine, desk, ana):
    ticket = _ticket(engine, MARIA, "conv-fee")
    fee = desk.view(ticket).fees[0]
    shown = desk.preview(ticket, ana, "waiver", charge_id=fee["id"])
    assert shown["text"] == (f"Fee waiver {fee['amount']} on CL-100001: {fee['description']} - allowed: the fee can "
                             "be waived and is within an agent's waiver limit")
    key = desk.issue_form_keys(ticket, ana, ["w"])["w"]
    sent = []
    token = desk.preview(ticket, ana, "waiver", charge_id=fee["id"], form_key=key)["review_token"]
    done = desk.confirm(ticket, ana, "waiver", key, charge_id=str(fee["id"]), review_token=token)
    assert done["allowed"] and not done["told"] and sent == [] and _count(engine, Waiver) == 1
    row = desk.view(ticket).decisions[0]
    assert row["tellable"] and not row["told"]
    told = desk.tell_outcome(ticket, ana, done["reference"], lambda conversation, text: sent.append(text))
    assert told["told"] and sent[0].startswith(f"Done: the {fee['amount']} charge is removed (reference WV-")
    with pytest.raises(DeskError):
        desk.tell_outcome(ticket, ana, "RF-999999", lambda *_: None)


def test_histories_are_words_who_what_outcome_rule_and_never_json(engine, desk, ana):
    _delivered(engine, "CL-100003", 45)
    _goodwill_used(engine, JAMES[1], 2)
    ticket = _ticket(engine)
    key = desk.issue_form_keys(ticket, ana, ["r"])["r"]
    refused = desk.claim(ticket, ana, "refund", key, reason="changed_mind")
    assert refused["outcome"] == "deny" and refused["message"].startswith("Refund: Not allowed: the order was")
    view = desk.view(ticket)
    row = view.decisions[-1]
    assert (row["who"], row["what"], row["outcome_words"]) == ("Ana Rivera (agent)", "Refund", "refused")
    assert row["why"] == "the order is past the return window"
    money_events = [e for e in view.events if e["kind"] == "refund"]
    assert money_events[0]["detail"] == "Refund refused: the order was delivered 45 days ago; returns close after " \
                                        "30 days"
    assert "{" not in json.dumps([e["detail"] for e in view.events])
    assert describe_event("note", '{"not": "money"}') == '{"not": "money"}', "only money events are read"
    assert describe_event("refund", "not json") == "not json"
    assert describe_event("goodwill", json.dumps({"kind": "goodwill", "outcome": "approve", "amount": "20.00",
                                                  "rule": "goodwill_within_limit", "reference": "RF-000009"})) == \
        "Goodwill refund of $20.00 approved (RF-000009): within the goodwill limit and the customer's goodwill " \
        "allowance"
    with Session(engine) as session:
        stored = session.execute(sa.select(TicketEvent.detail).where(TicketEvent.kind == "refund")).scalar_one()
    assert json.loads(stored)["rule"] == "outside_return_window", "the audit keeps the code; people read words"


def _environment():
    return templates()


def test_the_templates_show_words_a_refusal_in_red_and_escape_everything(engine, desk, ana):
    ticket = _ticket(engine)
    goodwill = desk.preview(ticket, ana, "goodwill", amount="10")
    key = desk.issue_form_keys(ticket, ana, ["r"])["r"]
    desk.claim(ticket, ana, "refund", key, reason="damaged")
    view = desk.view(ticket)
    table = _environment().get_template("_decisions.html").render(view=view, t=view.ticket, may_act=True,
                                                                   csrf="tok")
    rows = re.search(r'<tbody id="decision-rows">(.*)</tbody>', table, re.S).group(1)
    assert "{" not in rows and "refund_within_limit" not in rows
    for words in ("Ana Rivera (agent)", "Refund", "approved", "$38.95", "within an agent&#39;s refund limit",
                  "RF-", "Tell the customer"):
        assert words in rows, words

    page = _environment().get_template("money_review.html")
    refused = page.render(review={"headline": "Refund on <b>CL-1</b>", "verdict": "Not allowed: <script>x</script>.",
                                  "allowed": False, "kind": "refund"}, ticket_id=ticket, csrf="tok", form_key="k",
                          action="/x", user=None)
    assert 'class="verdict refused" role="alert"' in refused and "<script>x" not in refused and "<b>" not in refused
    assert "Confirm" not in refused
    allowed = page.render(review=goodwill, ticket_id=ticket, csrf="tok",
                          form_key='k"><x', action=f"/tickets/{ticket}/refund", user=None)
    assert ">Confirm goodwill refund of $10.00</button>" in allowed
    assert 'name="tell" value="1" checked' in allowed and 'name="goodwill" value="1"' in allowed
    assert 'value="k&#34;&gt;&lt;x"' in allowed and 'name="amount" value="10.00"' in allowed
    assert f'<a class="button" href="/tickets/{ticket}">Cancel</a>' in allowed


# --- a confirm applies what was reviewed, and nothing else ---------------------------------------------


def test_a_confirm_needs_its_review_and_the_values_it_showed(engine, desk, ana, clock):
    """The reported case: a review of $5 and a confirm of $7 with the same key paid $7."""
    ticket = _ticket(engine, MARIA, "conv-bound")
    key = desk.issue_form_keys(ticket, ana, ["r"])["r"]
    shown = desk.preview(ticket, ana, "goodwill", amount="5", reason="damaged", form_key=key)
    token = shown["review_token"]
    assert shown["allowed"] and shown["amount"] == "5.00" and token
    cases = {
        "no review": dict(kind="goodwill", amount="5", review_token=None),
        "another amount": dict(kind="goodwill", amount="7", review_token=token),
        "another kind": dict(kind="refund", amount="5", review_token=token),
        "another reason": dict(kind="goodwill", amount="5", reason="late", review_token=token),
        "a cap override": dict(kind="goodwill", amount="5", override_cap=True, review_token=token),
        "an altered token": dict(kind="goodwill", amount="5", review_token=token[:-2] + "xx"),
    }
    for case, form in cases.items():
        with pytest.raises(DeskError, match="review it"):
            desk.confirm(ticket, ana, form.pop("kind"), key, **{"reason": "damaged", **form})
        assert _count(engine, DecisionRecord) == 0, case
    other_key = desk.issue_form_keys(ticket, ana, ["o"])["o"]
    with pytest.raises(DeskError, match="not what was reviewed"):
        desk.confirm(ticket, ana, "goodwill", other_key, amount="5", reason="damaged", review_token=token)
    clock.now += timedelta(minutes=61)
    with pytest.raises(DeskError, match="more than 60 minutes old"):
        desk.confirm(ticket, ana, "goodwill", key, amount="5", reason="damaged", review_token=token)
    assert _count(engine, DecisionRecord) == 0 and _count(engine, Refund) == 0
    fresh = desk.preview(ticket, ana, "goodwill", amount="5", reason="damaged", form_key=key)["review_token"]
    done = desk.confirm(ticket, ana, "goodwill", key, amount="5.00", reason="damaged", review_token=fresh)
    assert done["allowed"] and done["amount"] == "5.00"
    assert desk.confirm(ticket, ana, "goodwill", key, amount="5", reason="damaged", review_token=fresh) == {
        **done, "told": False, "replayed": True}, "a replay of the same confirm answers its first result"
    with pytest.raises(DeskError, match="already used for a decision"):
        desk.preview(ticket, ana, "goodwill", amount="7", reason="damaged", form_key=key)  # its confirm would replay
    assert _count(engine, DecisionRecord) == 1


def test_a_review_checked_while_its_form_decides_is_refused(engine, desk, ana, monkeypatch):
    """The key is used before the decision is made: a review of another amount checked meanwhile would be
    confirmed as a replay of this decision ("Done: $5.00" for a $7.00 review)."""
    ticket = _ticket(engine, MARIA, "conv-deciding")
    key = desk.issue_form_keys(ticket, ana, ["r"])["r"]
    token = desk.preview(ticket, ana, "goodwill", amount="5", reason="damaged", form_key=key)["review_token"]
    decide = desk._claims.decide_and_apply
    meanwhile: list = []

    def deciding(**kwargs):
        try:
            desk.preview(ticket, ana, "goodwill", amount="7", reason="damaged", form_key=key)
            meanwhile.append("a review token")
        except DeskError as error:
            meanwhile.append(str(error))
        return decide(**kwargs)

    monkeypatch.setattr(desk._claims, "decide_and_apply", deciding)
    assert desk.confirm(ticket, ana, "goodwill", key, amount="5", reason="damaged", review_token=token)["allowed"]
    assert len(meanwhile) == 1 and "already used for a decision" in meanwhile[0], meanwhile


def test_a_confirm_tried_again_long_after_its_answer_was_lost_answers_its_decision(engine, desk, ana, clock):
    """The answer of a confirm is lost; the agent tries the same confirm again after the review's hour: it
    answers the decision made (an age refusal would send them to a new form, which could pay twice)."""
    ticket = _ticket(engine, MARIA, "conv-lost-answer")
    key = desk.issue_form_keys(ticket, ana, ["r"])["r"]
    token = desk.preview(ticket, ana, "goodwill", amount="5", reason="damaged", form_key=key)["review_token"]
    first = desk.confirm(ticket, ana, "goodwill", key, amount="5", reason="damaged", review_token=token)
    clock.now += timedelta(minutes=90)
    again = desk.confirm(ticket, ana, "goodwill", key, amount="5", reason="damaged", review_token=token)
    assert again == {**first, "replayed": True} and _count(engine, Refund) == 1


def test_only_a_decision_made_with_the_key_lets_an_old_review_through(engine, desk, ana, clock):
    """A key marked used with no decision behind it (a confirm still deciding, or one that crashed there):
    an hour-old review of it is refused, not let through as a replay that would decide anew."""
    ticket = _ticket(engine, MARIA, "conv-marked-only")
    key = desk.issue_form_keys(ticket, ana, ["r"])["r"]
    token = desk.preview(ticket, ana, "goodwill", amount="5", reason="damaged", form_key=key)["review_token"]
    desk._use_key(key)
    clock.now += timedelta(minutes=61)
    with pytest.raises(DeskError, match="more than 60 minutes old"):
        desk.confirm(ticket, ana, "goodwill", key, amount="5", reason="damaged", review_token=token)
    assert _count(engine, Refund) == 0


def test_a_form_whose_decision_failed_can_be_reviewed_again(engine, desk, ana, monkeypatch):
    ticket = _ticket(engine, MARIA, "conv-decision-failed")
    key = desk.issue_form_keys(ticket, ana, ["r"])["r"]
    token = desk.preview(ticket, ana, "goodwill", amount="5", reason="damaged", form_key=key)["review_token"]
    decide = desk._claims.decide_and_apply

    def failing(**kwargs):
        raise sa.exc.OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(desk._claims, "decide_and_apply", failing)
    with pytest.raises(sa.exc.OperationalError):
        desk.confirm(ticket, ana, "goodwill", key, amount="5", reason="damaged", review_token=token)
    monkeypatch.setattr(desk._claims, "decide_and_apply", decide)
    token = desk.preview(ticket, ana, "goodwill", amount="5", reason="damaged", form_key=key)["review_token"]
    assert token, "nothing was decided with the key: the form is still good"
    assert desk.confirm(ticket, ana, "goodwill", key, amount="5", reason="damaged", review_token=token)["allowed"]
    assert _count(engine, Refund) == 1


def test_a_review_for_what_the_policy_allows_binds_that_amount_and_a_waiver_its_charge(engine, desk, ana):
    ticket = _ticket(engine, JAMES, "conv-bound-2")
    key = desk.issue_form_keys(ticket, ana, ["r"])["r"]
    shown = desk.preview(ticket, ana, "refund", reason="damaged", form_key=key)  # empty amount: what is allowed
    assert shown["amount"] == "38.95"
    with pytest.raises(DeskError, match="not what was reviewed"):
        desk.confirm(ticket, ana, "refund", key, amount="1.00", reason="damaged", review_token=shown["review_token"])
    assert desk.confirm(ticket, ana, "refund", key, amount=shown["amount"], reason="damaged",
                        review_token=shown["review_token"])["amount"] == "38.95"
    ticket = _ticket(engine, MARIA, "conv-bound-2b")
    fees = desk.view(ticket).fees
    waiver_key = desk.issue_form_keys(ticket, ana, ["w"])["w"]
    token = desk.preview(ticket, ana, "waiver", charge_id=fees[0]["id"], form_key=waiver_key)["review_token"]
    with pytest.raises(DeskError, match="not what was reviewed"):
        desk.confirm(ticket, ana, "waiver", waiver_key, charge_id=str(fees[0]["id"] + 1), review_token=token)
    assert desk.confirm(ticket, ana, "waiver", waiver_key, charge_id=str(fees[0]["id"]), review_token=token)["allowed"]


def test_a_review_token_is_the_reviewers_own_and_a_refusal_or_a_bare_preview_has_none(engine, desk, ana, clock):
    ticket = _ticket(engine, MARIA, "conv-bound-3")
    ben = Accounts(engine, now=clock).create("ben@example.test", "Ben Second", "agent", "correct horse battery")
    key = desk.issue_form_keys(ticket, ana, ["r"])["r"]
    with pytest.raises(DeskError, match="not issued to you"):
        desk.preview(ticket, ben, "goodwill", amount="5", reason="damaged", form_key=key)
    with pytest.raises(DeskError, match="missing its key"):
        desk.preview(ticket, ana, "goodwill", amount="5", reason="damaged", form_key="")
    token = desk.preview(ticket, ana, "goodwill", amount="5", reason="damaged", form_key=key)["review_token"]
    bens_key = desk.issue_form_keys(ticket, ben, ["b"])["b"]
    with pytest.raises(DeskError, match="not what was reviewed"):
        desk.confirm(ticket, ben, "goodwill", bens_key, amount="5", reason="damaged", review_token=token)
    assert desk.preview(ticket, ana, "goodwill", amount="5", reason="damaged")["review_token"] == ""
    _delivered(engine, "CL-100003", 45)
    _goodwill_used(engine, JAMES[1], 2)
    late = _ticket(engine, JAMES, "conv-bound-3b")
    late_key = desk.issue_form_keys(late, ana, ["l"])["l"]
    refused = desk.preview(late, ana, "refund", reason="changed_mind", form_key=late_key)
    assert not refused["allowed"] and refused["review_token"] == "", "nothing to confirm after a refusal"


# --- the customer is told once -----------------------------------------------------------------------------


def _paid(engine, desk, ana, conversation):
    ticket = _ticket(engine, JAMES, conversation)
    key = desk.issue_form_keys(ticket, ana, ["r"])["r"]
    token = desk.preview(ticket, ana, "refund", reason="damaged", form_key=key)["review_token"]
    return ticket, desk.confirm(ticket, ana, "refund", key, reason="damaged", amount="38.95",
                                review_token=token)["reference"]


def _replies(engine, ticket):
    with Session(engine) as session:
        return session.execute(sa.select(TicketEvent.detail).where(
            TicketEvent.ticket_id == ticket, TicketEvent.kind == "reply")).scalars().all()


def test_five_concurrent_tells_send_the_message_once(engine, desk, ana):
    """The reported case: five "Tell the customer" at once all sent it (the check was a separate read)."""
    from concurrent.futures import ThreadPoolExecutor

    ticket, reference = _paid(engine, desk, ana, "conv-tell-race")
    sent = []
    start = threading.Barrier(5)

    def send(conversation, text):
        time.sleep(0.3)  # the bot server takes a moment: the others come meanwhile
        sent.append(text)

    def tell(_):
        start.wait()
        return desk.tell_outcome(ticket, ana, reference, send)
    with ThreadPoolExecutor(5) as pool:
        answers = list(pool.map(tell, range(5)))
    assert len(sent) == 1 and [a["told"] for a in answers].count(True) == 1
    assert [a.get("already") for a in answers].count(True) == 4
    assert _replies(engine, ticket) == sent, "one reply event"
    assert _count(engine, DeskTold) == 1
    assert [d["told"] for d in desk.view(ticket).decisions] == [True]


def test_when_sending_fails_the_outcome_can_be_told_again_and_told_is_not_the_reply_text(engine, desk, ana):
    ticket, reference = _paid(engine, desk, ana, "conv-tell-fails")

    def down(conversation, text):
        raise RasaUnavailable("the bot server is not answering")
    with pytest.raises(RasaUnavailable):
        desk.tell_outcome(ticket, ana, reference, down)
    assert _count(engine, DeskTold) == 0 and _replies(engine, ticket) == []
    assert [d["told"] for d in desk.view(ticket).decisions] == [False], "not told: the button is still there"
    sent = []
    assert desk.tell_outcome(ticket, ana, reference, lambda conversation, text: sent.append(text))["told"]
    assert len(sent) == 1 and _count(engine, DeskTold) == 1
    desk.reply(ticket, ana, "Anything else?", lambda *_: None)
    assert [d["told"] for d in desk.view(ticket).decisions] == [True]
