"""Handing a conversation to a person, waiting for them, and taking it back: thin adapters over
careline.handoff.

While a person has the conversation the `handoff_ticket` slot names the ticket, and
components/waiting_policy.py answers every customer message with `action_waiting`: a short, honest
acknowledgement (place and wait, or when the team is back), never silence and never the bot's own
flows. The desk clears the slot when a person resolves or closes the ticket and runs
`action_handback`, which tells the customer and gives the conversation back to the bot.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any, Dict, List, Optional, Sequence

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.deps import frustration_thresholds, handoff_limits, settings, ticket_service, wait_settings
from actions.history import whole_conversation
from actions.identity import client_of, declined_offers, latest_message_id, proven_order
from careline.dialogue.conversation import MAX_SAME_PROMPT, is_locked, times_in_a_row
from careline.handoff.ticket import TicketFacts, build_ticket, handback_text, handoff_reason
from careline.handoff.tickets import TicketState
from careline.handoff.customer_view import estimate_for
from careline.handoff.waiting import WaitEstimate, alternative, expectation, waiting_reply
from careline.money import rule_words
from careline.money.identity import find_email
from careline.money.proposal import Proposal
from careline.nlu.clarification import consecutive_misses
from careline.nlu.frustration_model import conversation, turns_from_events
from careline.shared import render
from careline.shared.clock import utcnow

TICKET_SLOT = "handoff_ticket"
#: An agent who answered this recently is talking with the customer: the bot does not butt in.
AGENT_TALKING = timedelta(minutes=2)


def _estimate(position: int) -> WaitEstimate:
    """The wait for `position`, from how long people took with the tickets they handled lately."""
    return estimate_for(ticket_service(), position, settings().shop(), wait_settings())


def hand_off(dispatcher: CollectingDispatcher, tracker: Tracker, after_policy_offer: bool = False,
             preface: str = "", reason: Optional[str] = None, case: str = "",
             declined: Sequence[Proposal] = ()) -> List[EventType]:
    """Open (once) a ticket with the whole context, tell the customer what to expect, wait for a person.

    `preface` is said first (the policy's explanation when it escalated the request). `reason` is
    the ticket's reason when the caller knows it; `case` names an earlier case the ticket is about;
    `declined` an offer declined in this very turn (earlier ones are found in the events).
    """
    service = ticket_service()
    client = client_of(tracker)
    if not service.may_open(tracker.sender_id, client, handoff_limits()):
        dispatcher.utter_message(text=render("utter_handoff_too_many"))
        return [SlotSet("proposal", None)]
    order, proof = proven_order(tracker)
    history = whole_conversation(tracker)
    turns = turns_from_events(history)
    mood = conversation(turns, frustration_thresholds())
    reason = reason or handoff_reason(turns[-1].intent if turns else None, after_policy_offer,
                            is_locked(tracker.get_slot("failed_verifications")),
                            consecutive_misses([t.intent or "" for t in turns]), mood.level)
    facts = TicketFacts(
        customer_name=order.customer_name if order else None,
        customer_tier=order.customer_tier if order else None,
        order_number=order.number if order else None,
        order_total=float(order.total) if order else 0.0,
        decisions=[{**d, "why": rule_words(d.get("rule") or "")} for d in service.decisions_for(tracker.sender_id)],
        case=case,
        declined=_declined(tracker, declined, history),
    )
    draft = build_ticket(tracker.sender_id, tracker.get_latest_input_channel() or "unknown", reason,
                         history, facts)
    opened = service.open(draft, f"{tracker.sender_id}:{latest_message_id(tracker)}"[:160],
                          customer_id=order.customer_id if order else None, client=client)
    shop = settings().shop()
    wait = expectation(opened.queue_position, utcnow(), shop, _estimate(opened.queue_position))
    said = [preface] if preface else []
    said += [render("utter_handoff_opening"), wait, alternative(shop)]
    dispatcher.utter_message(text=" ".join(said))
    return proof + [SlotSet("proposal", None), ActiveLoop(None), SlotSet("requested_slot", None),
                    SlotSet(TICKET_SLOT, str(opened.id))]


def _declined(tracker: Tracker, now: Sequence[Proposal], history: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The offers the customer said no to, for the ticket's summary: what, how much, on which order."""
    offers = declined_offers(history, tracker.sender_id)
    offers += [p for p in now if all(p.id != o.id for o in offers)]
    return [{"kind": p.kind, "amount": p.amount, "order_number": p.order_number} for p in offers]


def _first_name(name: Optional[str]) -> Optional[str]:
    """How a person from the team is named to customers: by first name."""
    return name.split()[0] if name and name.split() else None


def _handed_back(dispatcher: CollectingDispatcher, tracker: Tracker, state: Optional[TicketState]) -> List[EventType]:
    """Tell the customer the person has finished and the bot is back (the ticket is no longer open)."""
    order, proof = proven_order(tracker)
    closed_by = _first_name(state.agent_name) if state and state.status == "closed" else None
    dispatcher.utter_message(text=handback_text(order.first_name if order else None, closed_by))
    return proof + [SlotSet(TICKET_SLOT, None)]


class ActionHandoff(Action):
    def name(self) -> str:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        return hand_off(dispatcher, tracker)


class ActionWaiting(Action):
    """A message while the conversation waits for (or is with) a person: acknowledge it honestly.

    Queued: the place in the queue and the wait. Out of hours: when the team is back, and that a
    reply also goes by email if the customer leaves an address (one written here is kept on the
    ticket, up to a few different ones; beyond them the bot names the one it keeps). With a person
    who answered in the last two minutes: nothing (they are talking). If the ticket was finished
    meanwhile (the desk could not reach the bot), the bot hands itself back.
    """

    def name(self) -> str:
        return "action_waiting"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        service = ticket_service()
        state = service.state(tracker.sender_id)
        if state is None or not state.active:
            return _handed_back(dispatcher, tracker, state)
        now = utcnow()
        if state.agent_name and state.last_agent_reply and now - state.last_agent_reply < AGENT_TALKING:
            return []
        email = find_email(tracker.latest_message.get("text"))
        contact = state.contact_email
        if email and email != contact:  # a ticket keeps a few addresses: beyond them, the one it has is named
            contact = service.leave_contact(state.id, email)
        shop = settings().shop()
        estimate = _estimate(state.queue_position)
        agent = _first_name(state.agent_name)
        text = waiting_reply(state.queue_position, now, shop, estimate, agent, contact, brief=False,
                             email_just_left=bool(email))
        if times_in_a_row(tracker.events, text) >= MAX_SAME_PROMPT - 1:  # the full words were just said
            text = waiting_reply(state.queue_position, now, shop, estimate, agent, contact, brief=True)
        dispatcher.utter_message(text=text)
        return []


class ActionHandback(Action):
    """Run by the desk after a person resolved or closed the ticket: the customer is told, the bot is back."""

    def name(self) -> str:
        return "action_handback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        # Rasa's /execute runs only this action; log the listen so the next message follows the rules.
        return _handed_back(dispatcher, tracker, ticket_service().state(tracker.sender_id)) + \
            [ActionExecuted("action_listen")]
