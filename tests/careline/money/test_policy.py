"""Table-driven tests of the policy, plus property tests of its safety guarantees."""
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from careline.money.policy import (
    APPROVE,
    DENY,
    ESCALATE,
    GOODWILL_CAP_OVERRIDDEN,
    KINDS,
    PARTIAL,
    ChargeFacts,
    CustomerFacts,
    Decision,
    EarlierPayout,
    OrderFacts,
    PastClaim,
    PolicyError,
    Request,
    cap_totals,
    decide,
    load_policy,
    parse_policy,
)
from careline.shared.settings import PROJECT_ROOT

POLICY = load_policy()
TODAY = date(2026, 11, 23)
D = Decimal
MARIA = CustomerFacts(id=1, name="Maria Lopez", lifetime_paid=D("1200"), lifetime_refunded=D("0"))
SHIPPED = OrderFacts("CL-100001", 1, "shipped", D("207.00"), placed=TODAY - timedelta(days=3),
                     promised_date=TODAY + timedelta(days=2))
DELIVERED = replace(SHIPPED, status="delivered", delivered_date=TODAY - timedelta(days=10),
                    promised_date=TODAY - timedelta(days=11))
OLD = replace(DELIVERED, delivered_date=TODAY - timedelta(days=45))
PROCESSING = replace(SHIPPED, status="processing", number="CL-100002", paid=D("149.00"))
LATE = replace(SHIPPED, status="delayed", promised_date=TODAY - timedelta(days=9))
FEE = ChargeFacts(id=7, customer_id=1, kind="service_fee", amount=D("14.99"), waivable=True)


def _decide(kind, order=DELIVERED, reason=None, amount=None, history=(), authority="bot",
            verified=True, charge=None, customer=MARIA, charge_id=None):
    request = Request(kind, reason=reason, amount=None if amount is None else D(amount), charge_id=charge_id)
    return decide(request, customer, order, list(history), POLICY, TODAY, authority=authority,
                  verified=verified, charge=charge)


def claims(kind, count, days_ago=5, amount="10.00"):
    return [PastClaim(kind, D(amount), TODAY - timedelta(days=days_ago)) for _ in range(count)]


