"""What a conversation has proven: the adapters between slots and careline.money.verification.

Slots are untrusted: an email in a slot proves nothing. A conversation has verified an order
only while its `verified` slot holds a token this server signed for this conversation and
session, order and email, still fresh (policy.yml `identity:`); every use renews it.
"""
from __future__ import annotations

from typing import List, Optional, Tuple

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet

from actions.deps import identity_tokens, order_repository, proposal_signer
from careline.access.channel_metadata import CLIENT_KEY, MAX_CLIENT_CHARS
from careline.db.orders import OrderView
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
