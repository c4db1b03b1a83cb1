"""The claim service under concurrent requests, on PostgreSQL (row locks, unique violations at
flush) and on SQLite (BEGIN IMMEDIATE): one key pays once, and the per-customer rules hold across
two different orders of the same customer."""
from __future__ import annotations

import contextlib
import threading
from decimal import Decimal
from typing import Callable, List

import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy.orm import Session

from careline.db.engine import make_engine
from careline.db.models.money import DecisionRecord, Refund, Waiver
from careline.db.models.shop import Charge, Customer
from careline.money.claims import ClaimService, Outcome
from careline.money.policy import APPROVE, ESCALATE, Request, load_policy, parse_policy
from careline.shared.settings import PROJECT_ROOT
from tests.conftest import SEED_DAY

D = Decimal
MARIA = "maria.lopez@example.com"
JAMES = "jkim88@example.net"  # CL-100003, delivered


@pytest.fixture(params=["postgresql", "sqlite"])
def store(request) -> str:
    """URL of a fresh seeded store on each backend."""
    return request.getfixturevalue("pg_url" if request.param == "postgresql" else "fresh_store_url")


def _policy(**goodwill):
    data = yaml.safe_load((PROJECT_ROOT / "policy.yml").read_text(encoding="utf-8"))
    data["goodwill"].update(goodwill)
    return parse_policy(data)


class SlowDecider:
    """A `today` for ClaimService that holds each caller (after it read the facts, before it decides
    and writes) until all `parties` are there, or `wait_s` passed: the widest race window there is.
    When the service serialises callers, the first waits out `wait_s` alone and the rest pass at once."""

    def __init__(self, parties: int, wait_s: float = 1.0) -> None:
        self._barrier = threading.Barrier(parties)
        self._wait_s = wait_s

    def __call__(self):
        with contextlib.suppress(threading.BrokenBarrierError):
            self._barrier.wait(timeout=self._wait_s)
        return SEED_DAY


def _race(calls: List[Callable[[], Outcome]]) -> List[Outcome]:
    outcomes: List[Outcome] = [None] * len(calls)  # type: ignore[list-item]
    errors: List[BaseException] = []

    def run(index: int) -> None:
        try:
            outcomes[index] = calls[index]()
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == [], f"a concurrent request failed: {errors!r}"
    return outcomes


def _count(url: str, model, *where) -> int:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            return session.execute(sa.select(sa.func.count()).select_from(model).where(*where)).scalar_one()
    finally:
        engine.dispose()


@pytest.mark.parametrize("email", [JAMES, "someone.else@example.com"], ids=["verified", "unverified"])
def test_one_key_sent_concurrently_decides_once_and_every_caller_gets_that_decision(store, email):
    threads = 6
    engine = make_engine(store)
    service = ClaimService(engine, load_policy(), today=SlowDecider(threads))
    calls = [lambda: service.decide_and_apply(idempotency_key="double-click", order_number="CL-100003", email=email,
                                              request=Request("refund", "damaged", D("40")), authority="agent")
             for _ in range(threads)]
    outcomes = _race(calls)
    first = [o for o in outcomes if not o.replayed]
    assert len(first) == 1, "exactly one caller made the decision; the others replayed it"
    assert {(o.decision.outcome, o.decision.amount, o.decision.rule, o.reference) for o in outcomes} == {
        (first[0].decision.outcome, first[0].decision.amount, first[0].decision.rule, first[0].reference)}
    assert _count(store, DecisionRecord) == 1
    assert _count(store, Refund) == (1 if email == JAMES else 0)
    engine.dispose()


def test_the_goodwill_cap_holds_across_two_orders_of_one_customer(store):
    engine = make_engine(store)
    service = ClaimService(engine, _policy(max_per_customer=1), today=SlowDecider(2))
    calls = [lambda number=number: service.decide_and_apply(
        idempotency_key=f"goodwill-{number}", order_number=number, email=MARIA,
        request=Request("goodwill", "late", D("10")), authority="bot") for number in ("CL-100001", "CL-100002")]
    outcomes = _race(calls)
    assert sorted(o.decision.outcome for o in outcomes) == [APPROVE, ESCALATE]
    assert {o.decision.rule for o in outcomes if o.decision.outcome == ESCALATE} == {"goodwill_cap_reached"}
    assert _count(store, Refund, Refund.kind == "goodwill") == 1
    engine.dispose()


def test_one_waiver_a_year_holds_across_two_orders_of_one_customer(store):
    engine = make_engine(store)
    with Session(engine) as session:
        maria = session.execute(sa.select(Customer).where(Customer.email == MARIA)).scalar_one()
        first = session.execute(sa.select(Charge.id).where(Charge.customer_id == maria.id,
                                                           Charge.waivable.is_(True))).scalar_one()
        second = Charge(customer_id=maria.id, kind="shipping_fee", description="Express shipping surcharge",
                        amount_cents=899, charged_at=sa.func.now(), waivable=True)
        session.add(second)
        session.commit()
        charges = {"CL-100001": first, "CL-100002": second.id}
    service = ClaimService(engine, load_policy(), today=SlowDecider(2))
    calls = [lambda number=number: service.decide_and_apply(
        idempotency_key=f"waive-{number}", order_number=number, email=MARIA,
        request=Request("waiver", charge_id=charges[number]), authority="bot") for number in charges]
    outcomes = _race(calls)
    assert sorted(o.decision.outcome for o in outcomes) == [APPROVE, ESCALATE]
    assert {o.decision.rule for o in outcomes if o.decision.outcome == ESCALATE} == {"waiver_already_used"}
    assert _count(store, Waiver) == 1
    engine.dispose()