@pytest.mark.parametrize("case, decision_args, outcome, rule, amount", [
    ("damaged, small, bot approves", dict(kind="refund", reason="damaged", amount="40"), APPROVE,
     "refund_within_limit", "40.00"),
    ("full refund needs no amount", dict(kind="refund", reason="damaged", order=replace(DELIVERED, paid=D("90"))),
     APPROVE, "refund_within_limit", "90.00"),
    ("asking more than paid is cut to what was paid", dict(kind="refund", reason="damaged", amount="5000",
     order=replace(DELIVERED, paid=D("120"))), PARTIAL, "refund_within_limit", "120.00"),
    ("earlier refunds are subtracted", dict(kind="refund", reason="damaged",
     order=replace(DELIVERED, paid=D("120"), refunded=D("100"))), APPROVE, "refund_within_limit", "20.00"),
    ("fully refunded order pays nothing", dict(kind="refund", reason="damaged",
     order=replace(DELIVERED, refunded=D("207"))), DENY, "nothing_left_to_refund", "0.00"),
    ("above the bot's limit goes to a person", dict(kind="refund", reason="damaged"), ESCALATE,
     "above_limit", "207.00"),
    ("an agent may approve it", dict(kind="refund", reason="damaged", authority="agent"), APPROVE,
     "refund_within_limit", "207.00"),
    ("change of mind inside the window", dict(kind="refund", reason="changed_mind", amount="50"), APPROVE,
     "refund_within_limit", "50.00"),
    ("change of mind after the window: small goodwill instead", dict(kind="refund", reason="changed_mind",
     amount="60", order=OLD), PARTIAL, "goodwill_outside_window", "25.00"),
    ("after the window with goodwill used up: denied with a person offered", dict(kind="refund",
     reason="changed_mind", order=OLD, history=claims("goodwill", 2, days_ago=100)), DENY,
     "outside_return_window", "0.00"),
    ("damaged goods have no window", dict(kind="refund", reason="damaged", amount="30", order=OLD), APPROVE,
     "refund_within_limit", "30.00"),
    ("unshipped orders are cancelled, not refunded", dict(kind="refund", reason="damaged", order=PROCESSING),
     DENY, "not_shipped_yet", "0.00"),
    ("repeated claims are escalated", dict(kind="refund", reason="damaged", amount="20",
     history=claims("refund", 3)), ESCALATE, "repeated_claims", "20.00"),
    ("the agent the bot escalated to decides repeated claims", dict(kind="refund", reason="damaged",
     amount="20", history=claims("refund", 3), authority="agent"), APPROVE, "refund_within_limit", "20.00"),
    ("the goodwill cap per customer binds an agent too", dict(kind="goodwill", amount="60", order=LATE,
     history=claims("goodwill", 2), authority="agent"), ESCALATE, "goodwill_cap_reached", "60.00"),
    ("and a supervisor who does not override it", dict(kind="goodwill", amount="60", order=LATE,
     history=claims("goodwill", 2), authority="supervisor"), ESCALATE, "goodwill_cap_reached", "60.00"),
    ("an agent gives goodwill within the cap", dict(kind="goodwill", amount="60", order=LATE,
     history=claims("goodwill", 1), authority="agent"), APPROVE, "goodwill_within_limit", "60.00"),
    ("old claims do not count", dict(kind="refund", reason="damaged", amount="20",
     history=claims("refund", 3, days_ago=60)), APPROVE, "refund_within_limit", "20.00"),
    ("most of the spend refunded already", dict(kind="refund", reason="damaged", amount="100",
     customer=replace(MARIA, lifetime_refunded=D("550"))), ESCALATE, "high_refund_share", "100.00"),
    ("goodwill is capped", dict(kind="goodwill", amount="80", order=LATE), PARTIAL, "goodwill_within_limit",
     "25.00"),
    ("goodwill over the per-customer cap", dict(kind="goodwill", order=LATE, history=claims("goodwill", 2)),
     ESCALATE, "goodwill_cap_reached", "25.00"),
    ("fee waiver", dict(kind="waiver", charge=FEE, order=None), APPROVE, "waiver_within_limit", "14.99"),
    ("second waiver within a year goes to a person", dict(kind="waiver", charge=FEE, order=None,
     history=claims("waiver", 1, days_ago=200)), ESCALATE, "waiver_already_used", "14.99"),
    ("an agent may waive again", dict(kind="waiver", charge=FEE, order=None, authority="agent",
     history=claims("waiver", 1, days_ago=200)), APPROVE, "waiver_within_limit", "14.99"),
    ("a waiver a year later is fine", dict(kind="waiver", charge=FEE, order=None,
     history=claims("waiver", 1, days_ago=400)), APPROVE, "waiver_within_limit", "14.99"),
    ("a big fee needs a person", dict(kind="waiver", order=None, charge=replace(FEE, amount=D("45")))
     , ESCALATE, "above_limit", "45.00"),
    ("someone else's charge", dict(kind="waiver", order=None, charge=replace(FEE, customer_id=2)), DENY,
     "charge_not_found", "0.00"),
    ("a different charge than asked", dict(kind="waiver", order=None, charge=FEE, charge_id=8), DENY,
     "charge_not_found", "0.00"),
    ("already waived", dict(kind="waiver", order=None, charge=replace(FEE, waived=True)), DENY,
     "already_waived", "0.00"),
    ("not a fee", dict(kind="waiver", order=None, charge=replace(FEE, waivable=False)), ESCALATE,
     "not_a_fee", "14.99"),
    ("cancel before shipping refunds everything", dict(kind="cancel", order=PROCESSING), APPROVE,
     "cancel_before_shipping", "149.00"),
    ("cancel after shipping", dict(kind="cancel", order=SHIPPED), DENY, "already_shipped", "0.00"),
    ("return inside the window", dict(kind="return"), APPROVE, "within_return_window", "0.00"),
    ("one return per order: the one there is", dict(kind="return", order=replace(DELIVERED, return_reference="RA-1")),
     DENY, "return_exists", "0.00"),
    ("a refund while a return is open goes to a person", dict(kind="refund", reason="damaged", amount="10",
     order=replace(DELIVERED, return_reference="RA-1")), ESCALATE, "return_open", "207.00"),
    ("an agent decides that refund", dict(kind="refund", reason="damaged", amount="10", authority="agent",
     order=replace(DELIVERED, return_reference="RA-1")), APPROVE, "refund_within_limit", "10.00"),
    ("return after the window", dict(kind="return", order=OLD), DENY, "outside_return_window", "0.00"),
    ("return before delivery", dict(kind="return", order=SHIPPED), DENY, "not_delivered_yet", "0.00"),
    ("reship a late order", dict(kind="reship", order=LATE), APPROVE, "reship_late_or_missing", "0.00"),
    ("reship an order still on time", dict(kind="reship", order=SHIPPED), DENY, "not_late_yet", "0.00"),
    ("unverified", dict(kind="refund", reason="damaged", verified=False), DENY, "not_verified", "0.00"),
    ("someone else's order", dict(kind="refund", reason="damaged", order=replace(DELIVERED, customer_id=2)),
     DENY, "not_verified", "0.00"),
    ("negative amount", dict(kind="refund", reason="damaged", amount="-20"), DENY, "invalid_amount", "0.00"),
    ("not a number", dict(kind="refund", reason="damaged", amount="NaN"), DENY, "invalid_amount", "0.00"),
])
def test_policy_table(case, decision_args, outcome, rule, amount):
    decision = _decide(**decision_args)
    assert (decision.outcome, decision.rule, decision.amount) == (outcome, rule, D(amount)), case
    assert decision.explanation
    if outcome in (DENY, ESCALATE):
        assert decision.offer_human, "a denial or escalation always offers a person"
    if decision.pays:
        assert decision.next_step, "an approved payment says what happens next"


