"""The claim service on a real SQLite store: verification, idempotency, money safety, audit."""
from __future__ import annotations

import shutil
import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from careline.db.engine import make_engine
from careline.db.models.money import DecisionRecord, Refund, Waiver
from careline.db.models.shop import Charge, Customer, Order
from careline.money.claims import ClaimService
from careline.money.policy import APPROVE, DENY, ESCALATE, PARTIAL, Request, load_policy
from tests.conftest import SEED_DAY

D = Decimal
MARIA = ("CL-100001", "maria.lopez@example.com")


@pytest.fixture
def engine(fresh_store_url):
    """The seeded shop, with Maria's CL-100001 delivered three days ago (refunds for damage need that)."""
    engine = make_engine(fresh_store_url)
    with Session(engine) as session:
        order = session.execute(sa.select(Order).where(Order.number == "CL-100001")).scalar_one()
        order.status, order.delivered_date = "delivered", SEED_DAY - timedelta(days=3)
        session.commit()
    return engine


@pytest.fixture
def service(engine):
    return ClaimService(engine, load_policy(), today=lambda: SEED_DAY)


def _count(engine, model):
    with Session(engine) as session:
        return session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()


def _refunded_cents(engine, number):
    with Session(engine) as session:
        order = session.execute(sa.select(Order).where(Order.number == number)).scalar_one()
        return session.execute(sa.select(sa.func.coalesce(sa.func.sum(Refund.amount_cents), 0))
                               .where(Refund.order_id == order.id)).scalar_one()


def test_a_small_refund_is_paid_once_and_audited(service, engine):
    outcome = service.decide_and_apply(idempotency_key="conv-1:msg-1", order_number="CL-100001",
                                       email="maria.lopez@example.com",
                                       request=Request("refund", "damaged", D("40")), conversation_id="conv-1")
    assert outcome.decision.outcome == APPROVE and outcome.decision.amount == D("40.00")
    assert outcome.reference.startswith("RF-") and not outcome.replayed
    again = service.decide_and_apply(idempotency_key="conv-1:msg-1", order_number="CL-100001",
                                     email="maria.lopez@example.com",
                                     request=Request("refund", "damaged", D("40")), conversation_id="conv-1")
    assert again.replayed and again.reference == outcome.reference
    assert again.decision.amount == D("40.00") and again.decision.next_step
    assert _refunded_cents(engine, "CL-100001") == 4000
    with Session(engine) as session:
        record = session.execute(sa.select(DecisionRecord)).scalar_one()
        assert (record.conversation_id, record.rule, record.amount_cents) == ("conv-1", "refund_within_limit", 4000)


def test_refunds_never_add_up_to_more_than_was_paid(service, engine):
    paid_cents = 20700  # CL-100001: lamp and two throws
    amounts = []
    for attempt in range(6):
        outcome = service.decide_and_apply(
            idempotency_key=f"k{attempt}", order_number="CL-100001", email="maria.lopez@example.com",
            request=Request("refund", "damaged", D("100")), authority="agent",
        )
        amounts.append((outcome.decision.outcome, outcome.decision.amount))
    assert amounts[0] == (APPROVE, D("100.00")) and amounts[1] == (APPROVE, D("100.00"))
    assert amounts[2] == (PARTIAL, D("7.00"))
    assert all(outcome == DENY for outcome, _ in amounts[3:])
    assert _refunded_cents(engine, "CL-100001") == paid_cents
    assert _count(engine, DecisionRecord) == 6


def test_concurrent_requests_cannot_overpay(engine):
    policy = load_policy()
    paid_cents = 20700
    errors = []

    def claim(index: int) -> None:
        try:
            ClaimService(make_engine(str(engine.url)), policy, today=lambda: SEED_DAY).decide_and_apply(
                idempotency_key=f"race-{index}", order_number="CL-100001", email="maria.lopez@example.com",
                request=Request("refund", "damaged", D("90")), authority="agent",
            )
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert _refunded_cents(engine, "CL-100001") == paid_cents


@pytest.mark.parametrize("number, email", [
    ("CL-100001", "jkim88@example.net"),
    ("CL-100003", "maria.lopez@example.com"),
    ("CL-999998", "maria.lopez@example.com"),
    ("CL-100001", ""),
    ("CL-100001'; DROP TABLE orders; --", "maria.lopez@example.com"),
])
def test_unverified_requests_change_nothing_but_the_audit(service, engine, number, email):
    outcome = service.decide_and_apply(idempotency_key="bad", order_number=number, email=email,
                                       request=Request("refund", "damaged", D("10")))
    assert outcome.decision.outcome == DENY and outcome.decision.rule == "not_verified"
    assert _count(engine, Refund) == 0
    with Session(engine) as session:
        record = session.execute(sa.select(DecisionRecord)).scalar_one()
        assert record.customer_id is None and record.amount_cents == 0
        assert session.execute(sa.select(sa.func.count(Order.id))).scalar_one() == 1000


