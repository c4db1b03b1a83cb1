"""Order flows end to end at the action level: propose, confirm, apply once, on a real SQLite store."""
from __future__ import annotations

import json
import re
from datetime import timedelta
from urllib.parse import urlparse

import pytest
import sqlalchemy as sa
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions import deps
from actions.orders import ActionAnswerYes, ActionAnswerNo, ActionOrderRequest, ValidateOrderForm
from careline.db.models.handoff import Ticket
from careline.db.models.money import DecisionRecord, Refund, VerificationAttempt, Waiver
from careline.db.models.shop import Order
from careline.fulfilment import LabelLinks, ReturnLabels
from tests.actions.conftest import SIGNING_KEY
from careline.money.proposal import Proposal
from careline.shared import catalogue, render
from careline.shared.clock import utcnow, utctoday
from careline.shared.signing import Signer
from tests.actions.conftest import handed_over, make_tracker, run_action, user_event

MARIA = {"order_id": "CL-100001", "email": "maria.lopez@example.com"}
DENIAL, LOCKED, REVERIFY = (render(name) for name in ("utter_identity_denied", "utter_identity_locked",
                                                      "utter_identity_reverify"))
NO_FEES, NOTHING_CHANGED, NOTHING_PENDING = (render(name) for name in ("utter_no_fees", "utter_nothing_changed",
                                                                       "utter_nothing_pending"))


def started_by(intent: str, text: str = ""):
    """Events of a conversation whose identity check was started by `intent`."""
    return [user_event(intent, text), {"event": "action", "name": "order_form"},
            {"event": "active_loop", "name": "order_form"}, user_event("inform", "CL-100001")]


def _slot(events, name):
    return next(e["value"] for e in events if e.get("event") == "slot" and e.get("name") == name)


def _count(model):
    with Session(deps.store_engine()) as session:
        return session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()


def propose_and_accept(intent, slots, text=""):
    events = started_by(intent, text)
    messages, proposed = run_action(ActionOrderRequest(), make_tracker(events, slots=slots))
    proposal = _slot(proposed, "proposal")
    tracker = make_tracker(events + [user_event("affirm", "yes")], slots={**slots, "proposal": proposal})
    done, after = run_action(ActionAnswerYes(), tracker)
    return messages, done, after, tracker


def test_cancel_is_proposed_confirmed_and_done_once():
    slots = {"order_id": "CL-100002", "email": "maria.lopez@example.com"}
    offer, done, after, tracker = propose_and_accept("cancel_order", slots)
    assert "cancel it now and refund the full $149.00. Shall I go ahead?" in offer[0]["text"]
    assert [b["payload"] for b in offer[0]["buttons"]] == ["/affirm", "/deny"]
    assert done[0]["text"].startswith("Done: order CL-100002 is cancelled (reference CX-100002)")
    assert SlotSet("proposal", None) in after
    again, _ = run_action(ActionAnswerYes(), tracker)  # a double "yes" or a retried action
    assert again[0]["text"] == done[0]["text"]
    assert _count(Refund) == 1
    with Session(deps.store_engine()) as session:
        assert session.execute(sa.select(Order.status).where(Order.number == "CL-100002")).scalar_one() == \
            "cancelled"


def test_refund_for_a_damaged_item_within_the_bots_limit():
    slots = {"order_id": "CL-100003", "email": "jkim88@example.net", "refund_reason": "damaged"}
    offer, done, _, _ = propose_and_accept("request_refund", slots)
    assert "I can refund $38.95 for order CL-100003" in offer[0]["text"]
    assert "Done: I've refunded $38.95 (reference RF-" in done[0]["text"]
    assert "original payment method within 2 working days" in done[0]["text"]


def _escalation_ticket():
    """The only ticket, with the number of its order."""
    with Session(deps.store_engine()) as session:
        ticket = session.execute(sa.select(Ticket)).scalar_one()
        ticket.order_number = session.get(Order, ticket.order_id).number
        return ticket


def _deliver(number: str, days_ago: int = 3) -> None:
    """Mark an order delivered a few days ago (a damaged-item refund needs it to have arrived)."""
    with Session(deps.store_engine()) as session:
        order = session.execute(sa.select(Order).where(Order.number == number)).scalar_one()
        order.status, order.delivered_date = "delivered", utctoday() - timedelta(days=days_ago)
        session.commit()