# Every order status x every refund reason (issue 13: a refund before it is due).
ON_ITS_WAY = replace(SHIPPED, promised_date=TODAY + timedelta(days=2))
OUT_TODAY = replace(SHIPPED, status="out_for_delivery", promised_date=TODAY)
JUST_LATE = replace(SHIPPED, status="delayed", promised_date=TODAY - timedelta(days=1))
ARRIVED_LATE = replace(DELIVERED, promised_date=TODAY - timedelta(days=15), delivered_date=TODAY - timedelta(days=10))
RETURNED = replace(DELIVERED, status="returned")
CANCELLED = replace(PROCESSING, status="cancelled", promised_date=None)
REASONS = ("damaged", "wrong_item", "not_as_described", "changed_mind", "not_received", "late")
ARRIVED = ("damaged", "wrong_item", "not_as_described", "changed_mind")
PAID = (APPROVE, "refund_within_limit")


def _row(order, expected):
    return [(order.status, reason, order, expected[reason] if isinstance(expected, dict) else expected)
            for reason in REASONS]


STATUS_REASON_TABLE = (
    _row(PROCESSING, (DENY, "not_shipped_yet"))
    + _row(ON_ITS_WAY, {**{r: (DENY, "not_delivered_yet") for r in ARRIVED},
                        "not_received": (DENY, "not_due_yet"), "late": (DENY, "not_due_yet")})
    + _row(OUT_TODAY, {**{r: (DENY, "not_delivered_yet") for r in ARRIVED},
                       "not_received": (DENY, "not_due_yet"), "late": (DENY, "not_due_yet")})
    + _row(JUST_LATE, {**{r: (DENY, "not_delivered_yet") for r in ARRIVED},
                       "not_received": (DENY, "not_due_yet"), "late": (DENY, "not_due_yet")})
    + _row(LATE, {**{r: (DENY, "not_delivered_yet") for r in ARRIVED}, "not_received": PAID, "late": PAID})
    + _row(DELIVERED, {**{r: PAID for r in ARRIVED}, "not_received": PAID, "late": (DENY, "arrived_on_time")})
    + _row(ARRIVED_LATE, {**{r: PAID for r in ARRIVED}, "not_received": PAID, "late": PAID})
    + _row(RETURNED, (ESCALATE, "returned_order"))
    + _row(CANCELLED, (DENY, "order_cancelled"))
)


@pytest.mark.parametrize("status, reason, order, expected", STATUS_REASON_TABLE,
                         ids=[f"{row[2].status}-{row[2].promised_date}-{row[1]}" for row in STATUS_REASON_TABLE])
