"""The refund, goodwill, fee-waiver, return, cancellation and reshipment policy.

Rules are data (`policy.yml`, loaded by `load_policy`) plus one pure function, `decide`,
that the bot and the agents share: an agent's or supervisor's authority is only a higher
set of limits. `decide` never touches a database; callers hand it facts they verified.

Safety properties, checked by property tests:
- nothing is paid on an unverified order or on someone else's order or charge;
- an amount never exceeds what was paid minus what was refunded already;
- the amount comes from our records, never from what a customer typed, except that a
  customer may ask for *less*.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from careline.money.customer_input import normalize_address
from careline.shared import PolicyFileError, load_settings, read_policy, render

APPROVE = "approve"
PARTIAL = "partial"
ESCALATE = "escalate"
DENY = "deny"

KINDS = ("refund", "goodwill", "waiver", "return", "cancel", "reship", "address")
CLAIM_KINDS = ("refund", "goodwill", "waiver")
AUTHORITIES = ("bot", "agent", "supervisor")
SHIPPED = ("shipped", "out_for_delivery", "delivered", "delayed")
CENT = Decimal("0.01")
GOODWILL_CAP_MODES = ("binds", "may_override")  # authorities.<who>.goodwill_cap
TOTAL_SCOPES = ("ticket", "order")  # authorities.<who>.totals_per
GOODWILL_CAP_OVERRIDDEN = "goodwill_cap_overridden"
GOODWILL_RULES = ("goodwill_within_limit", "goodwill_outside_window", GOODWILL_CAP_OVERRIDDEN)


class PolicyError(PolicyFileError):
    """policy.yml is missing a value or has a malformed one."""


@dataclass(frozen=True)
class Limits:
    refund_limit: Decimal
    goodwill_limit: Decimal
    waiver_limit: Decimal
    frequency_rules: bool = True
    goodwill_cap: str = "binds"  # "may_override": past the per-customer cap when asked (audited)
    totals_per: Tuple[str, ...] = ()  # the limits cap the total paid on one ticket / order, not each request


@dataclass(frozen=True)
class Policy:
    return_window_days: int
    authorities: Mapping[str, Limits]
    goodwill_max_per_customer: int
    goodwill_period_days: int
    waiver_once_per_days: int
    fraud_max_claims: int
    fraud_claims_period_days: int
    fraud_max_refunded_share: Decimal
    fraud_min_spend_for_share: Decimal
    days_late_for_remedy: int
    refund_reasons: Mapping[str, bool]
    reason_requires: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CustomerFacts:
    id: int
    name: str
    tier: str = "standard"
    lifetime_paid: Decimal = Decimal("0")
    lifetime_refunded: Decimal = Decimal("0")


@dataclass(frozen=True)
class OrderFacts:
    number: str
    customer_id: int
    status: str
    paid: Decimal
    refunded: Decimal = Decimal("0")
    placed: Optional[date] = None
    promised_date: Optional[date] = None
    delivered_date: Optional[date] = None
    reshipped: bool = False  # a replacement was approved for this order before
    return_reference: Optional[str] = None  # the return already authorised for this order (RA-...)


@dataclass(frozen=True)
class ChargeFacts:
    id: int
    customer_id: int
    kind: str
    amount: Decimal
    waivable: bool
    waived: bool = False


@dataclass(frozen=True)
class PastClaim:
    """An earlier approved claim of the customer (from the audit of decisions)."""

    kind: str
    amount: Decimal
    day: date


@dataclass(frozen=True)
class Request:
    kind: str
    reason: Optional[str] = None
    amount: Optional[Decimal] = None
    charge_id: Optional[int] = None
    detail: Optional[str] = None  # e.g. the new delivery address
    override_cap: bool = False  # go past the goodwill cap; honoured only where goodwill_cap is may_override


@dataclass(frozen=True)
class Decision:
    outcome: str
    amount: Decimal
    rule: str
    explanation: str
    offer_human: bool = False
    next_step: str = ""
    facts: Dict[str, str] = field(default_factory=dict)

    @property
    def pays(self) -> bool:
        return self.outcome in (APPROVE, PARTIAL) and self.amount > 0


# --- loading -----------------------------------------------------------------------------


def _money(raw: object, where: str) -> Decimal:
    try:
        value = Decimal(str(raw))
    except (InvalidOperation, ValueError):
        raise PolicyError(f"policy.yml: {where} must be an amount like \"25.00\", got {raw!r}") from None
    if not value.is_finite() or value < 0:
        raise PolicyError(f"policy.yml: {where} must be zero or more, got {raw!r}")
    return value.quantize(CENT)


def _int(data: Mapping[str, Any], key: str, where: str) -> int:
    value = data.get(key)
    if not isinstance(value, int) or value < 0:
        raise PolicyError(f"policy.yml: {where}.{key} must be a whole number >= 0, got {value!r}")
    return value


REQUIREMENTS = ("delivered", "overdue")


def _reason_requires(reasons: Mapping[str, Any]) -> Dict[str, str]:
    """When each refund reason can be paid: once `delivered`, or once `overdue`."""
    requires = {}
    for name, spec in reasons.items():
        value = spec.get("requires")
        if value not in REQUIREMENTS:
            raise PolicyError(f"policy.yml: refund_reasons.{name}.requires must be one of "
                              f"{', '.join(REQUIREMENTS)}, got {value!r}")
        requires[name] = value
    return requires


def _limits(name: str, values: Mapping[str, Any]) -> Limits:
    cap = values.get("goodwill_cap", "binds")
    if cap not in GOODWILL_CAP_MODES:
        raise PolicyError(f"policy.yml: authorities.{name}.goodwill_cap must be one of "
                          f"{', '.join(GOODWILL_CAP_MODES)}, got {cap!r}")
    scopes = values.get("totals_per") or []
    if not isinstance(scopes, list) or any(scope not in TOTAL_SCOPES for scope in scopes):
        raise PolicyError(f"policy.yml: authorities.{name}.totals_per must be a list of "
                          f"{', '.join(TOTAL_SCOPES)}, got {scopes!r}")
    return Limits(**{key: _money(values[key], f"authorities.{name}.{key}")
                     for key in ("refund_limit", "goodwill_limit", "waiver_limit")},
                  frequency_rules=bool(values.get("frequency_rules", True)), goodwill_cap=cap,
                  totals_per=tuple(scopes))


def parse_policy(data: Mapping[str, Any]) -> Policy:
    """Build a Policy from the parsed YAML, with a clear error for anything missing."""
    if not isinstance(data, Mapping):
        raise PolicyError("policy.yml: the top level must be a mapping")
    try:
        authorities = {name: _limits(name, values) for name, values in data["authorities"].items()}
        missing = [name for name in AUTHORITIES if name not in authorities]
        if missing:
            raise PolicyError(f"policy.yml: authorities is missing {', '.join(missing)}")
        return Policy(
            return_window_days=_int(data, "return_window_days", "top level"),
            authorities=authorities,
            goodwill_max_per_customer=_int(data["goodwill"], "max_per_customer", "goodwill"),
            goodwill_period_days=_int(data["goodwill"], "period_days", "goodwill"),
            waiver_once_per_days=_int(data["waiver"], "once_per_days", "waiver"),
            fraud_max_claims=_int(data["fraud"], "max_claims", "fraud"),
            fraud_claims_period_days=_int(data["fraud"], "claims_period_days", "fraud"),
            fraud_max_refunded_share=Decimal(str(data["fraud"]["max_refunded_share"])),
            fraud_min_spend_for_share=_money(data["fraud"]["min_spend_for_share"], "fraud.min_spend_for_share"),
            days_late_for_remedy=_int(data["late_delivery"], "days_late_for_remedy", "late_delivery"),
            refund_reasons={name: bool(spec.get("within_window")) for name, spec in data["refund_reasons"].items()},
            reason_requires=_reason_requires(data["refund_reasons"]),
        )
    except KeyError as error:
        raise PolicyError(f"policy.yml: missing key {error.args[0]!r}") from None
    except (TypeError, AttributeError) as error:
        raise PolicyError(f"policy.yml: malformed section ({error})") from None


def load_policy(path: Optional[Path] = None) -> Policy:
    """The policy in `path` (default: the settings' policy.yml), read through the one reader of the file."""
    return parse_policy(read_policy(path or load_settings().policy_path))


# --- deciding ----------------------------------------------------------------------------


def _fmt(amount: Decimal) -> str:
    return f"${amount.quantize(CENT)}"


def _deny(rule: str, explanation: str, **facts: str) -> Decision:
    return Decision(DENY, Decimal("0.00"), rule, f"{explanation} {render('utter_policy_offer_person')}",
                    offer_human=True, facts=dict(facts))


#: What the customer hears next after an approved payment, per step (policy.next_step).
NEXT_STEPS = {"refund": "utter_next_step_refund", "waiver": "utter_next_step_waiver",
              "goodwill": "utter_next_step_goodwill"}


def next_step(step: str) -> str:
    """What happens next after an approved `step` ("refund", "waiver" or "goodwill"), for the customer."""
    return render(NEXT_STEPS[step])


def _escalate(rule: str, amount: Decimal, explanation: str, **facts: str) -> Decision:
    return Decision(ESCALATE, amount.quantize(CENT), rule, explanation, offer_human=True, facts=dict(facts))


def _recent(history: Sequence[PastClaim], kinds: Sequence[str], days: int, today: date) -> List[PastClaim]:
    since = today - timedelta(days=days)
    return [claim for claim in history if claim.kind in kinds and claim.day > since]


def _fraud_signal(policy: Policy, limits: Limits, customer: CustomerFacts, history: Sequence[PastClaim],
                  amount: Decimal, today: date) -> Optional[Decision]:
    if not limits.frequency_rules:
        return None
    claims = _recent(history, CLAIM_KINDS, policy.fraud_claims_period_days, today)
    if len(claims) >= policy.fraud_max_claims:
        return _escalate("repeated_claims", amount, render("utter_policy_repeated_claims"))
    spend = customer.lifetime_paid
    if customer.lifetime_refunded > 0 and spend >= policy.fraud_min_spend_for_share:
        share = (customer.lifetime_refunded + amount) / spend
        if share > policy.fraud_max_refunded_share:
            return _escalate("high_refund_share", amount, render("utter_policy_high_refund_share"))
    return None


def decide(
    request: Request,
    customer: Optional[CustomerFacts],
    order: Optional[OrderFacts],
    history: Sequence[PastClaim],
    policy: Policy,
    today: date,
    authority: str = "bot",
    verified: bool = False,
    charge: Optional[ChargeFacts] = None,
) -> Decision:
    """Decide a customer's request. Pure: same facts, same decision.

    Args:
        request: what is asked; `amount` may only lower what is paid, never raise it.
        customer: the verified customer, or None.
        order: the order from our records (None for an account-level fee).
        history: the customer's earlier approved claims.
        policy: limits and rules from policy.yml.
        today: the day of the decision.
        authority: "bot", "agent" or "supervisor"; only the limits differ.
        verified: True only once order number and email matched (or an agent checked).
        charge: the charge a waiver is asked for, from our records.
    """
    if authority not in policy.authorities:
        raise ValueError(f"unknown authority {authority!r}")
    if request.kind not in KINDS:
        raise ValueError(f"unknown request kind {request.kind!r}")
    limits = policy.authorities[authority]
    if not verified or customer is None:
        return _deny("not_verified", render("utter_policy_not_verified"))
    if request.kind == "waiver":
        return _decide_waiver(request, customer, history, policy, today, limits, charge)
    if order is None or order.customer_id != customer.id:
        return _deny("not_verified", render("utter_policy_not_verified"))
    if request.amount is not None and (not request.amount.is_finite() or request.amount <= 0):
        return _deny("invalid_amount", render("utter_policy_invalid_amount"))
    if request.kind == "cancel":
        return _decide_cancel(order, policy)
    if request.kind == "address":
        return _decide_address(order, request.detail)
    if request.kind == "return":
        return _decide_return(order, policy, today)
    if request.kind in ("reship", "refund") and order.return_reference and limits.frequency_rules:
        # a return is open: its refund comes when the parcel arrives; another remedy is a person's call
        return _escalate(RETURN_OPEN, _remaining(order), render("utter_policy_return_open", number=order.number,
                                                                reference=order.return_reference),
                         reference=order.return_reference)
    if request.kind == "reship":
        return _decide_reship(order, policy, today)
    if request.kind == "goodwill":
        return _decide_goodwill(request, customer, order, history, policy, today, limits)
    return _decide_refund(request, customer, order, history, policy, today, limits)


def _remaining(order: OrderFacts) -> Decimal:
    return max(Decimal("0"), order.paid - order.refunded).quantize(CENT)


@dataclass(frozen=True)
class Asked:
    """The amount to consider for a request and whether the customer's ask was cut down to it."""

    amount: Decimal
    capped: bool


def _asked(request: Request, cap: Decimal) -> Asked:
    """The amount to consider (never above `cap`) and whether the ask was cut down."""
    if request.amount is None:
        return Asked(cap, capped=False)
    if not request.amount.is_finite() or request.amount >= cap + CENT:  # 1e26 has no cents to round to
        return Asked(cap, capped=True)
    asked = request.amount.quantize(CENT)
    return Asked(cap, capped=True) if asked > cap else Asked(asked, capped=False)


def _paid_decision(amount: Decimal, capped: bool, rule: str, explanation: str, next_step: str) -> Decision:
    outcome = PARTIAL if capped else APPROVE
    return Decision(outcome, amount.quantize(CENT), rule, explanation, next_step=next_step)


def _decide_refund(request: Request, customer: CustomerFacts, order: OrderFacts,
                   history: Sequence[PastClaim], policy: Policy, today: date, limits: Limits) -> Decision:
    reason = request.reason or "other"
    remaining = _remaining(order)
    if remaining <= 0:
        return _deny("nothing_left_to_refund", render("utter_policy_nothing_left_to_refund", number=order.number))
    if order.status == "processing":
        return _deny("not_shipped_yet", render("utter_policy_refund_not_shipped", number=order.number))
    if order.status == "cancelled":
        return _deny("order_cancelled", render("utter_policy_order_cancelled", number=order.number))
    if limits.frequency_rules:  # the bot's bounds; the person it escalates to decides
        bound = _bot_refund_bounds(order, reason, remaining, policy, today)
        if bound:
            return bound
    not_due = _not_due_yet(order, policy.reason_requires.get(reason, "delivered"), reason, policy, today)
    if not_due:
        return not_due
    asked = _asked(request, remaining)
    amount, capped = asked.amount, asked.capped
    signal = _fraud_signal(policy, limits, customer, history, amount, today)
    if signal:
        return signal
    needs_window = policy.refund_reasons.get(reason, True)
    if needs_window:
        if order.delivered_date is None:
            return _deny("not_delivered_yet", render("utter_policy_not_delivered", number=order.number))
        age = (today - order.delivered_date).days
        if age > policy.return_window_days:
            return _goodwill_or_deny(request, order, history, policy, today, limits, amount, age)
    if amount > limits.refund_limit:
        return _escalate("above_limit", amount, render("utter_policy_refund_above_limit", amount=_fmt(amount)),
                         limit=_fmt(limits.refund_limit))
    approved = render("utter_policy_refund_approved_all", amount=_fmt(amount), number=order.number) if capped \
        else render("utter_policy_refund_approved", amount=_fmt(amount), number=order.number)
    return _paid_decision(amount, capped, "refund_within_limit", approved, next_step("refund"))


def _reported_too_late(order: OrderFacts, policy: Policy, today: date) -> Optional[Decision]:
    """A delivered order reported missing only within the return window after its delivery."""
    if order.delivered_date is None or (today - order.delivered_date).days <= policy.return_window_days:
        return None
    return _deny("reported_too_late", render("utter_policy_reported_too_late", number=order.number,
                                             delivered=f"{order.delivered_date:%d %b}",
                                             days=policy.return_window_days),
                 age=str((today - order.delivered_date).days), window=str(policy.return_window_days))


def _bot_refund_bounds(order: OrderFacts, reason: str, remaining: Decimal, policy: Policy,
                       today: date) -> Optional[Decision]:
    """Cases the bot never pays on its own: goods already back with us, a second remedy, a late report."""
    if order.status == "returned":
        return _escalate("returned_order", remaining, render("utter_policy_returned_order", number=order.number))
    if order.reshipped and reason in ("not_received", "late"):
        return _escalate("already_reshipped", remaining,
                         render("utter_policy_already_reshipped", number=order.number))
    if reason == "not_received" and order.status == "delivered":
        return _reported_too_late(order, policy, today)
    return None


def remedy_due_date(order: OrderFacts, policy: Policy) -> Optional[date]:
    """The first day a late or missing order can be refunded: promised date + days_late_for_remedy."""
    if order.promised_date is None:
        return None
    return order.promised_date + timedelta(days=policy.days_late_for_remedy)


def _not_due_yet(order: OrderFacts, requires: str, reason: str, policy: Policy, today: date) -> Optional[Decision]:
    """A denial when the reason cannot be paid yet (never a payout before it is due), else None."""
    delivered_on = order.delivered_date if order.status in ("delivered", "returned") else None
    if requires == "delivered":
        if delivered_on is not None:
            return None
        due_by = f" {render('utter_policy_due_by', day=f'{order.promised_date:%a %d %b}')}" \
            if order.promised_date else ""
        return Decision(DENY, Decimal("0.00"), "not_delivered_yet",
                        render("utter_policy_not_delivered_tell_me", number=order.number, due=due_by),
                        offer_human=True, facts={"due": order.promised_date.isoformat()} if order.promised_date
                        else {})
    promised, due = order.promised_date, remedy_due_date(order, policy)
    if promised is None or due is None:  # the one is None when the other is
        return _escalate("no_promised_date", Decimal("0.00"),
                         render("utter_policy_no_promised_date", number=order.number))
    if delivered_on is not None and reason == "late":
        if delivered_on >= due:
            return None
        return _deny("arrived_on_time", render("utter_policy_arrived_on_time", number=order.number,
                                               delivered=f"{delivered_on:%a %d %b}", promised=f"{promised:%a %d %b}"))
    if today >= due:
        return None
    return Decision(DENY, Decimal("0.00"), "not_due_yet",
                    render("utter_policy_not_due_yet", number=order.number, promised=f"{promised:%a %d %b}",
                           due=f"{due:%a %d %b}"),
                    offer_human=True, facts={"due": promised.isoformat(), "remedy_from": due.isoformat()})


def _goodwill_used(history: Sequence[PastClaim], policy: Policy, today: date) -> int:
    return len(_recent(history, ("goodwill",), policy.goodwill_period_days, today))


def _overrides_cap(request: Request, limits: Limits) -> bool:
    """A supervisor (an authority whose goodwill_cap is may_override) asked to go past the cap."""
    return limits.goodwill_cap == "may_override" and request.override_cap


def _goodwill_or_deny(request: Request, order: OrderFacts, history: Sequence[PastClaim],
                      policy: Policy, today: date, limits: Limits, amount: Decimal, age: int) -> Decision:
    within_cap = _goodwill_used(history, policy, today) < policy.goodwill_max_per_customer
    if (within_cap or _overrides_cap(request, limits)) and limits.goodwill_limit > 0:
        gesture = min(amount, limits.goodwill_limit)
        return _paid_decision(
            gesture, gesture < amount, "goodwill_outside_window" if within_cap else GOODWILL_CAP_OVERRIDDEN,
            render("utter_policy_goodwill_outside_window", number=order.number, age=age,
                   window=policy.return_window_days, amount=_fmt(gesture)),
            next_step("goodwill"),
        )
    return _deny("outside_return_window", render("utter_policy_refund_outside_window", number=order.number, age=age,
                                                 window=policy.return_window_days),
                 age=str(age), window=str(policy.return_window_days))


def _decide_goodwill(request: Request, customer: CustomerFacts, order: OrderFacts,
                     history: Sequence[PastClaim], policy: Policy, today: date, limits: Limits) -> Decision:
    remaining = _remaining(order)
    cap = min(remaining, limits.goodwill_limit)
    if cap <= 0:
        return _deny("nothing_left_to_refund", render("utter_policy_nothing_left_to_refund", number=order.number))
    asked = _asked(request, cap)
    amount, capped = asked.amount, asked.capped
    signal = _fraud_signal(policy, limits, customer, history, amount, today)
    if signal:
        return signal
    used = _goodwill_used(history, policy, today)
    within_cap = used < policy.goodwill_max_per_customer
    if not within_cap and not _overrides_cap(request, limits):
        if limits.frequency_rules:  # the bot, speaking to the customer
            return _escalate("goodwill_cap_reached", amount, render("utter_policy_goodwill_cap_reached"),
                             used=str(used), days=str(policy.goodwill_period_days))
        # Said to the agent or supervisor deciding in the desk, never to a customer.
        return _escalate("goodwill_cap_reached", amount, f"This customer has had {used} goodwill refunds in the "
                         f"last {policy.goodwill_period_days} days, the most the policy allows; only a supervisor "
                         "can override that cap.", used=str(used), days=str(policy.goodwill_period_days))
    return _paid_decision(
        amount, capped, "goodwill_within_limit" if within_cap else GOODWILL_CAP_OVERRIDDEN,
        render("utter_policy_goodwill_approved", number=order.number, amount=_fmt(amount)),
        next_step("goodwill"),
    )


def _decide_waiver(request: Request, customer: CustomerFacts, history: Sequence[PastClaim],
                   policy: Policy, today: date, limits: Limits, charge: Optional[ChargeFacts]) -> Decision:
    wrong_charge = request.charge_id is not None and charge is not None and charge.id != request.charge_id
    if charge is None or charge.customer_id != customer.id or wrong_charge:
        return _deny("charge_not_found", render("utter_policy_charge_not_found"))
    if charge.waived:
        return _deny("already_waived", render("utter_policy_already_waived", amount=_fmt(charge.amount)))
    if not charge.waivable:
        return _escalate("not_a_fee", charge.amount, render("utter_policy_not_a_fee"))
    signal = _fraud_signal(policy, limits, customer, history, charge.amount, today)
    if signal:
        return signal
    if limits.frequency_rules and _recent(history, ("waiver",), policy.waiver_once_per_days, today):
        return _escalate("waiver_already_used", charge.amount,
                         render("utter_policy_waiver_already_used", days=policy.waiver_once_per_days))
    if charge.amount > limits.waiver_limit:
        return _escalate("above_limit", charge.amount,
                         render("utter_policy_waiver_above_limit", amount=_fmt(charge.amount)),
                         limit=_fmt(limits.waiver_limit))
    return Decision(APPROVE, charge.amount.quantize(CENT), "waiver_within_limit",
                    render("utter_policy_waiver_approved", amount=_fmt(charge.amount)), next_step=next_step("waiver"))


def _decide_cancel(order: OrderFacts, policy: Policy) -> Decision:
    if order.status == "cancelled":
        return _deny("already_cancelled", render("utter_policy_already_cancelled", number=order.number))
    if order.status != "processing":
        return _deny("already_shipped", render("utter_policy_cancel_shipped", number=order.number))
    refund = _remaining(order)
    return Decision(APPROVE, refund, "cancel_before_shipping",
                    render("utter_policy_cancel_approved", number=order.number, amount=_fmt(refund)),
                    next_step=next_step("refund"))


def _decide_address(order: OrderFacts, detail: Optional[str]) -> Decision:
    if detail is not None and normalize_address(detail) != detail:
        return _deny("invalid_address", render("utter_policy_invalid_address"))
    if order.status in ("cancelled", "returned"):
        return _deny("not_changeable", render("utter_policy_address_not_changeable", number=order.number,
                                              status=order.status))
    if order.status != "processing":
        return _deny("already_shipped", render("utter_policy_address_shipped", number=order.number))
    return Decision(APPROVE, Decimal("0.00"), "address_before_shipping",
                    render("utter_policy_address_approved", number=order.number))


#: The order has a return already: its label again, nothing new (actions show the label's link).
RETURN_EXISTS = "return_exists"
#: ... and a refund or a replacement asked for while that return is open goes to a person (bot only).
RETURN_OPEN = "return_open"


def _decide_return(order: OrderFacts, policy: Policy, today: date) -> Decision:
    if order.status in ("cancelled", "returned"):
        return _deny("not_returnable", render("utter_policy_not_returnable", number=order.number, status=order.status))
    if order.delivered_date is None:
        return _deny("not_delivered_yet", render("utter_policy_return_not_delivered", number=order.number))
    if order.return_reference:  # one return per order: the customer gets the one they have again
        return Decision(DENY, Decimal("0.00"), RETURN_EXISTS,
                        render("utter_policy_return_exists", number=order.number, reference=order.return_reference),
                        offer_human=True, facts={"reference": order.return_reference})
    age = (today - order.delivered_date).days
    if age > policy.return_window_days:
        return _deny("outside_return_window", render("utter_policy_return_outside_window", number=order.number,
                                                     age=age, window=policy.return_window_days),
                     age=str(age), window=str(policy.return_window_days))
    last_day = order.delivered_date + timedelta(days=policy.return_window_days)
    return Decision(APPROVE, Decimal("0.00"), "within_return_window",
                    render("utter_policy_return_approved", number=order.number, last_day=f"{last_day:%d %b}"),
                    facts={"last_day": last_day.isoformat()})


def _decide_reship(order: OrderFacts, policy: Policy, today: date) -> Decision:
    if order.status not in SHIPPED:
        return _deny("not_shipped_yet", render("utter_policy_reship_not_shipped", number=order.number))
    if order.reshipped or order.refunded > 0:
        remedied = render("utter_policy_already_reshipped", number=order.number) if order.reshipped \
            else render("utter_policy_already_refunded", number=order.number)
        return _escalate("already_remedied", Decimal("0.00"), remedied)
    if order.status == "delivered":
        too_late = _reported_too_late(order, policy, today)
        if too_late:
            return too_late
    due = remedy_due_date(order, policy)
    if order.status != "delivered" and (due is None or today < due):
        not_late = render("utter_policy_not_late_yet", number=order.number,
                          promised=f"{order.promised_date:%a %d %b}") if order.promised_date \
            else render("utter_policy_not_late_yet_no_date", number=order.number)
        return _deny("not_late_yet", not_late)
    return Decision(APPROVE, Decimal("0.00"), "reship_late_or_missing",
                    render("utter_policy_reship_approved", number=order.number))


# --- totals across requests --------------------------------------------------------------


@dataclass(frozen=True)
class EarlierPayout:
    """An approved payout recorded before, on the same order or ticket as the request."""

    kind: str
    rule: str
    amount: Decimal
    on_ticket: bool = False
    on_order: bool = False


def limit_class(kind: str, rule: str) -> Optional[str]:
    """The limit a payout counts against: goodwill (asked for, or given for a refund past the return
    window), refund or waiver; None for payouts no authority limit covers (a cancellation)."""
    if kind == "goodwill" or rule in GOODWILL_RULES:
        return "goodwill"
    return kind if kind in ("refund", "waiver") else None


def cap_totals(decision: Decision, kind: str, limits: Limits, earlier: Sequence[EarlierPayout]) -> Decision:
    """`decision` if what it pays, added to the earlier payouts of the same class on the same ticket
    and on the same order (`limits.totals_per`), stays within the authority's limit; else escalated.

    A limit is a total, not a per-request allowance: four $75 goodwill refunds on one ticket are $300.
    """
    cls = limit_class(kind, decision.rule)
    if not decision.pays or cls is None or not limits.totals_per:
        return decision
    limit = {"refund": limits.refund_limit, "goodwill": limits.goodwill_limit, "waiver": limits.waiver_limit}[cls]
    for scope in limits.totals_per:
        before = sum((p.amount for p in earlier
                      if (p.on_ticket if scope == "ticket" else p.on_order) and limit_class(p.kind, p.rule) == cls),
                     Decimal("0"))
        if before + decision.amount > limit:
            left = max(Decimal("0"), limit - before)
            # Only an agent's or supervisor's limits are totals: said to them in the desk, not to a customer.
            return _escalate(f"{scope}_total_limit", decision.amount,
                             f"{_fmt(before)} has already been paid as {cls} on this {scope}; {_fmt(decision.amount)} "
                             f"more would pass the {_fmt(limit)} limit ({_fmt(left)} left). Ask for less, or a "
                             "colleague with a higher limit can approve it.",
                             paid=_fmt(before), limit=_fmt(limit), left=_fmt(left))
    return decision