def test_a_refund_above_the_limit_is_escalated_audited_and_handed_to_a_person_at_once():
    _deliver("CL-100001")
    slots = {"order_id": "CL-100001", "email": "maria.lopez@example.com", "refund_reason": "damaged"}
    messages, events = run_action(ActionOrderRequest(), make_tracker(started_by("request_refund"), slots=slots))
    assert messages[0]["text"].startswith("A refund of $") and "needs a colleague's approval. I'm bringing in a " \
        "person from our team." in messages[0]["text"]
    assert handed_over(events) and _slot(events, "proposal") is None
    assert _count(Refund) == 0 and _count(DecisionRecord) == 1
    ticket = _escalation_ticket()
    assert (ticket.reason, ticket.order_number) == ("policy", "CL-100001")
    assert json.loads(ticket.decisions)[0]["outcome"] == "escalate"


def test_fee_waiver_flow_names_the_fee_and_removes_it():
    offer, done, _, _ = propose_and_accept("dispute_charge", MARIA)
    assert "$14.99 charge" in offer[0]["text"] and "Plus membership service charge" in offer[0]["text"]
    assert done[0]["text"].startswith("Done: the $14.99 charge is removed (reference WV-")
    assert _count(Waiver) == 1
    messages, _ = run_action(ActionOrderRequest(), make_tracker(started_by("dispute_charge"), slots=MARIA))
    assert messages[0]["text"] == NO_FEES


def test_return_gets_an_authorisation_number():
    slots = {"order_id": "CL-100003", "email": "jkim88@example.net"}
    offer, done, _, _ = propose_and_accept("return_item", slots)
    assert "can be returned until" in offer[0]["text"]
    assert done[0]["text"].startswith("Done: your return number is RA-100003-")
    link = re.search(r"http://127\.0\.0\.1:\d+/returns/label/\S+\.pdf", done[0]["text"]).group(0)
    assert "we're emailing it to you too" in done[0]["text"] and "within 14 days" in done[0]["text"]
    labels = ReturnLabels(deps.store_engine(), deps.settings().shop, LabelLinks(
        SIGNING_KEY, deps.settings().customer_url))
    answer = labels.answer(urlparse(link).path)
    assert answer.status == 200 and answer.filename.startswith("return-label-RA-100003-")


def test_late_delivery_is_reshipped():
    slots = {"order_id": "CL-100004", "email": "priya.shah@example.org"}
    offer, done, _, _ = propose_and_accept("delivery_problem", slots)
    assert "send a replacement at no cost" in offer[0]["text"]
    assert done[0]["text"].startswith("Done: I've booked a replacement for order CL-100004 (reference RS-100004-")
    assert "email" not in done[0]["text"], "no warehouse is connected: no email is promised"


def test_a_reshipment_promises_the_email_only_with_a_warehouse(monkeypatch):
    monkeypatch.setenv("CARELINE_WAREHOUSE_URL", "http://127.0.0.1:9/orders")
    deps.reset()
    slots = {"order_id": "CL-100004", "email": "priya.shah@example.org"}
    _, done, _, _ = propose_and_accept("delivery_problem", slots)
    assert "(reference RS-100004-" in done[0]["text"]
    assert done[0]["text"].endswith(". " + render("utter_done_reship_shipping"))


def test_address_change_before_shipping_only():
    slots = {"order_id": "CL-100002", "email": "maria.lopez@example.com",
             "new_address": "88 Harbor Street, Portland, OR 97205"}
    offer, done, _, _ = propose_and_accept("change_address", slots)
    assert "The new address would be: 88 Harbor Street, Portland, OR 97205. Is that right?" in offer[0]["text"]
    assert "will now be delivered to 88 Harbor Street" in done[0]["text"]
    with Session(deps.store_engine()) as session:
        address = session.execute(sa.select(Order.shipping_address).where(Order.number == "CL-100002")).scalar_one()
    assert address == "88 Harbor Street, Portland, OR 97205"
    shipped = {**slots, "order_id": "CL-100001"}
    messages, _ = run_action(ActionOrderRequest(), make_tracker(started_by("change_address"), slots=shipped))
    assert "already left our warehouse" in messages[0]["text"]


def test_payment_question_gets_the_payment_facts():
    messages, _ = run_action(ActionOrderRequest(), make_tracker(started_by("payment_issue"), slots=MARIA))
    assert "The payment of USD 207.00 for order CL-100001 went through" in messages[0]["text"]


def test_no_changes_on_no():
    events = started_by("cancel_order")
    slots = {"order_id": "CL-100002", "email": "maria.lopez@example.com"}
    _, proposed = run_action(ActionOrderRequest(), make_tracker(events, slots=slots))
    tracker = make_tracker(events + [user_event("deny", "no")],
                           slots={**slots, "proposal": _slot(proposed, "proposal")})
    messages, answered = run_action(ActionAnswerNo(), tracker)
    assert messages[0]["text"] == NOTHING_CHANGED and SlotSet("proposal", None) in answered
    assert _count(Refund) == 0


