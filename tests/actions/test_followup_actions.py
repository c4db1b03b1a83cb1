"""The bot writes first: the follow-up question, the yes and the no, the late-order notice, the watch."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from actions import deps
from actions.followup import (
    ActionFollowUp,
    ActionFollowUpNo,
    ActionFollowUpYes,
    ActionLateOrderNotice,
)
from actions.orders import ActionOrderRequest
from careline.dialogue.conversation import latest_question
from careline.db import FollowUp, Order, OrderWatch, Ticket
from careline.money import Request
from careline.shared import utcnow
from tests.actions.conftest import CONVERSATION, make_tracker, run_action, user_event


def _refund_followed_up(conversation: str = CONVERSATION) -> FollowUp:
    """James Kim's CL-100003 refunded ($20) in `conversation`; its follow-up scheduled and due now."""
    outcome = deps.claim_service().decide_and_apply(
        idempotency_key=f"{conversation}:refund", order_number="CL-100003", email="jkim88@example.net",
        request=Request("refund", "damaged", Decimal("20")), conversation_id=conversation)
    assert outcome.reference
    deps.follow_up_schedule().sweep()
    with Session(deps.store_engine(), expire_on_commit=False) as session, session.begin():
        row = session.execute(sa.select(FollowUp).where(FollowUp.conversation_id == conversation)).scalar_one()
        row.due_at = row.next_attempt_at = utcnow()
    return row


def _triggered(intent: str, follow_up_id: object, channel: str = "socketio"):
    event = user_event(intent, f"EXTERNAL: {intent}")
    event["parse_data"]["entities"] = [{"entity": "follow_up_id", "value": str(follow_up_id)}]
    event["input_channel"] = channel
    return event


def _row(follow_up_id: int) -> FollowUp:
    with Session(deps.store_engine()) as session:
        return session.get(FollowUp, follow_up_id)


ASK = [{"event": "action", "name": "action_follow_up"},
       {"event": "bot", "text": "Did it arrive?", "data": {"buttons": [{"title": "Yes", "payload": "/affirm"},
                                                                       {"title": "No", "payload": "/deny"}]}},
       {"event": "action", "name": "action_listen"}]


def test_the_follow_up_asks_about_the_actual_case_once_with_yes_and_no():
    row = _refund_followed_up()
    tracker = make_tracker([_triggered("EXTERNAL_follow_up", row.id)])
    messages, events = run_action(ActionFollowUp(), tracker)
    assert len(messages) == 1 and events == []
    text = messages[0]["text"]
    assert text.startswith("Hi James, it's Careline from Harbor & Pine again.")
    assert "Your refund of $20.00 for order CL-100003 should have reached you by now." in text
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/affirm", "/deny"]
    assert [b["title"] for b in messages[0]["buttons"]] == ["Yes, all sorted", "No, I still need help"]
    assert (_row(row.id).status, _row(row.id).channel) == ("sent", "socketio")
    again, _ = run_action(ActionFollowUp(), tracker)
    assert again == [], "a repeated trigger says nothing twice"


def test_a_follow_up_never_reaches_another_conversation_nor_one_a_customer_typed_early():
    row = _refund_followed_up("someone-else")
    messages, _ = run_action(ActionFollowUp(), make_tracker([_triggered("EXTERNAL_follow_up", row.id)]))
    assert messages == [] and _row(row.id).status == "scheduled"
    with Session(deps.store_engine()) as session, session.begin():
        session.get(FollowUp, row.id).due_at = utcnow().replace(year=2030)
    typed = make_tracker([_triggered("EXTERNAL_follow_up", row.id)], sender="someone-else")
    assert run_action(ActionFollowUp(), typed)[0] == [], "not due yet"
    assert run_action(ActionFollowUp(), make_tracker([_triggered("EXTERNAL_follow_up", "1 OR 1=1")]))[0] == []


def test_yes_records_it_worked_out():
    row = _refund_followed_up()
    run_action(ActionFollowUp(), make_tracker([_triggered("EXTERNAL_follow_up", row.id)]))
    answered = make_tracker([_triggered("EXTERNAL_follow_up", row.id), *ASK, user_event("affirm", "yes")])
    assert latest_question(answered.events).asker == "action_follow_up"
    messages, _ = run_action(ActionFollowUpYes(), answered)
    assert messages[0]["text"] == "That's great to hear, thank you for letting me know!"
    assert _row(row.id).outcome == "resolved"
    messages, _ = run_action(ActionFollowUpYes(), answered)
    assert _row(row.id).outcome == "resolved" and "What can I help you with?" in messages[0]["text"]


def test_no_hands_over_to_a_person_with_a_ticket_naming_the_case():
    row = _refund_followed_up()
    run_action(ActionFollowUp(), make_tracker([_triggered("EXTERNAL_follow_up", row.id)]))
    answered = make_tracker([user_event("request_refund", "refund for my mugs please"),
                             _triggered("EXTERNAL_follow_up", row.id), *ASK, user_event("deny", "no")])
    messages, _ = run_action(ActionFollowUpNo(), answered)
    text = messages[0]["text"]
    assert text.startswith("I'm sorry it hasn't worked out. Let's put it right. I'm bringing in a person")
    assert _row(row.id).outcome == "not_resolved"
    with Session(deps.store_engine()) as session:
        [ticket] = session.execute(sa.select(Ticket)).scalars().all()
    assert (ticket.conversation_id, ticket.reason) == (CONVERSATION, "follow_up")
    assert "Follow-up on refund RF-" in ticket.summary and "($20.00, order CL-100003)" in ticket.summary
    assert "wants more help with a case that did not work out" in ticket.summary
    assert "EXTERNAL" not in ticket.transcript


