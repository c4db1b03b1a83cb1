"""Money on a ticket in the words an agent reads: the review before a refund or waiver is applied, the
outcome after it, the decision history and the desk's money events (never JSON, never a rule code alone).

The rule codes' words are careline.money's (`rule_words`); this module only puts them in sentences.
What the customer is told of an outcome is a response of domain.yml (`told_text`).
"""
from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Dict, Mapping, Optional

from careline.money import Decision, allowed, higher_authority, next_step, outcome_words, rule_words
from careline.shared import render

#: What a decision was about, as the decisions table and the desk history name it.
KIND_TITLES: Dict[str, str] = {
    "refund": "Refund", "goodwill": "Goodwill refund", "waiver": "Fee waiver", "cancel": "Cancellation",
    "return": "Return", "reship": "Replacement", "address": "Address change",
}
#: The money actions of the desk: each a TicketEvent kind holding its result as JSON.
MONEY_ACTIONS = ("refund", "goodwill", "waiver")
#: The verb of the confirm button: "Confirm refund of $28.95".
CONFIRM_VERBS = {"refund": "refund", "goodwill": "goodwill refund", "waiver": "waiver"}


def kind_title(kind: str) -> str:
    return KIND_TITLES.get(kind, kind.replace("_", " ").capitalize())


def dollars(amount: Any) -> str:
    """28.95, "28.95" or Decimal("28.95") -> "$28.95"."""
    try:
        return f"${Decimal(str(amount).lstrip('$')):.2f}"
    except ArithmeticError:
        return str(amount)


def verdict(outcome: str, why: str, rule: str, authority: str, amount: str = "", asked: str = "") -> str:
    """"allowed: within an agent's refund limit" or "Not allowed: <why>. A supervisor can approve it."."""
    if allowed(outcome):
        less = f" ({amount} of the {asked} asked)" if outcome == "partial" and asked and amount else ""
        return f"allowed{less}: {why}" if why else f"allowed{less}"
    higher = higher_authority(rule, authority)
    return f"Not allowed: {why}." + (f" {higher}" if higher else "") if why else "Not allowed."


def review(kind: str, decision: Decision, order_number: str, authority: str, asked: Optional[Decimal] = None,
           fee: str = "") -> Dict[str, Any]:
    """What the policy would decide, for the agent to confirm or cancel (nothing is applied yet).

    `text`: "Refund $28.95 on CL-100001 - allowed: within an agent's refund limit" (a waiver names its
    fee: "Fee waiver $14.99 on CL-100001: Late fee - ..."); `confirm`: the button's words when it is
    allowed ("Confirm refund of $28.95").
    """
    ok = allowed(decision.outcome)
    shown = decision.amount if decision.amount > 0 else asked
    amount = dollars(shown) if shown else ""
    headline = " ".join(part for part in (kind_title(kind), amount) if part) + f" on {order_number}"
    if fee:
        headline += f": {fee}"
    why = rule_words(decision.rule, decision.facts, authority)
    said = verdict(decision.outcome, why, decision.rule, authority, amount, dollars(asked) if asked else "")
    return {
        "kind": kind, "order_number": order_number, "outcome": decision.outcome, "allowed": ok,
        "amount": f"{decision.amount:.2f}", "rule": decision.rule, "why": why, "headline": headline,
        "verdict": said, "text": f"{headline} - {said}",
        "confirm": f"Confirm {CONFIRM_VERBS.get(kind, kind)} of {dollars(decision.amount)}" if ok else "",
    }


def outcome_text(result: Mapping[str, Any]) -> str:
    """An applied (or refused) money action in a sentence: "Done: refund of $28.95 (RF-000012)."."""
    title = kind_title(str(result.get("kind") or ""))
    if allowed(str(result.get("outcome") or "")):
        reference = f" ({result['reference']})" if result.get("reference") else ""
        return f"Done: {title.lower()} of {dollars(result.get('amount'))}{reference}."
    said = verdict(str(result.get("outcome")), str(result.get("why") or ""), str(result.get("rule")),
                   str(result.get("authority") or ""))
    return f"{title}: {said}"


def describe_event(kind: str, detail: str) -> str:
    """A desk event's detail as readable text: a money action's JSON result in words, anything else as it is.

    "refund", '{"kind": "refund", "outcome": "approve", "amount": "28.95", ...}' ->
    "Refund of $28.95 approved (RF-000012): within an agent's refund limit".
    """
    if kind not in MONEY_ACTIONS:
        return detail
    try:
        result = json.loads(detail)
    except (TypeError, ValueError):
        return detail
    if not isinstance(result, dict):
        return detail
    outcome, authority = str(result.get("outcome") or ""), str(result.get("authority") or "")
    why = str(result.get("why") or rule_words(str(result.get("rule") or ""), authority=authority))
    amount = f" of {dollars(result['amount'])}" if result.get("amount") and allowed(outcome) else ""
    reference = f" ({result['reference']})" if result.get("reference") else ""
    text = f"{kind_title(str(result.get('kind') or kind))}{amount} {outcome_words(outcome, authority)}{reference}"
    return f"{text}: {why}" if why else text


def told_text(kind: str, amount: Any, reference: Optional[str]) -> str:
    """What the customer is told of an applied money action (the bot's own words for it, domain.yml)."""
    step = kind if kind in ("refund", "goodwill", "waiver") else "refund"
    part = f" {render('utter_done_reference', reference=reference)}" if reference else ""
    if kind == "waiver":
        return render("utter_done_waiver", amount=dollars(amount), reference=part, next_step=f" {next_step(step)}")
    return render("utter_done_refund", amount=dollars(amount), reference=part, next_step=f" {next_step(step)}")