def test_a_bare_yes_or_no_with_nothing_pending_asks_what_the_customer_needs():
    nothing, _ = run_action(ActionAnswerYes(), make_tracker([user_event("affirm", "yes")]))
    assert nothing[0]["text"] == NOTHING_PENDING
    messages, events = run_action(ActionAnswerNo(), make_tracker([user_event("deny", "no")]))
    assert messages[0]["text"] in catalogue().response("utter_anything_else").texts and events == []


@pytest.mark.parametrize("proposal", [
    "not json", '{"kind": "refund"}', json.dumps({"kind": "refund", "order_number": "CL-100001", "id": "x"}),
])
def test_a_crafted_or_broken_proposal_does_nothing(proposal):
    tracker = make_tracker([user_event("affirm", "yes")], slots={**MARIA, "proposal": proposal})
    messages, _ = run_action(ActionAnswerYes(), tracker)
    assert messages[0]["text"] == NOTHING_PENDING
    assert _count(DecisionRecord) == 0


def test_a_proposal_the_server_did_not_issue_is_never_carried_out():
    """A forged tracker's made-up proposal (issue 13: refund paid, order cancelled) does nothing."""
    fields = {"kind": "cancel", "order_number": "CL-100002", "id": "a" * 32, "reason": None, "charge_id": None,
              "detail": None}
    other_key = Signer("an-attackers-own-signing-key", "proposal")
    forged = [json.dumps(fields), other_key.sign({"p": fields, "c": "test-conversation", "iat": 1_800_000_000}),
              Proposal(**fields).seal(deps.proposal_signer(), "another-conversation", utcnow())]
    slots = {"order_id": "CL-100002", "email": "maria.lopez@example.com"}
    for proposal in forged:
        tracker = make_tracker([user_event("affirm", "yes")], slots={**slots, "proposal": proposal})
        messages, _ = run_action(ActionAnswerYes(), tracker)
        assert messages[0]["text"] == NOTHING_PENDING
    stale = Proposal(**fields).seal(deps.proposal_signer(), "test-conversation", utcnow() - timedelta(hours=2))
    messages, _ = run_action(ActionAnswerYes(), make_tracker([user_event("affirm", "yes")],
                                                                 slots={**slots, "proposal": stale}))
    assert messages[0]["text"] == NOTHING_PENDING
    assert _count(DecisionRecord) == 0 and _count(Refund) == 0


def test_a_genuine_proposal_for_another_order_than_the_verified_one_is_refused():
    proposal = Proposal.new("refund", "CL-100003", reason="damaged").seal(deps.proposal_signer(),
                                                                           "test-conversation", utcnow())
    tracker = make_tracker([user_event("affirm", "yes")], slots={**MARIA, "proposal": proposal})
    messages, _ = run_action(ActionAnswerYes(), tracker)
    assert messages[0]["text"] == REVERIFY and _count(Refund) == 0


def test_a_yes_without_a_live_proof_pays_nothing():
    """The proposal is genuine but the conversation's proof expired (or was never there)."""
    events = started_by("cancel_order")
    slots = {"order_id": "CL-100002", "email": "maria.lopez@example.com"}
    _, proposed = run_action(ActionOrderRequest(), make_tracker(events, slots=slots))
    tracker = make_tracker(events + [user_event("affirm", "yes")], verified=False,
                           slots={**slots, "proposal": _slot(proposed, "proposal")})
    messages, _ = run_action(ActionAnswerYes(), tracker)
    assert messages[0]["text"] == REVERIFY and _count(Refund) == 0


def _typed(text: str):
    return started_by("order_status")[:-1] + [user_event("inform", text)]


def test_three_failed_checks_lock_the_conversation():
    form = ValidateOrderForm()
    failures = 0.0
    for attempt in range(3):
        email = f"guess{attempt}@example.com"
        tracker = make_tracker(_typed(email), slots={"order_id": "CL-100001", "failed_verifications": failures})
        failures = form.validate_email(email, CollectingDispatcher(), tracker, {})["failed_verifications"]
    assert failures == 3.0
    right = {**MARIA, "failed_verifications": failures}
    messages, _ = run_action(ActionOrderRequest(), make_tracker(started_by("order_status"), slots=right))
    assert messages[0]["text"] == LOCKED, "even the right details are refused once locked"


