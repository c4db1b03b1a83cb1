"""What to say when the bot did not understand: rephrase with suggestions, then offer a person."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, List, Sequence, Tuple

FALLBACK_INTENT = "nlu_fallback"

SUGGESTION_TITLES = {
    "order_status": "Where is my order?",
    "delivery_problem": "My delivery is late or missing",
    "return_item": "Return an item",
    "request_refund": "Get a refund",
    "cancel_order": "Cancel an order",
    "change_address": "Change the delivery address",
    "dispute_charge": "Query a charge or fee",
    "payment_issue": "A payment problem",
    "human_handoff": "Talk to a person",
}
DEFAULT_SUGGESTIONS = ("order_status", "return_item", "request_refund")
OFFER_HUMAN_AFTER = 2

Button = Tuple[str, str]


@dataclass(frozen=True)
class FallbackReply:
    text: str
    buttons: List[Button] = field(default_factory=list)


def consecutive_misses(user_intents: Sequence[str]) -> int:
    """How many of the latest user messages in a row the bot did not understand."""
    count = 0
    for intent in reversed(user_intents):
        if intent != FALLBACK_INTENT:
            break
        count += 1
    return count


def suggestions(ranking: Iterable[Tuple[str, float]], limit: int = 3) -> List[Button]:
    """Buttons for the likeliest things the customer meant, padded with common requests."""
    chosen: List[str] = []
    for intent, _confidence in sorted(ranking, key=lambda pair: -pair[1]):
        if intent in SUGGESTION_TITLES and intent != "human_handoff" and intent not in chosen:
            chosen.append(intent)
    for intent in DEFAULT_SUGGESTIONS:
        if intent not in chosen:
            chosen.append(intent)
    return [(SUGGESTION_TITLES[intent], f"/{intent}") for intent in chosen[:limit]]


def fallback_reply(misses: int, ranking: Iterable[Tuple[str, float]]) -> FallbackReply:
    """First miss: ask to rephrase with suggestions. From the second in a row: offer a person."""
    if misses >= OFFER_HUMAN_AFTER:
        return FallbackReply(
            "I'm sorry, I'm still not understanding you, and I don't want to keep you going "
            "in circles. Would you like to talk to a person from our support team?",
            [("Yes, a person please", "/human_handoff"), ("No, I'll try again", "/deny")],
        )
    buttons = suggestions(ranking) + [(SUGGESTION_TITLES["human_handoff"], "/human_handoff")]
    return FallbackReply(
        "Sorry, I didn't quite get that. Could you say it another way? "
        "Or pick one of these if it's close:",
        buttons,
    )
