"""Delivering due follow-ups through the bot: once, on channels that may write first, never lost."""
from __future__ import annotations

from datetime import timedelta

import pytest

from careline.followup import FOLLOW_UP_INTENT, LATE_ORDER_INTENT, FollowUpDelivery, FollowUpSchedule, Tally
from careline.followup.delivery import CLAIM_S, NOT_ASKED, conversation_state
from tests.careline.followup.conftest import RULES, FakeBot, authorise_return, follow_ups, refund


@pytest.fixture
def delivery(engine, bot, clock) -> FollowUpDelivery:
    return FollowUpDelivery(engine, bot, RULES, now=clock)


@pytest.fixture
def due(schedule, claims, engine, clock):
    """A refund in conversation conv-1, its follow-up scheduled and now due."""
    refund(claims, "conv-1")
    schedule.sweep()
    [row] = follow_ups(engine)
    clock.now = row.due_at
    return row


def test_a_due_follow_up_is_asked_once_in_its_conversation(delivery, bot, due, engine, clock):
    bot.talk("conv-1", "socketio", ago=timedelta(days=5))
    assert delivery.deliver_due() == Tally(sent=1)
    assert bot.triggered == [("conv-1", FOLLOW_UP_INTENT, {"follow_up_id": str(due.id)})]
    [row] = follow_ups(engine)
    assert (row.status, row.channel, row.sent_at, row.attempts) == ("sent", "socketio", clock(), 0)
    clock.now += timedelta(hours=1)
    assert delivery.deliver_due() == Tally() and len(bot.triggered) == 1


def test_nothing_is_sent_before_it_is_due(delivery, bot, schedule, claims, engine):
    refund(claims, "conv-1")
    schedule.sweep()
    bot.talk("conv-1")
    assert delivery.deliver_due() == Tally() and bot.triggered == []


def test_while_the_bot_is_down_it_is_tried_again_with_backoff_and_sent_once_it_is_back(delivery, bot, due, engine,
                                                                                        clock):
    bot.talk("conv-1", ago=timedelta(days=5))
    bot.down = True
    assert delivery.deliver_due() == Tally(failed=1)
    [row] = follow_ups(engine)
    assert row.status == "scheduled" and row.attempts == 1 and "ConnectionError" in row.last_error
    assert row.next_attempt_at == clock() + delivery.backoff(1)
    assert delivery.deliver_due() == Tally(), "not before the backoff"
    clock.now += delivery.backoff(1)
    assert delivery.deliver_due() == Tally(failed=1)
    assert follow_ups(engine)[0].attempts == 2
    bot.down = False
    clock.now += delivery.backoff(2)
    assert delivery.deliver_due() == Tally(sent=1) and len(bot.triggered) == 1


def test_a_channel_that_may_not_write_first_is_recorded_not_dropped(delivery, bot, schedule, claims, engine, clock):
    for conversation in ("fb-late", "fb-recent", "cli", "gone"):
        authorise_return(claims, conversation, key=conversation, engine=engine)
    schedule.sweep()
    clock.now = max(f.due_at for f in follow_ups(engine))
    bot.talk("fb-late", "facebook", ago=timedelta(days=5))
    bot.talk("fb-recent", "facebook", ago=timedelta(hours=2))
    bot.talk("cli", "cmdline", ago=timedelta(days=5))
    assert delivery.deliver_due() == Tally(sent=1, not_sent=3)
    outcome = {f.conversation_id: (f.status, f.not_sent_reason, f.channel) for f in follow_ups(engine)}
    assert outcome == {"fb-late": ("not_sent", "messenger_window_closed", "facebook"),
                       "fb-recent": ("sent", None, "facebook"),
                       "cli": ("not_sent", "channel_cannot_write_first", "cmdline"),
                       "gone": ("not_sent", "no_conversation", None)}
    assert [t[0] for t in bot.triggered] == ["fb-recent"]


def test_a_busy_conversation_is_left_alone_until_it_is_quiet(delivery, bot, due, engine, clock):
    bot.talk("conv-1", ago=timedelta(minutes=2))  # the customer is typing
    assert delivery.deliver_due() == Tally(later=1)
    [row] = follow_ups(engine)
    assert row.next_attempt_at == clock() - timedelta(minutes=2) + RULES.quiet and row.attempts == 0
    bot.talk("conv-1", ago=timedelta(hours=1), form="order_form")  # in the middle of a form
    clock.now = row.next_attempt_at
    assert delivery.deliver_due() == Tally(later=1)
    bot.talk("conv-1", ago=timedelta(hours=1), paused=True)  # with a person
    clock.now = follow_ups(engine)[0].next_attempt_at
    assert delivery.deliver_due() == Tally(later=1)
    bot.talk("conv-1", ago=timedelta(hours=1))
    clock.now = follow_ups(engine)[0].next_attempt_at
    assert delivery.deliver_due() == Tally(sent=1) and len(bot.triggered) == 1


