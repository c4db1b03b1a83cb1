"""What to say when the bot did not understand, or understood two things equally well.

- Two requests almost tied (the best is confident enough but the second is within the ambiguity
  margin): ask which one, with a button for each and one for a person ("ask, don't guess").
- Nothing fits: ask to rephrase with suggestions; from the second miss in a row, offer a person.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, List, Optional, Sequence, Tuple

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
    "complain": "Make a complaint",
}
# FAQ topics: a button title and the question its payload asks (the NLU reads it like typed text).
FAQ_CHOICES = {
    "faq/shipping_times": ("Delivery times", "How long does delivery take?"),
    "faq/shipping_costs": ("Delivery costs", "How much does delivery cost?"),
    "faq/international_shipping": ("Shipping abroad", "Do you ship internationally?"),
    "faq/return_policy": ("Our return policy", "What is your return policy?"),
    "faq/refund_timing": ("Refund timing", "How long does a refund take?"),
    "faq/payment_methods": ("Ways to pay", "Which payment methods do you accept?"),
    "faq/order_changes": ("Changing an order", "Can I change my order?"),
    "faq/opening_hours": ("Support hours", "When is your support team available?"),
    "faq/contact": ("How to contact us", "How can I contact you?"),
    "faq/warranty": ("Warranty", "What does the warranty cover?"),
    "faq/account_password": ("Account and password", "I forgot my password"),
    "faq/price_match": ("Price match", "Do you price match?"),
    "faq/gift_cards": ("Gift cards", "How do gift cards work?"),
    "faq/promo_codes": ("Promo codes", "How do I use a promo code?"),
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


def _choice(label: str) -> Optional[Button]:
    if label in FAQ_CHOICES:
        return FAQ_CHOICES[label]
    if label in SUGGESTION_TITLES:
        return SUGGESTION_TITLES[label], f"/{label}"
    return None


def clarification(ranking: Iterable[Tuple[str, float]], faq_topic: Optional[str], threshold: float,
                  ambiguity: float) -> Optional[FallbackReply]:
    """"Did you mean A or B?" when the two best requests are confident and within `ambiguity` of
    each other (the FallbackClassifier's `threshold` and `ambiguity_threshold`); None otherwise, and
    when either is not a request one button could stand for (a greeting, a yes, out of scope)."""
    ranked = sorted(((name, c) for name, c in ranking if name != FALLBACK_INTENT), key=lambda pair: -pair[1])
    if len(ranked) < 2:
        return None
    (first, best), (second, runner_up) = ranked[0], ranked[1]
    if best < threshold or best - runner_up >= ambiguity:
        return None
    labels = [faq_topic if name == "faq" else name for name in (first, second)]
    choices = [_choice(label) for label in labels if label]
    if len(choices) != 2 or None in choices or choices[0] == choices[1]:
        return None
    person = (SUGGESTION_TITLES["human_handoff"], "/human_handoff")
    return FallbackReply("Just so I help with the right thing: which of these do you mean?",
                         [*choices, *([person] if person not in choices else [])])


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