def test_fee_waiver_once_then_a_person(service, engine):
    fees = service.waivable_fees(*MARIA)
    assert [(f.description, f.amount) for f in fees] == [
        ("Plus membership service charge (introductory rate ended)", D("14.99"))]
    first = service.decide_and_apply(idempotency_key="w1", order_number="CL-100001",
                                     email="maria.lopez@example.com",
                                     request=Request("waiver", charge_id=fees[0].charge_id))
    assert first.decision.outcome == APPROVE and first.reference.startswith("WV-")
    assert service.waivable_fees(*MARIA) == []
    again = service.decide_and_apply(idempotency_key="w2", order_number="CL-100001",
                                     email="maria.lopez@example.com",
                                     request=Request("waiver", charge_id=fees[0].charge_id))
    assert again.decision.outcome == DENY and again.decision.rule == "already_waived"
    assert _count(engine, Waiver) == 1


def test_someone_elses_fee_cannot_be_waived(service, engine):
    with Session(engine) as session:
        james = session.execute(sa.select(Customer).where(Customer.email == "jkim88@example.net")).scalar_one()
        fee = Charge(customer_id=james.id, kind="service_fee", description="fee", amount_cents=999,
                     charged_at=sa.func.now(), waivable=True)
        session.add(fee)
        session.commit()
        fee_id = fee.id
    outcome = service.decide_and_apply(idempotency_key="steal", order_number="CL-100001",
                                       email="maria.lopez@example.com", request=Request("waiver", charge_id=fee_id))
    assert outcome.decision.outcome == DENY and _count(engine, Waiver) == 0


def test_cancel_before_shipping_cancels_and_refunds_in_full(service, engine):
    outcome = service.decide_and_apply(idempotency_key="c1", order_number="CL-100002",
                                       email="maria.lopez@example.com", request=Request("cancel"))
    assert outcome.decision.outcome == APPROVE and outcome.reference == "CX-100002"
    with Session(engine) as session:
        order = session.execute(sa.select(Order).where(Order.number == "CL-100002")).scalar_one()
        assert order.status == "cancelled"
    assert _refunded_cents(engine, "CL-100002") == 14900
    shipped = service.decide_and_apply(idempotency_key="c2", order_number="CL-100001",
                                       email="maria.lopez@example.com", request=Request("cancel"))
    assert shipped.decision.outcome == DENY and shipped.decision.rule == "already_shipped"


def test_return_authorisation_and_late_reshipment(service):
    ret = service.decide_and_apply(idempotency_key="r1", order_number="CL-100003",
                                   email="jkim88@example.net", request=Request("return"))
    assert ret.decision.outcome == APPROVE and ret.reference.startswith("RA-100003-")
    late = service.decide_and_apply(idempotency_key="r2", order_number="CL-100004",
                                    email="priya.shah@example.org", request=Request("reship"))
    assert late.decision.outcome == APPROVE and late.reference.startswith("RS-100004-")


def test_a_large_refund_is_escalated_and_pays_nothing(service, engine):
    outcome = service.decide_and_apply(idempotency_key="big", order_number="CL-100004",
                                       email="priya.shah@example.org", request=Request("refund", "late"))
    assert outcome.decision.outcome == ESCALATE and outcome.decision.offer_human
    assert _count(engine, Refund) == 0


def test_the_idempotency_key_is_required(service):
    with pytest.raises(ValueError):
        service.decide_and_apply(idempotency_key="", order_number="CL-100001", email="maria.lopez@example.com",
                                 request=Request("cancel"))
    assert date.today()  # the service never needs the real clock in these tests


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 4), st.sampled_from(["refund", "goodwill", "cancel"]),
                          st.decimals(min_value=D("0.01"), max_value=D("500"), places=2)), min_size=1, max_size=8))
def test_retries_and_repeats_never_pay_twice_or_beyond_what_was_paid(fresh_store_url, tmp_path_factory, requests):
    target = tmp_path_factory.mktemp("prop") / "careline.db"
    shutil.copyfile(fresh_store_url[len("sqlite:///"):], target)
    engine = make_engine(f"sqlite:///{target}")
    service = ClaimService(engine, load_policy(), today=lambda: SEED_DAY)
    paid_by_key = {}
    for key, kind, amount in requests:
        outcome = service.decide_and_apply(
            idempotency_key=f"key-{key}", order_number="CL-100003", email="jkim88@example.net",
            request=Request(kind, "damaged", amount), authority="supervisor")
        first = paid_by_key.setdefault(key, (outcome.decision.outcome, outcome.decision.amount))
        assert (outcome.decision.outcome, outcome.decision.amount) == first, "a repeated key replays the first"
    assert _refunded_cents(engine, "CL-100003") <= 3895
    with Session(engine) as session:
        rows = session.execute(sa.select(Refund.decision_id)).scalars().all()
    assert len(rows) == len(set(rows)) <= len(paid_by_key)