def test_a_person_working_on_the_conversation_holds_the_follow_up(delivery, bot, due, engine, clock):
    from tests.careline.followup.conftest import resolved_ticket
    from careline.db import Ticket
    from sqlalchemy.orm import Session

    ticket_id = resolved_ticket(engine, clock, "conv-1")
    with Session(engine) as session, session.begin():
        session.get(Ticket, ticket_id).status = "assigned"  # handed to a person again
    bot.talk("conv-1", ago=timedelta(hours=1))
    assert delivery.deliver_due() == Tally(later=1) and bot.triggered == []


def test_one_question_at_a_time_per_conversation(delivery, bot, schedule, claims, engine, clock):
    authorise_return(claims, "conv-1", key="a", engine=engine)
    authorise_return(claims, "conv-1", key="b", engine=engine)  # two cases in one conversation
    schedule.sweep()
    clock.now = max(f.due_at for f in follow_ups(engine))
    bot.talk("conv-1", ago=timedelta(days=20))
    assert delivery.deliver_due() == Tally(sent=1, later=1)
    asked, waiting = follow_ups(engine)
    assert asked.status == "sent" and waiting.status == "scheduled"
    assert waiting.next_attempt_at == asked.sent_at + RULES.answer_window
    schedule.answer("conv-1", resolved=True)
    clock.now = waiting.next_attempt_at
    assert delivery.deliver_due() == Tally(sent=1)


def test_one_that_cannot_be_sent_in_time_expires_and_is_recorded(delivery, bot, due, engine, clock):
    clock.now += RULES.give_up_after + timedelta(seconds=1)
    bot.talk("conv-1", ago=timedelta(days=9))
    assert delivery.deliver_due() == Tally(not_sent=1)
    assert (follow_ups(engine)[0].status, follow_ups(engine)[0].not_sent_reason) == ("not_sent", "expired")
    assert bot.triggered == []


def test_a_trigger_the_action_did_not_answer_is_tried_again(delivery, bot, due, engine, clock):
    bot.talk("conv-1", ago=timedelta(days=5))
    bot.answer = False  # e.g. a person took the conversation between the check and the trigger
    assert delivery.deliver_due() == Tally(failed=1)
    [row] = follow_ups(engine)
    assert (row.status, row.last_error, row.attempts) == ("scheduled", NOT_ASKED, 1)


def test_across_a_restart_a_claimed_follow_up_is_sent_once_by_the_next_worker(engine, schedule, claims, clock):
    refund(claims, "conv-1")
    schedule.sweep()
    clock.now = follow_ups(engine)[0].due_at
    crashed = FakeBot(schedule, clock)
    crashed.talk("conv-1", ago=timedelta(days=5))
    first = FollowUpDelivery(engine, crashed, RULES, now=clock)
    assert first._claim_next() is not None  # claimed, then the worker died before it asked
    restarted = FakeBot(FollowUpSchedule(engine, RULES, now=clock), clock)
    restarted.talk("conv-1", ago=timedelta(days=5))
    second = FollowUpDelivery(engine, restarted, RULES, now=clock)
    assert second.deliver_due() == Tally(), "the claim holds for a while"
    clock.now += timedelta(seconds=CLAIM_S)
    assert second.deliver_due() == Tally(sent=1)
    restarted.trigger_intent("conv-1", FOLLOW_UP_INTENT, {"follow_up_id": str(follow_ups(engine)[0].id)})
    assert follow_ups(engine)[0].sent_at == clock(), "a repeated trigger asks nothing twice"
    assert second.deliver_due() == Tally()


def test_late_order_notices_use_their_own_intent(engine, schedule, bot, clock):
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    from careline.db import Order

    with Session(engine) as session, session.begin():
        order = session.execute(sa.select(Order).where(Order.number == "CL-100001")).scalar_one()
        order.status, order.promised_date = "shipped", clock().date()
    schedule.watch_order("asked", "rest", "CL-100001")
    clock.now += timedelta(days=1)
    schedule.sweep()
    bot.talk("asked", "rest", ago=timedelta(days=1))
    assert FollowUpDelivery(engine, bot, RULES, now=clock).deliver_due() == Tally(sent=1)
    assert bot.triggered[0][1] == LATE_ORDER_INTENT


def test_the_conversation_state_is_read_from_rasas_tracker():
    state = conversation_state({
        "latest_input_channel": "socketio", "paused": False, "active_loop": {"name": "order_form"},
        "events": [{"event": "user", "text": "hi", "timestamp": 100.0, "parse_data": {"intent": {"name": "greet"}}},
                   {"event": "user", "text": "EXTERNAL: EXTERNAL_follow_up", "timestamp": 500.0,
                    "parse_data": {"intent": {"name": "EXTERNAL_follow_up"}}}]})
    assert state.exists and state.in_form and not state.paused and state.channel == "socketio"
    assert state.last_customer_at.timestamp() == 100.0, "what the system triggered is not the customer writing"
    empty = conversation_state({"events": [], "latest_input_channel": None})
    assert not empty.exists and empty.channel is None and empty.last_customer_at is None
