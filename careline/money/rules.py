"""The policy's rule codes and outcomes in the words agents read (the desk, the ticket summary).

One place for them: `policy.decide` names every decision with a rule code ("above_limit",
"outside_return_window"); agents never read a code alone, they read `rule_words(rule, ...)`.
The customer's own words for a decision stay the responses of domain.yml (`Decision.explanation`).

A rule's words may use facts of the decision ({age}, {window}, {remedy_from}, {reference}) and
{whose} (whose limit: "the bot's", "an agent's"); when a fact is not known (an old decision from
the audit), the words without facts are used.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Mapping, Optional

from careline.money.policy import APPROVE, DENY, ESCALATE, PARTIAL



@dataclass(frozen=True)
class RuleWords:
    """A rule in agent language: `words` with facts, `plain` without (defaults to `words`), and
    `higher` - what an agent can do when it refuses (said only to agents, whose supervisor decides)."""

    words: str
    plain: str = ""
    higher: str = ""


#: Every rule code of careline/money/policy.py (tests/careline/money/test_rules.py checks the list is whole).
RULES: Dict[str, RuleWords] = {
    # paid or done
    "refund_within_limit": RuleWords("within {whose} refund limit", "within the refund limit"),
    "goodwill_within_limit": RuleWords("within {whose} goodwill limit and the customer's goodwill allowance",
                                       "within the goodwill limit and the customer's goodwill allowance"),
    "goodwill_outside_window": RuleWords(
        "the order is past the return window, so it is paid as goodwill (within {whose} goodwill limit)",
        "the order is past the return window, so it is paid as goodwill"),
    "goodwill_cap_overridden": RuleWords("a supervisor went past the customer's goodwill allowance (recorded)"),
    "waiver_within_limit": RuleWords("the fee can be waived and is within {whose} waiver limit",
                                     "the fee can be waived and is within the waiver limit"),
    "cancel_before_shipping": RuleWords("the order had not shipped, so it is cancelled with a full refund"),
    "address_before_shipping": RuleWords("the order had not shipped, so its address can change"),
    "within_return_window": RuleWords("the order is within the return window"),
    "reship_late_or_missing": RuleWords("the order is late or missing, so a replacement can go out"),
    # refused
    "not_verified": RuleWords("the customer's order number and email were not verified"),
    "invalid_amount": RuleWords("the amount is not a positive amount of money"),
    "nothing_left_to_refund": RuleWords("everything paid on this order has been refunded already"),
    "not_shipped_yet": RuleWords("the order has not shipped yet"),
    "order_cancelled": RuleWords("the order was cancelled and refunded already"),
    "outside_return_window": RuleWords(
        "the order was delivered {age} days ago; returns close after {window} days",
        "the order is past the return window", higher="A supervisor can approve goodwill."),
    "reported_too_late": RuleWords(
        "the order was delivered {age} days ago; a missing parcel must be reported within {window} days",
        "the order was reported missing too long after it was delivered"),
    "not_delivered_yet": RuleWords("the order has not been delivered yet"),
    "not_due_yet": RuleWords("a late order can be refunded from {remedy_from}; it is not that late yet",
                             "the order is not late enough yet for a refund"),
    "arrived_on_time": RuleWords("the order arrived on time"),
    "charge_not_found": RuleWords("that charge is not on this customer's account"),
    "already_waived": RuleWords("that fee was waived already"),
    "already_cancelled": RuleWords("the order is cancelled already"),
    "already_shipped": RuleWords("the order has shipped already"),
    "invalid_address": RuleWords("the new address could not be read as a full address"),
    "not_changeable": RuleWords("the order is cancelled or returned, so nothing about it can change"),
    "not_late_yet": RuleWords("the order is not late yet"),
    "not_returnable": RuleWords("the order is cancelled or returned already"),
    "return_exists": RuleWords("a return is open for this order already ({reference})",
                               "a return is open for this order already"),
    # a person's call
    "above_limit": RuleWords("the amount is over {whose} limit of {limit}", "the amount is over the limit",
                             higher="A supervisor can approve it."),
    "ticket_total_limit": RuleWords(
        "{paid} was paid on this ticket already; with this the total would pass {whose} limit of {limit} "
        "({left} left)", "with what was paid on this ticket already, the total would pass the limit",
        higher="Ask for less, or a supervisor can approve it."),
    "order_total_limit": RuleWords(
        "{paid} was paid on this order already; with this the total would pass {whose} limit of {limit} "
        "({left} left)", "with what was paid on this order already, the total would pass the limit",
        higher="Ask for less, or a supervisor can approve it."),
    "goodwill_cap_reached": RuleWords("the customer has had {used} goodwill refunds in the last {days} days, the "
                                      "most the policy allows",
                                      "the customer has had the most goodwill refunds the policy allows for now",
                                      higher="A supervisor can go past that allowance."),
    "already_remedied": RuleWords("the order was replaced or refunded already"),
    "already_reshipped": RuleWords("a replacement was sent for this order already"),
    "high_refund_share": RuleWords("more than half of what this customer has spent would be refunded"),
    "no_promised_date": RuleWords("the order has no promised delivery date to measure lateness by"),
    "not_a_fee": RuleWords("that charge is not a fee that can be waived"),
    "repeated_claims": RuleWords("the customer has made several claims in the past weeks"),
    "returned_order": RuleWords("the goods have come back to us already"),
    "waiver_already_used": RuleWords("the customer had a fee waived in the past year"),
    "return_open": RuleWords("a return is open for this order ({reference}); its refund comes when the parcel "
                             "arrives", "a return is open for this order; its refund comes when the parcel arrives"),
}

#: Whose limits a decision was measured against.
WHOSE = {"bot": "the bot's", "agent": "an agent's", "supervisor": "a supervisor's"}

#: An outcome in words, by who decided ("bot" escalates to a person; a person to someone higher).
OUTCOMES = {APPROVE: "approved", PARTIAL: "approved in part", DENY: "refused"}


def rule_words(rule: str, facts: Optional[Mapping[str, object]] = None, authority: str = "") -> str:
    """`rule` in agent language, with the decision's facts where known ("" for no rule).

    An unknown code (a rule added to the policy before its words) reads as words, never as a code.
    """
    if not rule:
        return ""
    known = RULES.get(rule)
    if known is None:
        return rule.replace("_", " ")
    values = {key: str(value) for key, value in (facts or {}).items()}
    if authority in WHOSE:
        values["whose"] = WHOSE[authority]
    try:
        return known.words.format(**values)
    except (KeyError, IndexError):
        return known.plain or known.words


def higher_authority(rule: str, authority: str) -> str:
    """What an agent can do about a refusal (a supervisor can approve it), else ""."""
    known = RULES.get(rule)
    return known.higher if known and authority == "agent" else ""


def outcome_words(outcome: str, authority: str = "") -> str:
    """"approve" -> "approved"; an escalation is "passed to a person" for the bot and "needs a
    supervisor" for an agent (a supervisor's is "over every limit")."""
    if outcome == ESCALATE:
        return {"bot": "passed to a person", "agent": "needs a supervisor"}.get(authority, "over the limit")
    return OUTCOMES.get(outcome, outcome.replace("_", " "))


def allowed(outcome: str) -> bool:
    """Whether an outcome pays or does what was asked (approved in full or in part)."""
    return outcome in (APPROVE, PARTIAL)