def test_every_status_and_reason(status, reason, order, expected):
    decision = _decide("refund", order=order, reason=reason, amount="40")
    assert (decision.outcome, decision.rule) == expected
    if decision.outcome == DENY:
        assert decision.offer_human and decision.amount == 0


@pytest.mark.parametrize("case, decision_args, outcome, rule", [
    ("a returned order's refund goes to a person", dict(kind="refund", reason="damaged", order=RETURNED),
     ESCALATE, "returned_order"),
    ("an agent may refund a returned order", dict(kind="refund", reason="damaged", order=RETURNED,
     authority="agent", amount="40"), APPROVE, "refund_within_limit"),
    ("missing after a replacement went out: a person", dict(kind="refund", reason="not_received",
     order=replace(LATE, reshipped=True)), ESCALATE, "already_reshipped"),
    ("delivered long ago, reported missing now", dict(kind="refund", reason="not_received", order=OLD),
     DENY, "reported_too_late"),
    ("a second replacement", dict(kind="reship", order=replace(LATE, reshipped=True)), ESCALATE,
     "already_remedied"),
    ("a replacement after a refund", dict(kind="reship", order=replace(LATE, refunded=D("10"))), ESCALATE,
     "already_remedied"),
    ("a replacement for a delivery months ago", dict(kind="reship", order=OLD), DENY, "reported_too_late"),
    ("a replacement for a recent delivery", dict(kind="reship", order=DELIVERED), APPROVE,
     "reship_late_or_missing"),
    ("no address to change on a cancelled order", dict(kind="address", order=CANCELLED), DENY, "not_changeable"),
])
def test_one_remedy_per_order_and_goods_back_go_to_a_person(case, decision_args, outcome, rule):
    """The attack review: free replacements again and again, and full refunds for returned goods."""
    decision = _decide(**decision_args)
    assert (decision.outcome, decision.rule) == (outcome, rule), case
    if outcome != APPROVE:
        assert decision.offer_human and not decision.pays


def test_an_amount_too_large_to_round_to_cents_is_capped_not_an_error():
    """1e26 has more digits than Decimal keeps: it used to raise InvalidOperation (found by hypothesis)."""
    decision = _decide("refund", reason="damaged", amount="1e26", authority="agent")
    assert decision.amount <= POLICY.authorities["agent"].refund_limit


def test_the_reported_early_refund_waits_for_its_due_date():
    """CL-551843 on 2 Dec: shipped 1 Dec, promised 6 Dec, $79, 'it never arrived' -> nothing paid yet."""
    today = date(2026, 12, 2)
    order = OrderFacts("CL-551843", 1, "shipped", D("79.00"), placed=date(2026, 11, 30),
                       promised_date=date(2026, 12, 6))
    early = decide(Request("refund", reason="not_received"), MARIA, order, [], POLICY, today, verified=True)
    assert (early.outcome, early.rule, early.amount) == (DENY, "not_due_yet", D("0.00"))
    assert "Sun 06 Dec" in early.explanation and "Tue 08 Dec" in early.explanation
    assert early.facts["remedy_from"] == "2026-12-08"
    on_time = decide(Request("refund", reason="not_received"), MARIA, order, [], POLICY, date(2026, 12, 8),
                     verified=True)
    assert on_time.pays and on_time.amount == D("79.00")


def test_policy_file_is_validated_with_clear_messages():
    data = yaml.safe_load((PROJECT_ROOT / "policy.yml").read_text())
    broken = dict(data, authorities={**data["authorities"], "bot": {**data["authorities"]["bot"],
                                                                     "refund_limit": "lots"}})
    with pytest.raises(PolicyError, match="authorities.bot.refund_limit"):
        parse_policy(broken)
    with pytest.raises(PolicyError, match="missing key 'waiver'"):
        parse_policy({k: v for k, v in data.items() if k != "waiver"})


# --- properties ----------------------------------------------------------------------------

money = st.decimals(min_value=D("0"), max_value=D("20000"), places=2, allow_nan=False, allow_infinity=False)
asked = st.one_of(st.none(), st.decimals(allow_nan=True, allow_infinity=True, places=2))
statuses = st.sampled_from(["processing", "shipped", "out_for_delivery", "delivered", "delayed",
                            "cancelled", "returned"])
