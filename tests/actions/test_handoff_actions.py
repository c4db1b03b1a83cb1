"""Handoff from the conversation: a complete ticket, an honest wait, a paused bot; and the hand-back."""
from __future__ import annotations

import json

import sqlalchemy as sa
from rasa_sdk.events import ActionExecuted
from sqlalchemy.orm import Session

from actions import deps
from actions.handoff import ActionHandback, ActionHandoff, ActionWaiting
from actions.orders import ActionAnswerYes, ActionOrderRequest
from careline.db.models.handoff import OutboxMessage, Ticket
from careline.handoff import reply_address
from tests.actions.conftest import handed_over, make_tracker, run_action, user_event


def angry(text, intent, score):
    event = user_event(intent, text)
    event["parse_data"]["frustration"] = {"score": score, "level": "high" if score >= 0.8 else "low"}
    event["timestamp"] = 1_700_000_000
    return event


def _tickets():
    with Session(deps.store_engine()) as session:
        return session.execute(sa.select(Ticket)).scalars().all(), \
            session.execute(sa.select(sa.func.count(OutboxMessage.id))).scalar_one()


def test_explicit_request_opens_a_full_ticket_and_pauses():
    events = [angry("where is my order", "order_status", 0.2),
              {"event": "bot", "text": "Thanks, Maria. Your order CL-100001 ...", "timestamp": 1_700_000_001},
              angry("my card 4111 1111 1111 1111 was charged, I want a human NOW", "human_handoff", 0.9)]
    tracker = make_tracker(events, slots={"order_id": "CL-100001", "email": "maria.lopez@example.com"})
    messages, returned = run_action(ActionHandoff(), tracker)
    text = messages[0]["text"]
    assert text.startswith("I'm bringing in a person from our team.") and "1-800-555-0199" in text
    assert ("in the queue" in text) or ("offline right now" in text)
    assert handed_over(returned)
    tickets, outbox = _tickets()
    assert len(tickets) == 1 and outbox == 1
    ticket = tickets[0]
    assert (ticket.conversation_id, ticket.status, ticket.reason) == ("test-conversation", "open", "frustration")
    assert ticket.summary.startswith("Maria wants to know where their order is with order CL-100001.")
    assert json.loads(ticket.frustration) == [0.2, 0.9]
    assert json.loads(ticket.intents) == ["order_status", "human_handoff"]
    assert "4111" not in ticket.transcript and "[card number]" in ticket.transcript
    assert ticket.priority >= 80 and ticket.customer_id is not None and ticket.order_id is not None
    again, _ = run_action(ActionHandoff(), tracker)
    assert len(_tickets()[0]) == 1, "the same message never opens two tickets"


def test_an_unverified_customer_can_still_reach_a_person():
    messages, returned = run_action(ActionHandoff(), make_tracker([angry("agent please", "human_handoff", 0.1)]))
    tickets, _ = _tickets()
    assert tickets[0].reason == "customer_request" and tickets[0].customer_id is None
    assert "The customer (not verified)" in tickets[0].summary
    assert handed_over(returned)


def test_a_yes_to_a_person_after_a_denial_hands_off_with_the_decision():
    slots = {"order_id": "CL-100001", "email": "maria.lopez@example.com"}
    events = [user_event("cancel_order", "cancel my order"), {"event": "action", "name": "order_form"},
              {"event": "active_loop", "name": "order_form"}, user_event("inform", "maria.lopez@example.com")]
    denied, proposed = run_action(ActionOrderRequest(), make_tracker(events, slots=slots))
    assert "can't be cancelled any more" in denied[0]["text"] and not handed_over(proposed)
    proposal = next(e["value"] for e in proposed if e.get("name") == "proposal")
    yes = make_tracker(events + [user_event("affirm", "yes")], slots={**slots, "proposal": proposal})
    _, returned = run_action(ActionAnswerYes(), yes)
    assert handed_over(returned)
    ticket = _tickets()[0][0]
    assert ticket.reason == "policy"
    assert json.loads(ticket.decisions)[0]["rule"] == "already_shipped"


def test_handback_greets_the_customer_by_name():
    tracker = make_tracker([user_event("human_handoff", "human")],
                           slots={"order_id": "CL-100001", "email": "maria.lopez@example.com"})
    messages, events = run_action(ActionHandback(), tracker)
    assert messages[0]["text"].startswith("Thanks for waiting, Maria.")
    assert events[-1] == ActionExecuted("action_listen") and events[0]["name"] == "verified"


def test_acknowledgement_steps_aside_so_the_usual_answer_follows():
    from rasa_sdk.events import ActionReverted

    from actions.acknowledgement import ActionAcknowledgeFrustration

    event = user_event("order_status", "I already told you my order number!!!")
    event["parse_data"]["frustration"] = {"score": 0.9, "signals": ["already_told", "repeated_punctuation"]}
    messages, events = run_action(ActionAcknowledgeFrustration(), make_tracker([event]))
    assert messages[0]["text"].startswith("I'm sorry you've had to repeat yourself.")
    assert events == [ActionReverted()]


def test_a_waiting_customer_leaves_a_few_addresses_and_then_hears_which_one_is_kept():
    _, handed = run_action(ActionHandoff(), make_tracker([angry("agent please", "human_handoff", 0.1)]))
    assert handed_over(handed)
    slot = {"handoff_ticket": next(e["value"] for e in handed if e.get("name") == "handoff_ticket")}
    said = []
    for email in ("kim@example.net", "kim.fixed@example.net", "lee@example.net", "victim.person@example.org"):
        tracker = make_tracker([user_event("inform", f"reach me at {email}")], slots=slot)
        messages, events = run_action(ActionWaiting(), tracker)
        assert events == []
        said.append(messages[0]["text"])
    assert "kim@example.net" in said[0] and "lee@example.net" in said[2]
    assert "lee@example.net" in said[3] and "victim" not in said[3], \
        "a fourth address is not taken: the bot names the one the reply goes to"
    with Session(deps.store_engine()) as session:
        ticket = session.execute(sa.select(Ticket)).scalar_one()
        assert reply_address(session, ticket) == "lee@example.net"
