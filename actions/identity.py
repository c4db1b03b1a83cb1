"""What a conversation has proven: the adapters between slots and careline.money.verification.

Slots are untrusted: an email in a slot proves nothing. A conversation has verified an order
only while its `verified` slot holds a token this server signed for this conversation and
session, order and email, still fresh (policy.yml `identity:`); every use renews it.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Optional, Tuple

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet

from actions.deps import identity_tokens, order_repository, proposal_signer
from careline.access.channel_metadata import CLIENT_KEY, MAX_CLIENT_CHARS
from careline.db.orders import OrderView
from careline.dialogue.conversation import latest_question
from careline.money.identity import verify
from careline.money.proposal import Proposal
from careline.shared.clock import utcnow


def client_of(tracker: Tracker) -> str:
    """Who is on the other end: the channel's network client, else the conversation itself."""
    metadata = tracker.latest_message.get("metadata") or {}
    client = metadata.get(CLIENT_KEY) if isinstance(metadata, dict) else None
    if isinstance(client, str) and client.strip():
        return client.strip()[:MAX_CLIENT_CHARS]
    return f"conversation:{tracker.sender_id}"[:MAX_CLIENT_CHARS]


def channel_of(tracker: Tracker) -> str:
    return tracker.get_latest_input_channel() or "unknown"


def latest_message_id(tracker: Tracker) -> str:
    """The customer's latest message: Rasa's message id, or the time it was said (a system-triggered
    message may have no id). Keys that make a turn's side effects happen once."""
    said = next((event.get("timestamp") for event in reversed(tracker.events) if event.get("event") == "user"), None)
    return str(tracker.latest_message.get("message_id") or said or "none")


def session_of(tracker: Tracker) -> str:
    """This conversation's current session: its id and when the session started.

    A proof is bound to it, so every new session (after `session_expiration_time`, or a
    `/session_start`) must prove the order again, although Rasa carries the slots over.
    """
    started = next((event.get("timestamp") for event in reversed(tracker.events)
                    if event.get("event") == "session_started"), None)
    return f"{tracker.sender_id}@{started or 0}"


def proven_order(tracker: Tracker) -> Tuple[Optional[OrderView], List[EventType]]:
    """The order this conversation has proven (and the renewed proof), or None and the proof dropped."""
    token = identity_tokens().refresh(tracker.get_slot("verified"), session_of(tracker),
                                      tracker.get_slot("order_id"), tracker.get_slot("email"))
    order = verify(order_repository(), tracker.get_slot("order_id"), tracker.get_slot("email")) if token else None
    if order is None:
        return None, [SlotSet("verified", None)] if tracker.get_slot("verified") else []
    return order, [SlotSet("verified", token)]


def seal(proposal: Proposal, tracker: Tracker) -> str:
    return proposal.seal(proposal_signer(), tracker.sender_id, utcnow())


def pending_proposal(tracker: Tracker) -> Optional[Proposal]:
    """The proposal this server made in this conversation and still awaits an answer to."""
    return Proposal.unseal(tracker.get_slot("proposal"), proposal_signer(), tracker.sender_id, utcnow())


def person_offered(tracker: Tracker, order_number: str = "") -> List[EventType]:
    """The bot has just offered a person as a yes/no question: seal it, so that a typed "yes" brings one in."""
    return [SlotSet("proposal", seal(Proposal.new("handoff", order_number), tracker))]


#: The action that resolves a customer's no (actions/orders.py ActionAnswerNo).
ANSWER_NO = "action_answer_no"


def _when(event: Dict[str, Any]) -> datetime:
    at = event.get("timestamp")
    return datetime.fromtimestamp(at, tz=timezone.utc) if isinstance(at, (int, float)) else utcnow()


def declined_offers(events: Iterable[Dict[str, Any]], conversation_id: str) -> List[Proposal]:
    """The offers the customer said no to in this conversation, oldest first.

    An offer was declined when `action_answer_no` ran while it was pending the way that action sees
    it: sealed by this server for this conversation, still fresh then, and its question the bot's
    latest yes/no question (not a follow-up's). A yes is no decline, and an offered person is no offer.
    """
    history = list(events)
    pending: Any = None
    found: List[Proposal] = []
    for index, event in enumerate(history):
        if event.get("event") == "slot" and event.get("name") == "proposal":
            pending = event.get("value")
        elif event.get("event") == "action" and event.get("name") == ANSWER_NO and pending:
            question = latest_question(history[:index])
            if question is None or not question.yes_no or question.asker == "action_follow_up":
                continue
            proposal = Proposal.unseal(pending, proposal_signer(), conversation_id, _when(event))
            if proposal is not None and proposal.kind != "handoff" and all(p.id != proposal.id for p in found):
                found.append(proposal)
    return found