days = st.integers(min_value=-5, max_value=400)


@st.composite
def situations(draw):
    paid = draw(money)
    refunded = draw(st.decimals(min_value=D("0"), max_value=paid, places=2))
    order = OrderFacts(
        number="CL-200000", customer_id=draw(st.sampled_from([1, 2])), status=draw(statuses),
        paid=paid, refunded=refunded,
        promised_date=draw(st.one_of(st.none(), days.map(lambda d: TODAY - timedelta(days=d)))),
        delivered_date=draw(st.one_of(st.none(), days.map(lambda d: TODAY - timedelta(days=d)))),
    )
    history = [PastClaim(draw(st.sampled_from(["refund", "goodwill", "waiver"])), draw(money),
                         TODAY - timedelta(days=draw(days))) for _ in range(draw(st.integers(0, 5)))]
    charge = ChargeFacts(id=7, customer_id=draw(st.sampled_from([1, 2])), kind="service_fee",
                         amount=draw(money), waivable=draw(st.booleans()), waived=draw(st.booleans()))
    request = Request(kind=draw(st.sampled_from(KINDS)),
                      reason=draw(st.sampled_from([None, "damaged", "changed_mind", "late", "other", "not_received",
                                                   "wrong_item", "not_as_described"])),
                      amount=draw(asked), charge_id=draw(st.sampled_from([None, 7, 8])))
    customer = replace(MARIA, lifetime_paid=draw(money), lifetime_refunded=draw(money))
    return dict(request=request, customer=customer, order=order, history=history, charge=charge,
                authority=draw(st.sampled_from(["bot", "agent", "supervisor"])), verified=draw(st.booleans()))


def _run(s):
    return decide(s["request"], s["customer"], s["order"], s["history"], POLICY, TODAY,
                  authority=s["authority"], verified=s["verified"], charge=s["charge"])


@settings(max_examples=400, deadline=None)
@given(situations())
def test_never_pays_more_than_was_paid_minus_refunds(s):
    decision = _run(s)
    if decision.pays and s["request"].kind != "waiver":
        assert decision.amount <= s["order"].paid - s["order"].refunded
    if decision.pays and s["request"].kind == "waiver":
        assert decision.amount == s["charge"].amount


@settings(max_examples=400, deadline=None)
@given(situations())
def test_never_pays_on_an_unverified_or_foreign_order(s):
    decision = _run(s)
    foreign = s["order"].customer_id != s["customer"].id
    foreign_charge = s["charge"].customer_id != s["customer"].id
    if not s["verified"] or (foreign and s["request"].kind != "waiver") or \
            (foreign_charge and s["request"].kind == "waiver"):
        assert not decision.pays
        assert decision.outcome == DENY


@settings(max_examples=400, deadline=None)
@given(situations())
def test_the_same_facts_give_the_same_decision_and_amounts_stay_in_limits(s):
    first, second = _run(s), _run(s)
    assert first == second
    limits = POLICY.authorities[s["authority"]]
    if first.pays:
        assert first.amount <= max(limits.refund_limit, limits.waiver_limit, _remaining_for_cancel(s))
    if first.outcome in (DENY, ESCALATE):
        assert first.offer_human


@settings(max_examples=600, deadline=None)
@given(situations())
def test_no_payout_on_an_order_that_is_not_yet_due(s):
    """Arrival reasons wait for the promised date plus the grace days; the others for delivery."""
    decision = _run(s)
    request, order = s["request"], s["order"]
    if request.kind != "refund" or not decision.pays:
        return
    requires = POLICY.reason_requires.get(request.reason or "other", "delivered")
    delivered = order.delivered_date is not None and order.status in ("delivered", "returned")
    if requires == "delivered":
        assert delivered
    else:
        assert order.promised_date is not None
        due = order.promised_date + timedelta(days=POLICY.days_late_for_remedy)
        assert (order.delivered_date if delivered else TODAY) >= due


def _remaining_for_cancel(s):
    order = s["order"]
    return order.paid - order.refunded if s["request"].kind == "cancel" else D("0")