def test_the_form_asks_for_a_reason_or_an_address_only_when_needed():
    import asyncio
    form = ValidateOrderForm()
    slots_of = lambda intent, extra=None: asyncio.run(form.required_slots(  # noqa: E731
        ["order_id", "email"], None, make_tracker(started_by(intent), slots=extra or {}), {}))
    assert slots_of("order_status") == ["order_id", "email"]
    assert slots_of("request_refund") == ["order_id", "email", "refund_reason"]
    assert slots_of("change_address") == ["order_id", "email", "new_address"]
    assert slots_of("order_status", {"failed_verifications": 3.0}) == []


def test_the_form_checks_the_email_against_the_order_at_once():
    form = ValidateOrderForm()
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(_typed("maria.lopez@example.com"), slots={"order_id": "CL-100001"})
    right = form.validate_email("maria.lopez@example.com", dispatcher, tracker, {})
    assert (right["order_id"], right["email"]) == ("CL-100001", "maria.lopez@example.com") and right["verified"]
    wrong = form.validate_email("jkim88@example.net", dispatcher, make_tracker(_typed("jkim88@example.net"),
                                                                              slots={"order_id": "CL-100001"}), {})
    # only the email is asked again; the number is kept (the customer may send a corrected one instead)
    assert wrong == {"email": None, "order_id": "CL-100001", "verified": None, "failed_verifications": 1.0}
    assert [m["text"] for m in dispatcher.messages] == [DENIAL]
    third = make_tracker(_typed("x@example.com"), slots={"order_id": "CL-100001", "failed_verifications": 2.0})
    assert form.validate_email("x@example.com", CollectingDispatcher(), third, {})["failed_verifications"] == 3.0


def test_an_email_left_from_an_expired_proof_is_asked_for_again_and_not_counted():
    form = ValidateOrderForm()
    tracker = make_tracker(_typed("hello again"), slots={"order_id": "CL-100001"})
    assert form.validate_email("maria.lopez@example.com", CollectingDispatcher(), tracker, {}) == {
        "email": None, "verified": None}
    with Session(deps.store_engine()) as session:
        assert session.execute(sa.select(sa.func.count(VerificationAttempt.id))).scalar_one() == 0


def test_order_number_and_email_in_one_message_are_checked_once():
    form = ValidateOrderForm()
    event = user_event("order_status", "where is CL-100001 maria.lopez@example.com")
    tracker = make_tracker([event], slots={"order_id": "CL-100001", "email": "maria.lopez@example.com"},
                           verified=False)
    tracker.slots_to_validate = lambda: {"order_id": "CL-100001", "email": "maria.lopez@example.com"}
    assert form.validate_order_id("CL-100001", CollectingDispatcher(), tracker, {}) == {"order_id": "CL-100001"}
    assert form.validate_email("maria.lopez@example.com", CollectingDispatcher(), tracker, {})["verified"]
    with Session(deps.store_engine()) as session:
        assert session.execute(sa.select(VerificationAttempt.outcome)).scalars().all() == ["verified"]


def _late_order(max_cents):
    with Session(deps.store_engine()) as session:
        order = session.execute(sa.select(Order).where(Order.status == "delayed", Order.total_cents < max_cents)
                                .order_by(Order.number)).scalars().first()
        return {"order_id": order.number, "email": order.customer.email}, order.total_cents


def _decline(slots, proposal_events, intent="deny", text="no"):
    tracker = make_tracker(started_by("delivery_problem") + [user_event(intent, text)],
                           slots={**slots, "proposal": _slot(proposal_events, "proposal")})
    return run_action(ActionAnswerYes() if intent == "affirm" else ActionAnswerNo(), tracker)


def test_a_declined_reshipment_turns_into_a_refund_offer():
    slots, cents = _late_order(15000)
    _, proposed = run_action(ActionOrderRequest(), make_tracker(started_by("delivery_problem"), slots=slots))
    messages, after = _decline(slots, proposed)
    assert messages[0]["text"] == f"No problem. Would you rather have a refund of ${cents / 100:.2f} instead?"
    refund = Proposal.unseal(_slot(after, "proposal"), deps.proposal_signer(), "test-conversation", utcnow())
    assert (refund.kind, refund.reason) == ("refund", "not_received")
    done, _ = _decline(slots, after, intent="affirm", text="yes")
    assert done[0]["text"].startswith(f"Done: I've refunded ${cents / 100:.2f}")
    assert _count(Refund) == 1
    final, cleared = _decline(slots, after)
    assert final[0]["text"] == NOTHING_CHANGED and SlotSet("proposal", None) in cleared


