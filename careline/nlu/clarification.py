"""What to say when the bot did not understand, or understood two things equally well.

- Two requests almost tied (the best is confident enough but the second is within the ambiguity
  margin): ask which one, with a button for each and one for a person ("ask, don't guess").
- Nothing fits: ask to rephrase with suggestions; from the second miss in a row, offer a person.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, List, Optional, Sequence, Tuple

from careline.shared import render

FALLBACK_INTENT = "nlu_fallback"

# Requests a button can stand for: the response that is the button's title (its payload is `/<intent>`).
SUGGESTION_TITLES = {
    "order_status": "utter_button_order_status",
    "delivery_problem": "utter_button_delivery_problem",
    "return_item": "utter_button_return_item",
    "request_refund": "utter_button_request_refund",
    "cancel_order": "utter_button_cancel_order",
    "change_address": "utter_button_change_address",
    "dispute_charge": "utter_button_dispute_charge",
    "payment_issue": "utter_button_payment_issue",
    "human_handoff": "utter_button_human_handoff",
    "complain": "utter_button_complain",
}
# FAQ topics: the responses of a button's title and of the question its payload asks (the NLU reads
# it like typed text).
FAQ_CHOICES = {
    "faq/shipping_times": ("utter_button_faq_shipping_times", "utter_question_faq_shipping_times"),
    "faq/shipping_costs": ("utter_button_faq_shipping_costs", "utter_question_faq_shipping_costs"),
    "faq/international_shipping": ("utter_button_faq_international_shipping",
                                   "utter_question_faq_international_shipping"),
    "faq/return_policy": ("utter_button_faq_return_policy", "utter_question_faq_return_policy"),
    "faq/refund_timing": ("utter_button_faq_refund_timing", "utter_question_faq_refund_timing"),
    "faq/payment_methods": ("utter_button_faq_payment_methods", "utter_question_faq_payment_methods"),
    "faq/order_changes": ("utter_button_faq_order_changes", "utter_question_faq_order_changes"),
    "faq/opening_hours": ("utter_button_faq_opening_hours", "utter_question_faq_opening_hours"),
    "faq/contact": ("utter_button_faq_contact", "utter_question_faq_contact"),
    "faq/warranty": ("utter_button_faq_warranty", "utter_question_faq_warranty"),
    "faq/account_password": ("utter_button_faq_account_password", "utter_question_faq_account_password"),
    "faq/price_match": ("utter_button_faq_price_match", "utter_question_faq_price_match"),
    "faq/gift_cards": ("utter_button_faq_gift_cards", "utter_question_faq_gift_cards"),
    "faq/promo_codes": ("utter_button_faq_promo_codes", "utter_question_faq_promo_codes"),
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
    return [request_button(intent) for intent in chosen[:limit]]


def request_button(intent: str) -> Button:
    """The button that asks for `intent` (one of SUGGESTION_TITLES)."""
    return render(SUGGESTION_TITLES[intent]), f"/{intent}"


def faq_button(topic: str) -> Button:
    """The button of an FAQ topic (one of FAQ_CHOICES): its title and the question it sends."""
    title, question = FAQ_CHOICES[topic]
    return render(title), render(question)


def _choice(label: str) -> Optional[Button]:
    if label in FAQ_CHOICES:
        return faq_button(label)
    if label in SUGGESTION_TITLES:
        return request_button(label)
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
    choices = [choice for choice in (_choice(label) for label in labels if label) if choice is not None]
    if len(choices) != 2 or choices[0] == choices[1]:
        return None
    person = request_button("human_handoff")
    return FallbackReply(render("utter_fallback_which"), [*choices, *([person] if person not in choices else [])])


def fallback_reply(misses: int, ranking: Iterable[Tuple[str, float]]) -> FallbackReply:
    """First miss: ask to rephrase with suggestions. From the second in a row: offer a person."""
    if misses >= OFFER_HUMAN_AFTER:
        return FallbackReply(
            render("utter_fallback_offer_person"),
            [(render("utter_button_person_please"), "/human_handoff"), (render("utter_button_try_again"), "/deny")],
        )
    return FallbackReply(render("utter_fallback_rephrase"), suggestions(ranking) + [request_button("human_handoff")])