def test_no_without_a_pending_follow_up_changes_nothing():
    messages, events = run_action(ActionFollowUpNo(), make_tracker([*ASK, user_event("deny", "no")]))
    assert messages[0]["text"] in ("No problem. What else can I help you with?",
                                   "Alright. Is there something else I can do for you?") and events == []
    with Session(deps.store_engine()) as session:
        assert session.execute(sa.select(sa.func.count(Ticket.id))).scalar_one() == 0


def test_asking_where_an_order_is_watches_it_and_a_late_order_is_announced():
    tracker = make_tracker([user_event("order_status", "where is my order")],
                           slots={"order_id": "CL-100001", "email": "maria.lopez@example.com"})
    today = utcnow().date()
    with Session(deps.store_engine()) as session, session.begin():
        order = session.execute(sa.select(Order).where(Order.number == "CL-100001")).scalar_one()
        order.status, order.promised_date = "shipped", today
    run_action(ActionOrderRequest(), tracker)
    with Session(deps.store_engine()) as session, session.begin():
        [watch] = session.execute(sa.select(OrderWatch)).scalars().all()
        assert watch.conversation_id == CONVERSATION and not watch.late_when_asked
        order = session.execute(sa.select(Order).where(Order.number == "CL-100001")).scalar_one()
        order.promised_date = today - timedelta(days=1)  # the carrier missed the date
    assert deps.follow_up_schedule().sweep() == 1
    with Session(deps.store_engine()) as session:
        notice = session.execute(sa.select(FollowUp)).scalar_one()
    messages, _ = run_action(ActionLateOrderNotice(), make_tracker([_triggered("EXTERNAL_late_order", notice.id)]))
    text = messages[0]["text"]
    assert text.startswith("An update on your order CL-100001: it's running late, I'm sorry. It was due on")
    assert "tell me and I'll look at a replacement or a refund with you" in text
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/order_status", "/delivery_problem"]
    again, _ = run_action(ActionLateOrderNotice(), make_tracker([_triggered("EXTERNAL_late_order", notice.id)]))
    assert again == []
    wrong_kind, _ = run_action(ActionFollowUp(), make_tracker([_triggered("EXTERNAL_follow_up", notice.id)]))
    assert wrong_kind == []


def test_a_yes_or_no_after_a_detour_still_answers_the_follow_up():
    """The bot's latest yes/no question was the follow-up; a question in between does not change that."""
    from rasa_sdk.events import FollowupAction

    from actions.orders import ActionAnswerNo, ActionAnswerYes
    row = _refund_followed_up()
    asked, _ = run_action(ActionFollowUp(), make_tracker([_triggered("EXTERNAL_follow_up", row.id)]))
    question = [{"event": "action", "name": "action_follow_up"},
                {"event": "bot", "text": asked[0]["text"], "data": {"buttons": asked[0]["buttons"]}},
                {"event": "action", "name": "action_listen"}]
    detour = [user_event("faq", "how long does a refund take?"), {"event": "action", "name": "utter_faq"},
              {"event": "bot", "text": "Once your return reaches our warehouse ..."},
              {"event": "action", "name": "action_listen"}]
    messages, events = run_action(ActionAnswerYes(), make_tracker(
        [_triggered("EXTERNAL_follow_up", row.id)] + question + detour + [user_event("affirm", "yes")]))
    assert FollowupAction("feedback_form") in events and _row(row.id).outcome == "resolved"
    again, _ = run_action(ActionAnswerNo(), make_tracker(
        [_triggered("EXTERNAL_follow_up", row.id)] + question + detour + [user_event("deny", "no")]))
    assert _row(row.id).outcome == "resolved", "answered once: a later no changes nothing"
    assert again and "bringing in a person" not in again[0]["text"]


def test_a_no_to_a_later_offer_of_a_person_does_not_answer_an_older_follow_up():
    """The latest yes/no question was "would you like a person?", not the follow-up (reviewer's finding)."""
    from actions.orders import ActionAnswerNo
    row = _refund_followed_up()
    asked, _ = run_action(ActionFollowUp(), make_tracker([_triggered("EXTERNAL_follow_up", row.id)]))
    question = [{"event": "action", "name": "action_follow_up"},
                {"event": "bot", "text": asked[0]["text"], "data": {"buttons": asked[0]["buttons"]}},
                {"event": "action", "name": "action_listen"}]
    offer = [user_event("dispute_charge", "what is this fee?"), {"event": "action", "name": "action_order_request"},
             {"event": "bot", "text": "a person from our team can trace it.",
              "data": {"buttons": [{"title": "Talk to a person", "payload": "/human_handoff"},
                                   {"title": "No, thanks", "payload": "/deny"}]}},
             {"event": "action", "name": "action_listen"}]
    messages, events = run_action(ActionAnswerNo(), make_tracker(
        [_triggered("EXTERNAL_follow_up", row.id)] + question + offer + [user_event("deny", "no")]))
    assert _row(row.id).outcome is None, "the follow-up is still unanswered"
    assert "bringing in a person" not in messages[0]["text"] and not any(e.get("name") == "handoff_ticket"
                                                                        for e in events)
