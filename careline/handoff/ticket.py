"""Building a handoff ticket: transcript, summary, priority, redaction (the wait: waiting.py).

Pure functions over plain data (Rasa event dictionaries and facts from the store), so the
ticket a person receives is the same whether the bot, a test or a replay built it. Card
numbers (Luhn-valid), email addresses and phone numbers are redacted (`careline.shared.redact`)
in everything that leaves the conversation.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, List, Mapping, Optional, Sequence

from careline.shared import redact, render, said_by_customer, whole_numbers


@dataclass(frozen=True)
class HandoffLimits:
    """How many new tickets one client may open in a window (policy.yml `handoff:`)."""

    max_tickets_per_client: int = 5
    window_minutes: int = 60

    @staticmethod
    def from_mapping(data: Optional[Mapping[str, Any]]) -> HandoffLimits:
        return HandoffLimits(**whole_numbers(data, HandoffLimits, "handoff"))

REQUEST_LABELS = {
    "order_status": "to know where their order is",
    "cancel_order": "to cancel an order",
    "return_item": "to return an item",
    "request_refund": "a refund",
    "dispute_charge": "to query a charge or fee",
    "change_address": "to change a delivery address",
    "payment_issue": "help with a payment",
    "delivery_problem": "help with a late or missing delivery",
    "complain": "to make a complaint",
    "faq": "an answer to a general question",
}
REASON_LABELS = {
    "customer_request": "the customer asked for a person",
    "frustration": "the customer was getting frustrated",
    "policy": "the request needs a person's approval",
    "identity_locked": "the identity check failed three times",
    "not_understood": "the bot did not understand the customer",
    "follow_up": "the customer said an earlier case did not work out when the bot followed up",
}
REASON_BASE_PRIORITY = {"frustration": 60, "identity_locked": 55, "policy": 50, "customer_request": 40,
                        "not_understood": 35, "follow_up": 55}


@dataclass(frozen=True)
class TranscriptLine:
    role: str
    text: str
    at: str
    intent: Optional[str] = None
    frustration: Optional[float] = None


def transcript(events: Iterable[Mapping[str, Any]]) -> List[TranscriptLine]:
    """Customer and bot messages in order, redacted, with intent and frustration per customer line."""
    lines: List[TranscriptLine] = []
    for event in events:
        kind = event.get("event")
        if kind not in ("user", "bot") or not event.get("text") or (kind == "user" and not said_by_customer(event)):
            continue
        at = datetime.fromtimestamp(float(event.get("timestamp") or 0)).isoformat(timespec="seconds")
        if kind == "bot":
            lines.append(TranscriptLine("bot", redact(str(event["text"])), at))
            continue
        parse = event.get("parse_data") or {}
        score = (parse.get("frustration") or {}).get("score")
        lines.append(TranscriptLine("customer", redact(str(event["text"])), at,
                                    (parse.get("intent") or {}).get("name"),
                                    float(score) if score is not None else None))
    return lines


def intent_history(lines: Sequence[TranscriptLine]) -> List[str]:
    return [line.intent for line in lines if line.role == "customer" and line.intent]


def main_request(intents: Sequence[str]) -> Optional[str]:
    """What the customer came for: their latest request that is more than small talk."""
    for intent in reversed(intents):
        if intent in REQUEST_LABELS:
            return intent
    return None


@dataclass(frozen=True)
class TicketFacts:
    """What the store knows, when the customer was verified."""

    customer_name: Optional[str] = None
    customer_tier: Optional[str] = None
    order_number: Optional[str] = None
    order_total: float = 0.0
    decisions: Sequence[Mapping[str, Any]] = ()
    case: str = ""  # the earlier case a follow-up found not sorted out (careline/followup)


@dataclass(frozen=True)
class TicketDraft:
    conversation_id: str
    channel: str
    reason: str
    priority: int
    summary: str
    transcript: List[TranscriptLine]
    intents: List[str]
    frustration: List[float]
    facts: TicketFacts = field(default_factory=TicketFacts)


def priority(reason: str, frustration_score: float, facts: TicketFacts) -> int:
    """0-100: why it escalated, how frustrated the customer is, what is at stake, who they are."""
    value = REASON_BASE_PRIORITY.get(reason, 40) + round(30 * max(0.0, min(1.0, frustration_score)))
    value += 20 if facts.order_total >= 500 else 10 if facts.order_total >= 200 else 0
    value += {"premium": 10, "plus": 5}.get(facts.customer_tier or "", 0)
    return max(0, min(100, value))


def summarize(reason: str, intents: Sequence[str], facts: TicketFacts, frustration: Sequence[float]) -> str:
    """Three short sentences: what the customer wants, what was tried, why it escalated."""
    who = facts.customer_name.split()[0] if facts.customer_name else "The customer (not verified)"
    wants = REQUEST_LABELS.get(main_request(intents) or "", "help")
    if facts.case:  # the follow-up's "no": what they want is that case put right, not what they asked first
        wants = "more help with a case that did not work out"
    order = f" with order {facts.order_number}" if facts.order_number else ""
    tried = [f"{d.get('kind')} {d.get('outcome')} ({d.get('rule')})" for d in facts.decisions]
    tried_text = "; ".join(tried) if tried else "no policy decision was made"
    peak = max(frustration) if frustration else 0.0
    mood = f" Frustration peaked at {peak:.2f}." if frustration else ""
    earlier = f" Follow-up on {facts.case}." if facts.case else ""
    return (f"{who} wants {wants}{order}. Tried: {tried_text}. "
            f"Escalated because {REASON_LABELS.get(reason, reason)}.{earlier}{mood}")


def build_ticket(conversation_id: str, channel: str, reason: str, events: Iterable[Mapping[str, Any]],
                 facts: TicketFacts = TicketFacts()) -> TicketDraft:
    lines = transcript(events)
    intents = intent_history(lines)
    trajectory = [line.frustration for line in lines if line.role == "customer" and line.frustration is not None]
    latest = trajectory[-1] if trajectory else 0.0
    return TicketDraft(
        conversation_id=conversation_id, channel=channel, reason=reason,
        priority=priority(reason, latest, facts), summary=summarize(reason, intents, facts, trajectory),
        transcript=lines, intents=intents, frustration=trajectory, facts=facts,
    )


def handoff_reason(latest_intent: Optional[str], after_policy_offer: bool, locked: bool,
                   fallback_misses: int, frustration_level: str = "low") -> str:
    """Why the conversation goes to a person, for the ticket and its priority."""
    if locked:
        return "identity_locked"
    if frustration_level == "high":
        return "frustration"
    if after_policy_offer:
        return "policy"
    if fallback_misses >= 2:
        return "not_understood"
    return "customer_request" if latest_intent in ("human_handoff", "affirm") else "frustration"


def handback_text(first_name: Optional[str], closed_by: Optional[str] = None) -> str:
    """What the bot says when a person hands the conversation back, or closed it (`closed_by`: who)."""
    if closed_by:
        return render("utter_handback_closed", agent=closed_by)
    return render("utter_handback_named", first_name=first_name) if first_name else render("utter_handback")
