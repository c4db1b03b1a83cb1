"""The schedule derived from the store: every case followed up once, in its own conversation only."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from careline.db import DecisionRecord, Order, OrderWatch
from careline.followup import LATE_ORDER, FollowUpSchedule
from careline.money import Request
from tests.careline.followup.conftest import RULES, follow_ups, refund, resolved_ticket


def _set_order(engine, number, **values):
    with Session(engine) as session, session.begin():
        order = session.execute(sa.select(Order).where(Order.number == number)).scalar_one()
        for key, value in values.items():
            setattr(order, key, value)


def test_a_refund_is_followed_up_once_in_its_conversation_after_the_delay(schedule, claims, engine):
    reference = refund(claims, "conv-1")
    assert schedule.sweep() == 1
    assert schedule.sweep() == 0, "a second sweep schedules nothing more"
    [row] = follow_ups(engine)
    assert (row.kind, row.conversation_id, row.status, row.case_key) == ("refund", "conv-1", "scheduled",
                                                                          f"decision:{row.decision_id}")
    assert row.due_at == row.case_at + timedelta(days=5) and row.next_attempt_at == row.due_at
    with Session(engine) as session:
        decision = session.get(DecisionRecord, row.decision_id)
        order = session.get(Order, row.order_id)
    assert decision.reference == reference and order.number == "CL-100003"


def test_only_carried_out_cases_of_listed_kinds_from_a_conversation_are_followed_up(schedule, claims, engine):
    claims.decide_and_apply(idempotency_key="big", order_number="CL-100004", email="priya.shah@example.org",
                            request=Request("refund", "not_received", Decimal("900")), conversation_id="conv-big")
    claims.decide_and_apply(idempotency_key="nobody", order_number="CL-100003", email="jkim88@example.net",
                            request=Request("return"))  # no conversation: a desk or script decision
    claims.decide_and_apply(idempotency_key="fee", order_number="CL-100001", email="maria.lopez@example.com",
                            request=Request("waiver", charge_id=_fee_of(engine, "maria.lopez@example.com")),
                            conversation_id="conv-fee")  # waivers are not listed in RULES
    ship = claims.decide_and_apply(idempotency_key="ship", order_number="CL-100004", email="priya.shah@example.org",
                                   request=Request("reship"), conversation_id="conv-ship")
    schedule.sweep()
    assert follow_ups(engine) == [], "a replacement is asked about only once the warehouse has it"
    from careline.db import DecisionRecord, WarehouseOrder
    from careline.shared import utcnow
    with Session(engine) as session, session.begin():
        decision = session.execute(sa.select(DecisionRecord.id).where(DecisionRecord.reference == ship.reference)
                                   ).scalar_one()
        session.add(WarehouseOrder(decision_id=decision, idempotency_key=ship.reference, payload="{}", attempts=1,
                                   created_at=utcnow(), next_attempt_at=utcnow(), delivered_at=utcnow()))
    schedule.sweep()
    assert [(f.kind, f.conversation_id) for f in follow_ups(engine)] == [("reship", "conv-ship")]


def _fee_of(engine, email):
    from careline.db import Charge, Customer

    with Session(engine) as session:
        return session.execute(sa.select(Charge.id).join(Customer, Customer.id == Charge.customer_id)
                               .where(Customer.email == email, Charge.waivable.is_(True))).scalars().first()


def test_a_resolved_handoff_is_followed_up_unless_a_payout_on_it_is(schedule, claims, engine, clock):
    plain = resolved_ticket(engine, clock, "conv-h1")
    paid = resolved_ticket(engine, clock, "conv-h2")
    claims.decide_and_apply(idempotency_key="desk:1", order_number="CL-100003", email="jkim88@example.net",
                            request=Request("refund", "damaged", Decimal("10")), authority="agent",
                            conversation_id="conv-h2", ticket_id=paid)
    schedule.sweep()
    rows = {(f.kind, f.conversation_id, f.ticket_id) for f in follow_ups(engine)}
    assert rows == {("handoff", "conv-h1", plain), ("refund", "conv-h2", None)}
    handoff = next(f for f in follow_ups(engine) if f.kind == "handoff")
    assert handoff.due_at == clock() + timedelta(hours=20)


def test_cases_too_old_to_be_sent_are_not_scheduled(schedule, claims, engine, clock):
    refund(claims, "conv-old")
    clock.now += RULES.horizon + timedelta(minutes=1)
    assert schedule.sweep() == 0 and follow_ups(engine) == []


def test_an_order_that_becomes_late_is_announced_once_to_the_conversations_that_asked(schedule, engine, clock):
    today = clock().date()
    _set_order(engine, "CL-100001", status="shipped", promised_date=today + timedelta(days=1))
    assert schedule.watch_order("asked-1", "socketio", "CL-100001")
    assert schedule.watch_order("asked-1", "socketio", "CL-100001"), "asking again is remembered once"
    assert schedule.watch_order("asked-2", "rest", "CL-100001")
    assert schedule.sweep() == 0, "not late yet"
    clock.now += timedelta(days=2)
    assert schedule.sweep() == 2
    assert schedule.sweep() == 0
    rows = follow_ups(engine)
    assert {(f.kind, f.conversation_id, f.status) for f in rows} == {(LATE_ORDER, "asked-1", "scheduled"),
                                                                     (LATE_ORDER, "asked-2", "scheduled")}
    assert all(f.due_at == clock() for f in rows)
    with Session(engine) as session:
        assert session.execute(sa.select(sa.func.count(OrderWatch.id))).scalar_one() == 2


def test_no_notice_for_an_order_late_when_asked_finished_or_watched_too_long_ago(schedule, engine, clock):
    today = clock().date()
    _set_order(engine, "CL-100004", status="delayed", promised_date=today - timedelta(days=9))
    assert schedule.watch_order("knew-it", "socketio", "CL-100004")  # the customer was told it is late
    _set_order(engine, "CL-100002", status="delayed", promised_date=today + timedelta(days=1))
    assert schedule.watch_order("told-delayed", "socketio", "CL-100002")  # "it's running late" already
    _set_order(engine, "CL-100003", status="delivered")
    assert not schedule.watch_order("delivered", "socketio", "CL-100003")
    assert not schedule.watch_order("unknown", "socketio", "CL-999999")
    _set_order(engine, "CL-100001", status="shipped", promised_date=today + timedelta(days=40))
    schedule.watch_order("long-ago", "socketio", "CL-100001")
    clock.now += timedelta(days=41)
    assert schedule.sweep() == 0 and follow_ups(engine) == []


def test_asking_marks_sent_once_and_only_in_its_own_conversation(schedule, claims, engine, clock):
    refund(claims, "conv-1")
    schedule.sweep()
    [row] = follow_ups(engine)
    assert schedule.ask(row.id, "conv-1", "socketio") is None, "not due yet"
    clock.now = row.due_at
    assert schedule.ask(row.id, "someone-else", "socketio") is None
    assert schedule.ask(row.id, "conv-1", "socketio", late_notice=True) is None, "not a late-order notice"
    assert schedule.ask("not-a-number", "conv-1", "socketio") is None
    case = schedule.ask(str(row.id), "conv-1", "socketio")
    assert case is not None and schedule.ask(row.id, "conv-1", "socketio") is None, "asked once"
    assert (case.kind, case.order_number, case.amount, case.first_name) == ("refund", "CL-100003", Decimal("20.00"),
                                                                            "James")
    assert case.reference.startswith("RF-") and case.describe() == f"refund {case.reference} ($20.00, order CL-100003)"
    [row] = follow_ups(engine)
    assert (row.status, row.channel, row.sent_at) == ("sent", "socketio", clock())


def test_the_answer_is_recorded_once_and_a_late_one_replaces_no_answer(schedule, claims, engine, clock):
    refund(claims, "conv-1")
    schedule.sweep()
    [row] = follow_ups(engine)
    clock.now = row.due_at
    assert schedule.answer("conv-1", resolved=True) is None, "nothing asked yet"
    assert schedule.ask(row.id, "conv-1", "rest")
    assert schedule.awaiting_answer("conv-1").follow_up_id == row.id
    assert schedule.awaiting_answer("conv-2") is None
    clock.now += RULES.answer_window + timedelta(minutes=1)
    assert schedule.sweep() == 1
    assert follow_ups(engine)[0].outcome == "no_answer"
    assert schedule.answer("conv-1", resolved=False).follow_up_id == row.id
    assert schedule.answer("conv-1", resolved=True) is None, "the first answer counts"
    [row] = follow_ups(engine)
    assert (row.outcome, row.answered_at) == ("not_resolved", clock())
    assert schedule.awaiting_answer("conv-1") is None


def test_a_late_order_that_arrived_before_its_notice_is_not_announced(schedule, engine, clock):
    today = clock().date()
    _set_order(engine, "CL-100001", status="shipped", promised_date=today)
    schedule.watch_order("asked", "socketio", "CL-100001")
    clock.now += timedelta(days=1)
    schedule.sweep()
    [row] = follow_ups(engine)
    _set_order(engine, "CL-100001", status="delivered", delivered_date=clock().date())
    assert schedule.ask(row.id, "asked", "socketio", late_notice=True) is None
    [row] = follow_ups(engine)
    assert (row.status, row.not_sent_reason) == ("not_sent", "no_longer_late")


def test_two_schedules_over_one_store_add_each_case_once(engine, claims, clock):
    refund(claims, "conv-1")
    first, second = FollowUpSchedule(engine, RULES, now=clock), FollowUpSchedule(engine, RULES, now=clock)
    assert first.sweep() + second.sweep() == 1
    assert len(follow_ups(engine)) == 1