@settings(max_examples=200, deadline=None)
@given(situations(), st.decimals(min_value=D("0.01"), max_value=D("100000"), places=2))
def test_asking_for_more_never_gets_more_than_asking_for_nothing(s, extra):
    baseline = _run(dict(s, request=replace(s["request"], amount=None)))
    greedy = _run(dict(s, request=replace(s["request"], amount=extra)))
    if greedy.pays and baseline.outcome in (APPROVE, PARTIAL):
        assert greedy.amount <= max(baseline.amount, D("0"))


# --- the goodwill cap for people, and limits as totals (security issue, item 7) ----------


def test_only_a_supervisor_may_override_the_goodwill_cap_and_the_rule_says_so():
    capped = claims("goodwill", 2)

    def asked(authority, order=LATE, kind="goodwill", reason=None, history=capped):
        request = Request(kind, reason=reason, amount=D("60"), override_cap=True)
        return decide(request, MARIA, order, history, POLICY, TODAY, authority=authority, verified=True)

    overridden = asked("supervisor")
    assert (overridden.outcome, overridden.rule, overridden.amount) == (APPROVE, GOODWILL_CAP_OVERRIDDEN, D("60.00"))
    assert overridden.next_step
    for authority in ("bot", "agent"):
        assert asked(authority).rule == "goodwill_cap_reached", f"{authority} cannot override"
    past_window = asked("supervisor", order=OLD, kind="refund", reason="changed_mind")
    assert (past_window.outcome, past_window.rule) == (APPROVE, GOODWILL_CAP_OVERRIDDEN)
    assert asked("agent", order=OLD, kind="refund", reason="changed_mind").outcome == DENY
    within = asked("supervisor", history=())
    assert within.rule == "goodwill_within_limit", "an override within the cap overrides nothing"


AGENT, SUPERVISOR, BOT = (POLICY.authorities[name] for name in ("agent", "supervisor", "bot"))
GOODWILL_75 = Decision(APPROVE, D("75.00"), "goodwill_within_limit", "ok")


def paid(kind="goodwill", amount="75.00", times=1, rule="goodwill_within_limit", ticket=True, order=True):
    return [EarlierPayout(kind, rule, D(amount), on_ticket=ticket, on_order=order) for _ in range(times)]


@pytest.mark.parametrize("case, decision, kind, limits, earlier, outcome, rule", [
    ("the first $75 goodwill on a ticket", GOODWILL_75, "goodwill", AGENT, [], APPROVE, "goodwill_within_limit"),
    ("the reported attack: a fourth $75 goodwill on one ticket", GOODWILL_75, "goodwill", AGENT, paid(times=3),
     ESCALATE, "ticket_total_limit"),
    ("the second $75 already passes an agent's $75", GOODWILL_75, "goodwill", AGENT, paid(),
     ESCALATE, "ticket_total_limit"),
    ("what is left of the limit is fine", replace(GOODWILL_75, amount=D("25.00")), "goodwill", AGENT,
     paid(amount="50.00"), APPROVE, "goodwill_within_limit"),
    ("a supervisor's $250 is a total too", GOODWILL_75, "goodwill", SUPERVISOR, paid(times=3),
     ESCALATE, "ticket_total_limit"),
    ("a supervisor may add up to their limit", replace(GOODWILL_75, amount=D("25.00")), "goodwill", SUPERVISOR,
     paid(times=3), APPROVE, "goodwill_within_limit"),
    ("another ticket on the same order counts", GOODWILL_75, "goodwill", AGENT, paid(ticket=False),
     ESCALATE, "order_total_limit"),
    ("another order and another ticket do not", GOODWILL_75, "goodwill", AGENT, paid(ticket=False, order=False),
     APPROVE, "goodwill_within_limit"),
    ("goodwill given for a refund past the window is goodwill", GOODWILL_75, "goodwill", AGENT,
     paid(kind="refund", rule="goodwill_outside_window"), ESCALATE, "ticket_total_limit"),
    ("an override is goodwill too", replace(GOODWILL_75, rule=GOODWILL_CAP_OVERRIDDEN), "goodwill", SUPERVISOR,
     paid(amount="200.00"), ESCALATE, "ticket_total_limit"),
    ("refunds count against the refund limit only", GOODWILL_75, "goodwill", AGENT,
     paid(kind="refund", rule="refund_within_limit", amount="900.00"), APPROVE, "goodwill_within_limit"),
    ("two refunds past the agent's $1000", Decision(APPROVE, D("600.00"), "refund_within_limit", "ok"), "refund",
     AGENT, paid(kind="refund", rule="refund_within_limit", amount="600.00"), ESCALATE, "ticket_total_limit"),
    ("waivers add up as well", Decision(APPROVE, D("60.00"), "waiver_within_limit", "ok"), "waiver", AGENT,
     paid(kind="waiver", rule="waiver_within_limit", amount="60.00"), ESCALATE, "ticket_total_limit"),
    ("a cancellation has no authority limit", Decision(APPROVE, D("900.00"), "cancel_before_shipping", "ok"),
     "cancel", AGENT, paid(kind="refund", rule="refund_within_limit", amount="900.00"), APPROVE,
     "cancel_before_shipping"),
    ("an escalation stays one", Decision(ESCALATE, D("75.00"), "above_limit", "no", offer_human=True), "goodwill",
     AGENT, paid(times=3), ESCALATE, "above_limit"),
    ("the bot's limits are per request (its frequency rules bind instead)", Decision(
        APPROVE, D("25.00"), "goodwill_within_limit", "ok"), "goodwill", BOT, paid(amount="25.00"), APPROVE,
     "goodwill_within_limit"),
])
def test_a_persons_limits_are_totals_per_ticket_and_per_order(case, decision, kind, limits, earlier, outcome, rule):
    capped = cap_totals(decision, kind, limits, earlier)
    assert (capped.outcome, capped.rule) == (outcome, rule), case
    if capped.outcome == ESCALATE and decision.pays:
        assert capped.offer_human and "left" in capped.explanation


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["refund", "goodwill", "waiver"]), money, st.booleans()), max_size=12),
       st.sampled_from(["agent", "supervisor"]))
