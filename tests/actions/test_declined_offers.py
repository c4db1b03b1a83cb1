"""What the customer declined reaches the ticket: an offer sealed with its amount, a no resolved by
action_answer_no while it was pending, then a person (a yes, or a no to something else, is no decline)."""
from __future__ import annotations

import json
import time
from typing import Any, Dict, List

import sqlalchemy as sa
from rasa_sdk.events import SlotSet
from sqlalchemy.orm import Session

from actions import deps
from actions.handoff import ActionHandoff
from actions.identity import declined_offers
from actions.orders import ActionAnswerNo, ActionAnswerYes, ActionOrderRequest
from careline.db.models.handoff import Ticket
from careline.money.proposal import Proposal
from careline.shared.clock import utcnow
from tests.actions.conftest import CONVERSATION, handed_over, make_tracker, run_action, user_event

JAMES = {"order_id": "CL-100003", "email": "jkim88@example.net", "refund_reason": "damaged"}
PRIYA = {"order_id": "CL-100004", "email": "priya.shah@example.org"}


class Conversation:
    """Events as Rasa stores them: each action, then the bot's messages and the slots it set."""

    def __init__(self, slots: Dict[str, Any], intent: str, text: str) -> None:
        self.slots = dict(slots)
        self.events: List[Dict[str, Any]] = [user_event(intent, text), {"event": "action", "name": "order_form"},
                                             {"event": "active_loop", "name": "order_form"},
                                             user_event("inform", slots["email"])]
        self.clock = time.time()  # the offers are sealed now: their answers follow within seconds

    def _stamp(self, event: Dict[str, Any]) -> Dict[str, Any]:
        self.clock += 1
        return {**event, "timestamp": self.clock}

    def customer(self, intent: str, text: str) -> None:
        self.events.append(self._stamp(user_event(intent, text)))

    def run(self, action) -> List[Dict[str, Any]]:
        tracker = make_tracker(list(self.events), slots=dict(self.slots))
        tracker.events[:] = self.events  # as stored: no question slipped in front of the answer
        messages, returned = run_action(action, tracker)
        self.events.append(self._stamp({"event": "action", "name": action.name()}))
        for message in messages:
            self.events.append(self._stamp({"event": "bot", "text": message.get("text"),
                                            "data": {"buttons": message.get("buttons") or []}}))
        for event in returned:
            if event.get("event") == "slot":
                self.slots[event["name"]] = event["value"]
                self.events.append(self._stamp(dict(event)))
        self.events.append(self._stamp({"event": "action", "name": "action_listen"}))
        return messages


def _ticket() -> Ticket:
    with Session(deps.store_engine()) as session:
        return session.execute(sa.select(Ticket)).scalar_one()


def _offer_refund() -> Conversation:
    chat = Conversation(JAMES, "request_refund", "refund please, the mugs arrived broken")
    offer = chat.run(ActionOrderRequest())
    assert "I can refund $38.95" in offer[0]["text"]
    return chat


def test_a_declined_refund_is_named_with_its_amount_in_the_summary():
    chat = _offer_refund()
    proposal = Proposal.unseal(chat.slots["proposal"], deps.proposal_signer(), CONVERSATION, utcnow())
    assert (proposal.kind, proposal.amount) == ("refund", "38.95"), "the offer is sealed with what it said"
    chat.customer("deny", "no")
    chat.run(ActionAnswerNo())
    chat.customer("human_handoff", "let me talk to a person")
    chat.run(ActionHandoff())
    summary = _ticket().summary
    assert "James declined a $38.95 refund." in summary, summary
    assert "(" not in summary.split("declined")[0] and "_" not in summary


def test_a_yes_is_no_decline():
    chat = _offer_refund()
    chat.customer("affirm", "yes")
    done = chat.run(ActionAnswerYes())
    assert done[0]["text"].startswith("Done: I've refunded $38.95")
    assert declined_offers(chat.events, CONVERSATION) == []
    chat.customer("human_handoff", "a person please")
    chat.run(ActionHandoff())
    summary = _ticket().summary
    assert "declined" not in summary and "Tried: a $38.95 refund was approved (RF-" in summary


def test_a_no_to_a_later_question_declines_nothing_and_an_old_proposal_without_amount_still_counts():
    chat = _offer_refund()
    chat.events.append({"event": "action", "name": "action_ask_rating"})
    chat.events.append({"event": "bot", "text": "How did we do?", "data": {"buttons": [
        {"title": "5", "payload": "/rate{\"rating\": 5}"}]}})
    chat.customer("deny", "no")
    chat.run(ActionAnswerNo())
    assert declined_offers(chat.events, CONVERSATION) == [], "the offer's question was no longer the latest"

    old = Proposal.new("refund", "CL-100003", reason="damaged")  # sealed before offers carried their amount
    sealed = old.seal(deps.proposal_signer(), CONVERSATION, utcnow())
    events = [{"event": "action", "name": "action_order_request"},
              {"event": "bot", "text": "Shall I?", "data": {"buttons": [{"title": "Yes", "payload": "/affirm"},
                                                                        {"title": "No", "payload": "/deny"}]}},
              {"event": "slot", "name": "proposal", "value": sealed}, user_event("deny", "no"),
              {"event": "action", "name": "action_answer_no"}, {"event": "slot", "name": "proposal", "value": None}]
    assert [(p.kind, p.amount) for p in declined_offers(events, CONVERSATION)] == [("refund", None)]
    assert declined_offers(events, "another-conversation") == [], "only this conversation's own offers"
    forged = dict(events[2], value=sealed[:-4] + "AAAA")
    assert declined_offers(events[:2] + [forged] + events[3:], CONVERSATION) == []


def test_a_replacement_declined_in_the_turn_that_hands_off_is_on_the_ticket():
    chat = Conversation(PRIYA, "delivery_problem", "my rug is late")
    offer = chat.run(ActionOrderRequest())
    assert "replacement" in offer[0]["text"]
    chat.customer("deny", "no")
    tracker = make_tracker(list(chat.events), slots=dict(chat.slots))
    messages, returned = run_action(ActionAnswerNo(), tracker)
    assert "I'm bringing in" in messages[0]["text"] and handed_over(returned)
    assert SlotSet("proposal", None) in returned
    ticket = _ticket()
    assert "Priya declined a free replacement." in ticket.summary, ticket.summary
    assert "refund needs a person's approval: the amount is over the limit." in ticket.summary
    assert json.loads(ticket.decisions)[-1]["why"], "each decision carries its rule in words"
