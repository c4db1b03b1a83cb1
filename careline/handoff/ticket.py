"""Building a handoff ticket: transcript, summary, priority, redaction (the wait: waiting.py).

Pure functions over plain data (Rasa event dictionaries and facts from the store), so the
ticket a person receives is the same whether the bot, a test or a replay built it. Card
numbers (Luhn-valid), email addresses and phone numbers are redacted (`careline.shared.redact`)
in everything that leaves the conversation.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from careline.shared import redact, render, whole_numbers
from careline.shared import transcript as people_saw


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
    """One line of the ticket's saved transcript. `role`: customer, bot, agent or system; `at`: ISO
    time (UTC); `agent`: the agent's name on agent and system lines."""

    role: str
    text: str
    at: str
    intent: Optional[str] = None
    frustration: Optional[float] = None
    agent: Optional[str] = None


def _iso(at: Optional[float]) -> str:
    return datetime.fromtimestamp(at or 0, tz=timezone.utc).isoformat(timespec="seconds")


def transcript(events: Iterable[Mapping[str, Any]]) -> List[TranscriptLine]:
    """The conversation as people saw it (careline.shared.transcript: button titles, not payloads;
    who said it), redacted, with intent and frustration per customer line."""
    lines: List[TranscriptLine] = []
    for line in people_saw.lines(events):
        text = redact(str(line.get("text") or ""))
        if not text:
            continue
        lines.append(TranscriptLine(str(line["role"]), text, _iso(line.get("at")), line.get("intent"),
                                    line.get("frustration"), line.get("agent")))
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
    """What the store knows, when the customer was verified, and what the bot offered.

    `decisions`: the policy's decisions in the conversation ({kind, outcome, rule, amount,
    reference}, and `why`: the rule in agent language, careline.money.rule_words). `declined`: the
    offers the customer said no to ({kind, amount: "28.95" or None, order_number}), oldest first.
    """

    customer_name: Optional[str] = None
    customer_tier: Optional[str] = None
    order_number: Optional[str] = None
    order_total: float = 0.0
    decisions: Sequence[Mapping[str, Any]] = ()
    case: str = ""  # the earlier case a follow-up found not sorted out (careline/followup)
    declined: Sequence[Mapping[str, Any]] = ()


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


#: What was offered or decided, in the summary's words: kind -> (with an amount, without one).
OFFER_WORDS: Dict[str, Tuple[str, str]] = {
    "refund": ("a {amount} refund", "a refund"),
    "goodwill": ("a {amount} goodwill refund", "a goodwill refund"),
    "waiver": ("waiving a {amount} fee", "waiving a fee"),
    "cancel": ("cancelling the order with a {amount} refund", "cancelling the order"),
    "return": ("a return with a prepaid label", "a return with a prepaid label"),
    "reship": ("a free replacement", "a free replacement"),
    "address": ("changing the delivery address", "changing the delivery address"),
}
#: A decision's outcome after its words ("a $38.95 refund was approved").
DECIDED_WORDS = {"approve": "was approved", "partial": "was approved in part", "deny": "was refused",
                 "escalate": "needs a person's approval"}


def offer_words(kind: Any, amount: Any = None) -> str:
    """"refund", 28.95 -> "a $28.95 refund"; an unknown kind reads as words."""
    with_amount, without = OFFER_WORDS.get(str(kind), (str(kind).replace("_", " "),) * 2)
    try:
        value = float(amount) if amount not in (None, "") else 0.0
    except (TypeError, ValueError):
        value = 0.0
    return with_amount.format(amount=f"${value:.2f}") if value > 0 else without


def _decided(decision: Mapping[str, Any]) -> str:
    """"a $180.00 refund needs a person's approval (the amount is over the bot's limit)"."""
    outcome = str(decision.get("outcome") or "")
    text = f"{offer_words(decision.get('kind'), decision.get('amount'))} " \
           f"{DECIDED_WORDS.get(outcome, outcome.replace('_', ' '))}"
    if decision.get("reference"):
        text += f" ({decision['reference']})"
    return f"{text}: {decision['why']}" if decision.get("why") and outcome not in ("approve", "partial") else text


def _and(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


def summarize(reason: str, intents: Sequence[str], facts: TicketFacts, frustration: Sequence[float]) -> str:
    """A few short sentences: what the customer wants, what they declined, what was tried, why it escalated."""
    name = facts.customer_name.split()[0] if facts.customer_name else ""
    who = name or "The customer (not verified)"
    wants = REQUEST_LABELS.get(main_request(intents) or "", "help")
    if facts.case:  # the follow-up's "no": what they want is that case put right, not what they asked first
        wants = "more help with a case that did not work out"
    order = f" with order {facts.order_number}" if facts.order_number else ""
    offers = [offer_words(offer.get("kind"), offer.get("amount")) for offer in facts.declined]
    declined = f" {name or 'The customer'} declined {_and(offers)}." if offers else ""
    tried = [_decided(d) for d in facts.decisions]
    tried_text = f" Tried: {'; '.join(tried)}." if tried else "" if offers else " Tried: no policy decision was made."
    peak = max(frustration) if frustration else 0.0
    mood = f" Frustration peaked at {peak:.2f}." if frustration else ""
    earlier = f" Follow-up on {facts.case}." if facts.case else ""
    return (f"{who} wants {wants}{order}.{declined}{tried_text} "
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