def test_whatever_is_asked_one_after_another_the_total_stays_within_the_limit(asks, authority):
    limits = POLICY.authorities[authority]
    earlier: list = []
    for kind, amount, same_ticket in asks:
        rule = {"refund": "refund_within_limit", "goodwill": "goodwill_within_limit", "waiver": "waiver_within_limit"}
        decision = cap_totals(Decision(APPROVE, amount, rule[kind], "ok"), kind, limits, earlier)
        if decision.pays:
            earlier.append(EarlierPayout(kind, decision.rule, decision.amount, on_ticket=same_ticket, on_order=True))
    for kind, limit in (("refund", limits.refund_limit), ("goodwill", limits.goodwill_limit),
                        ("waiver", limits.waiver_limit)):
        assert sum((p.amount for p in earlier if p.kind == kind), D("0")) <= limit


def test_goodwill_cap_and_totals_are_validated():
    data = yaml.safe_load((PROJECT_ROOT / "policy.yml").read_text())
    for key, value in (("goodwill_cap", "sometimes"), ("totals_per", ["customer"]), ("totals_per", "ticket")):
        broken = dict(data, authorities={**data["authorities"], "agent": {**data["authorities"]["agent"],
                                                                           key: value}})
        with pytest.raises(PolicyError, match=f"authorities.agent.{key}"):
            parse_policy(broken)


@pytest.mark.parametrize("detail", ["66 Attacker Road<script>", "x", "   12 Elm Street, Portland  ", "A" * 400])
def test_an_address_change_takes_only_a_clean_address(detail):
    """A forged proposal once stored an unvalidated address; the policy itself now refuses one."""
    decision = decide(
        Request("address", detail=detail), MARIA, PROCESSING, [], POLICY, TODAY, verified=True)
    assert (decision.outcome, decision.rule) == (DENY, "invalid_address")
    clean = decide(Request("address", detail="12 Elm Street, Portland, OR 97205"), MARIA, PROCESSING, [], POLICY,
                   TODAY, verified=True)
    assert clean.outcome == APPROVE


def test_the_bot_offers_exactly_the_policys_refund_reasons():
    """The reasons' keys live in policy.yml; the bot's buttons (customer_input.REFUND_REASONS) name the same."""
    from careline.money.customer_input import REFUND_REASONS

    assert sorted(REFUND_REASONS) == sorted(POLICY.refund_reasons)
