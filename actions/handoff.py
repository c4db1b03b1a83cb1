"""Handing a conversation to a person, and taking it back: thin adapters over careline.handoff."""
from __future__ import annotations

from typing import List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, ActiveLoop, ConversationPaused, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.deps import frustration_thresholds, handoff_limits, ticket_service
from actions.identity import client_of, proven_order
from careline.dialogue.conversation import is_locked
from careline.handoff.ticket import (
    TicketFacts,
    build_ticket,
    expectation,
    handback_text,
    handoff_reason,
)
from careline.nlu.clarification import consecutive_misses
from careline.nlu.frustration_model import conversation, turns_from_events
from careline.shared import render
from careline.shared.clock import utcnow


def hand_off(dispatcher: CollectingDispatcher, tracker: Tracker, after_policy_offer: bool = False,
             preface: str = "", reason: Optional[str] = None, case: str = "") -> List[EventType]:
    """Open (once) a ticket with the whole context, tell the customer what to expect, pause the bot.

    `preface` is said first (the policy's explanation when it escalated the request). `reason` is
    the ticket's reason when the caller knows it; `case` names an earlier case the ticket is about.
    """
    service = ticket_service()
    client = client_of(tracker)
    if not service.may_open(tracker.sender_id, client, handoff_limits()):
        dispatcher.utter_message(text=render("utter_handoff_too_many"))
        return [SlotSet("proposal", None)]
    order, proof = proven_order(tracker)
    turns = turns_from_events(tracker.events)
    mood = conversation(turns, frustration_thresholds())
    reason = reason or handoff_reason(turns[-1].intent if turns else None, after_policy_offer,
                            is_locked(tracker.get_slot("failed_verifications")),
                            consecutive_misses([t.intent or "" for t in turns]), mood.level)
    facts = TicketFacts(
        customer_name=order.customer_name if order else None,
        customer_tier=order.customer_tier if order else None,
        order_number=order.number if order else None,
        order_total=float(order.total) if order else 0.0,
        decisions=service.decisions_for(tracker.sender_id),
        case=case,
    )
    draft = build_ticket(tracker.sender_id, tracker.get_latest_input_channel() or "unknown", reason,
                         tracker.events, facts)
    message_id = tracker.latest_message.get("message_id") or str(len(tracker.events))
    opened = service.open(draft, f"{tracker.sender_id}:{message_id}"[:160],
                          customer_id=order.customer_id if order else None, client=client)
    wait = expectation(opened.queue_position, utcnow())
    said = [preface] if preface else []
    said += [render("utter_handoff_opening"), wait, render("utter_handoff_alternative")]
    dispatcher.utter_message(text=" ".join(said))
    return proof + [SlotSet("proposal", None), ActiveLoop(None), SlotSet("requested_slot", None),
                    ConversationPaused()]


class ActionHandoff(Action):
    def name(self) -> str:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        return hand_off(dispatcher, tracker)


class ActionHandback(Action):
    """Run by the desk after it resumed the conversation: the bot greets the customer again."""

    def name(self) -> str:
        return "action_handback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        order, proof = proven_order(tracker)
        dispatcher.utter_message(text=handback_text(order.first_name if order else None))
        # Rasa's /execute runs only this action; log the listen so the next message follows the rules.
        return proof + [ActionExecuted("action_listen")]