def test_a_refund_instead_of_an_expensive_reshipment_goes_to_a_person():
    slots = {"order_id": "CL-100004", "email": "priya.shah@example.org"}
    _, proposed = run_action(ActionOrderRequest(), make_tracker(started_by("delivery_problem"), slots=slots))
    messages, after = _decline(slots, proposed)
    assert messages[0]["text"].startswith("No problem. A refund of $") and "I'm bringing in" in messages[0]["text"]
    assert handed_over(after) and _count(Refund) == 0
    ticket = _escalation_ticket()
    assert (ticket.reason, ticket.order_number) == ("policy", "CL-100004")
    assert json.loads(ticket.decisions)[-1]["outcome"] == "escalate"


def test_a_refund_for_an_order_still_on_its_way_waits_until_it_is_due():
    """The reported attack: 'refund please, it never arrived' the day after shipping paid at once."""
    with Session(deps.store_engine()) as session:
        order = session.execute(sa.select(Order).where(Order.number == "CL-100001")).scalar_one()
        order.status, order.promised_date = "shipped", utctoday() + timedelta(days=4)
        session.commit()
    slots = {**MARIA, "refund_reason": "not_received"}
    messages, events = run_action(ActionOrderRequest(),
                                  make_tracker(started_by("request_refund", "refund please, it never arrived"),
                                               slots=slots))
    due = utctoday() + timedelta(days=4)
    text = messages[0]["text"]
    assert f"is due by {due:%a %d %b}" in text and f"by {due + timedelta(days=2):%a %d %b}, I can refund" in text
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/order_status", "/human_handoff"]
    assert _count(Refund) == 0
    with Session(deps.store_engine()) as session:
        record = session.execute(sa.select(DecisionRecord)).scalar_one()
    assert (record.outcome, record.rule, record.amount_cents) == ("deny", "not_due_yet", 0)
    assert all(not (e.get("event") == "slot" and e.get("name") == "proposal" and e.get("value") and
                    '"kind": "refund"' in e["value"]) for e in events)


@pytest.mark.parametrize("reason", [{"k": 1}, ["damaged"], 42, "free money"])
def test_a_refund_reason_slot_set_before_the_form_is_validated_too(reason):
    """The attack review: /greet{"refund_reason":{"k":1}} crashed the action (500, an empty reply)."""
    _deliver("CL-100003")
    slots = {"order_id": "CL-100003", "email": "jkim88@example.net", "refund_reason": reason}
    messages, _ = run_action(ActionOrderRequest(), make_tracker(started_by("request_refund"), slots=slots))
    assert messages and _count(Refund) == 0


def test_a_second_return_for_the_same_order_gives_the_label_of_the_first_again():
    slots = {"order_id": "CL-100003", "email": "jkim88@example.net"}
    _, done, _, _ = propose_and_accept("return_item", slots)
    first = re.search(r"RA-100003-\d{4}", done[0]["text"]).group(0)
    messages, events = run_action(ActionOrderRequest(), make_tracker(started_by("return_item"), slots=slots))
    text = messages[0]["text"]
    assert text.startswith(f"Order CL-100003 already has a return: {first}.") and "/returns/label/" in text, text
    assert "Shall I" not in text and not handed_over(events)
    with Session(deps.store_engine()) as session:
        kinds = session.execute(sa.select(DecisionRecord.rule).where(DecisionRecord.kind == "return")).scalars().all()
    assert sorted(kinds) == ["return_exists", "within_return_window"], "one return, the second ask audited"


def test_a_yes_after_something_else_was_asked_carries_out_nothing_stale():
    """Goodbye and the rating retire an open offer: a later "yes" creates no return (reviewer's finding)."""
    from tests.actions.conftest import QUESTION
    slots = {"order_id": "CL-100003", "email": "jkim88@example.net"}
    events = started_by("return_item")
    _, proposed = run_action(ActionOrderRequest(), make_tracker(events, slots=slots))
    rating = {"event": "bot", "text": "Before you go: how did we do?",
              "data": {"buttons": [{"title": str(n), "payload": str(n)} for n in range(1, 6)]}}
    later = events + QUESTION + [user_event("goodbye", "bye"), {"event": "action", "name": "feedback_form"}, rating,
                                 user_event("affirm", "yes")]
    stale = {**slots, "proposal": _slot(proposed, "proposal")}
    messages, answered = run_action(ActionAnswerYes(), make_tracker(later, slots=stale))
    assert messages[0]["text"] == NOTHING_PENDING and _count(DecisionRecord) == 0
