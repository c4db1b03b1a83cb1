"""Supervisors' analytics over real SQLite stores (the seeded shop store and a Rasa-shaped tracker):
every UTC day of the period with its figures (zero when nothing happened), FAQ questions by topic,
small talk left out of the top intents, and periods that make no sense refused with the reason."""
from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timedelta, timezone

import pytest

from careline.db import make_engine
from careline.desk import analytics, words
from careline.desk.analytics import PeriodError, parse_period
from careline.feedback import FeedbackService
from careline.handoff.ticket import TicketFacts, build_ticket
from careline.handoff.tickets import TicketService
from tests.conftest import Clock

START = date(2031, 3, 1)  # after anything the seeded store holds


def at(day: int, hour: int = 9, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2031, 3, day, hour, minute, second, tzinfo=timezone.utc)


@pytest.fixture
def store(fresh_store_url):
    return make_engine(fresh_store_url)


@pytest.fixture
def tracker(tmp_path):
    """An empty tracker store with Rasa's `events` table (rasa.core.tracker_store.SQLTrackerStore)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'tracker.db'}")
    with engine.begin() as db:
        db.exec_driver_sql("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id TEXT, type_name TEXT, "
                           "timestamp REAL, intent_name TEXT, action_name TEXT, data TEXT)")
    return engine


def said(tracker, sender: str, when: datetime, intent: str, text: str = "hello", topic: str = "",
         frustration: float = 0.1, selector: bool = True) -> None:
    """A customer's message as Rasa stores it: the event's JSON with the NLU's parse_data. The NLU
    ranks the FAQ topics of every message (response_selector); only an `faq` intent answers from one."""
    parse = {"intent": {"name": intent, "confidence": 0.9}, "text": text, "frustration": {"score": frustration}}
    if selector:
        key = f"faq/{topic or 'contact'}"
        parse["response_selector"] = {"all_retrieval_intents": ["faq"], "faq": {
            "response": {"intent_response_key": key, "utter_action": f"utter_{key}", "confidence": 0.8,
                         "responses": [{"text": "..."}]},
            "ranking": [{"intent_response_key": key, "confidence": 0.8}]}}
    event = {"event": "user", "timestamp": when.timestamp(), "text": text, "parse_data": parse,
             "input_channel": "socketio"}
    with tracker.begin() as db:
        db.exec_driver_sql("INSERT INTO events (sender_id, type_name, timestamp, intent_name, data) "
                           "VALUES (?, 'user', ?, ?, ?)", (sender, when.timestamp(), intent, json.dumps(event)))


def bot_said(tracker, sender: str, when: datetime) -> None:
    with tracker.begin() as db:
        db.exec_driver_sql("INSERT INTO events (sender_id, type_name, timestamp, action_name, data) "
                           "VALUES (?, 'bot', ?, NULL, ?)",
                           (sender, when.timestamp(), json.dumps({"event": "bot", "text": "Hi"})))


def handed_off(store, conversation: str, when: datetime) -> None:
    draft = build_ticket(conversation, "socketio", "customer_request", [], TicketFacts())
    TicketService(store, now=Clock(when)).open(draft, f"{conversation}:{when.isoformat()}")


def rated(store, conversation: str, when: datetime, rating: int) -> None:
    assert FeedbackService(store, now=Clock(when)).record(conversation, rating)


def test_every_day_of_the_period_has_its_figures_and_empty_days_count_zero_with_no_rates(store, tracker):
    # day 1: two conversations, one handed off, one message not understood, rated 5 and 3
    said(tracker, "a", at(1, 9), "order_status")
    said(tracker, "a", at(1, 9, 1), "nlu_fallback")
    said(tracker, "b", at(1, 10), "request_refund")
    said(tracker, "b", at(1, 10, 2), "human_handoff")
    bot_said(tracker, "b", at(1, 10, 3))  # the bot's lines are no customer messages
    handed_off(store, "b", at(1, 10, 3))
    rated(store, "a", at(1, 9, 5), 5)
    rated(store, "b", at(1, 11), 3)
    # day 2: nothing at all; day 3: one conversation, a message at 23:59:59 and one at midnight UTC
    said(tracker, "c", at(3, 23, 59, 59), "order_status")
    said(tracker, "c", at(4, 0, 0, 0), "affirm")
    said(tracker, "d", at(4, 12), "return_item")
    handed_off(store, "d", at(4, 12, 1))
    said(tracker, "late", at(6, 0, 0, 0), "order_status")  # the day after the period
    said(tracker, "early", at(1, 0, 0, 0) - timedelta(seconds=1), "order_status")  # the day before

    report = analytics.report(store, tracker, START, date(2031, 3, 5))

    assert [day.day for day in report.days] == [START + timedelta(days=n) for n in range(5)]
    one, two, three, four, five = report.days
    assert (one.conversations, one.customer_messages, one.handoffs, one.fallbacks) == (2, 4, 1, 1)
    assert one.handoff_rate == 0.5 and one.containment_rate == 0.5 and one.fallback_rate == 0.25
    assert (one.ratings, one.csat_average) == (2, 4.0)
    for empty in (two, five):
        assert (empty.conversations, empty.customer_messages, empty.handoffs, empty.fallbacks, empty.ratings) == \
            (0, 0, 0, 0, 0)
        assert empty.handoff_rate is None and empty.fallback_rate is None  # nothing to divide: a gap, not 0%
        assert empty.csat_average is None and empty.containment_rate is None
    assert (three.conversations, three.customer_messages, three.handoffs) == (1, 1, 0)
    assert (four.conversations, four.customer_messages, four.handoffs, four.handoff_rate) == (2, 2, 1, 0.5)
    # the days add up to the period's totals
    assert report.customer_messages == sum(day.customer_messages for day in report.days) == 7
    assert report.handoffs == sum(day.handoffs for day in report.days) == 2
    assert report.conversations == 4 and report.fallbacks == 1

    exported = list(csv.reader(io.StringIO("\n".join(",".join(row) for row in report.day_rows()))))
    assert exported[0] == ["2031-03-01", "2", "4", "1", "0.500", "0.500", "1", "0.250", "2", "4.00"]
    assert exported[1] == ["2031-03-02", "0", "0", "0", "", "", "0", "", "0", ""]
    assert len(exported) == 5 and len(exported[0]) == len(analytics.DAY_COLUMNS)

    api = json.loads(json.dumps(report.as_json()))
    assert api["days_are"] == "UTC" and [d["day"] for d in api["days"]][:2] == ["2031-03-01", "2031-03-02"]
    assert api["days"][1] == {"day": "2031-03-02", "conversations": 0, "customer_messages": 0, "handoffs": 0,
                              "handoff_rate": None, "containment_rate": None, "fallbacks": 0, "fallback_rate": None,
                              "csat_ratings": 0, "csat_average": None}
    assert api["conversations"] == 4 and api["handoff_rate"] == 0.5


def test_faq_questions_are_counted_by_the_topic_the_bot_answered(store, tracker):
    for n in range(3):
        said(tracker, f"s{n}", at(2, 9, n), "faq", "how long does delivery take?", topic="shipping_times")
    said(tracker, "r", at(2, 10), "faq", "what is your return policy", topic="return_policy")
    # an FAQ typed as a payload names its topic in the intent itself (no response selector)
    event = {"event": "user", "parse_data": {"intent": {"name": "faq", "full_retrieval_intent_name": "faq/gift_cards"}}}
    with tracker.begin() as db:
        db.exec_driver_sql("INSERT INTO events (sender_id, type_name, timestamp, intent_name, data) "
                           "VALUES ('g', 'user', ?, 'faq', ?)", (at(2, 11).timestamp(), json.dumps(event)))
    # every message carries the topic ranking: only the ones read as an FAQ question count
    said(tracker, "o", at(2, 12), "order_status", topic="shipping_times")
    said(tracker, "x", at(2, 13), "faq", topic="shipping_times", selector=False)  # no topic known: not counted
    with tracker.begin() as db:  # an event whose JSON is broken counts as a message, with no topic
        db.exec_driver_sql("INSERT INTO events (sender_id, type_name, timestamp, intent_name, data) "
                           "VALUES ('y', 'user', ?, 'faq', '{not json')", (at(2, 14).timestamp(),))

    report = analytics.report(store, tracker, START, date(2031, 3, 3))

    assert report.faq_topics == [("shipping_times", 3), ("gift_cards", 1), ("return_policy", 1)]
    assert report.faq_questions == 5 and report.customer_messages == 8
    assert [words.topic_title(topic) for topic, _ in report.faq_topics] == \
        ["Shipping times", "Gift cards", "Return policy"]
    assert report.as_json()["faq_topics"][0] == {"topic": "shipping_times", "title": "Shipping times", "questions": 3}
    assert ("faq_topics", "shipping_times", "3") in report.rows()
    assert report.top_intents[0] == ("faq", 7)


def test_small_talk_is_left_out_of_the_top_intents_but_counted_as_messages(store, tracker):
    for n, intent in enumerate(["greet", "greet", "greet", "affirm", "affirm", "affirm", "deny", "deny", "thank",
                                "thank", "goodbye", "goodbye", "bot_challenge", "order_status", "order_status",
                                "return_item", "nlu_fallback"]):
        said(tracker, f"c{n % 4}", at(1, 9, n), intent)
    said(tracker, "ext", at(1, 11), "EXTERNAL_follow_up")  # the system's own trigger: no message at all

    report = analytics.report(store, tracker, START, START)

    assert report.customer_messages == 17
    assert report.top_intents == [("order_status", 2), ("nlu_fallback", 1), ("return_item", 1)]
    assert not analytics.SMALL_TALK_INTENTS & {name for name, _ in report.top_intents}
    assert {"greet", "goodbye", "thank", "affirm", "deny"} <= analytics.SMALL_TALK_INTENTS
    assert [words.intent_title(name) for name, _ in report.top_intents] == \
        ["Where is my order", "Not understood", "Return item"]
    assert report.as_json()["top_intents"][0] == {"intent": "order_status", "title": "Where is my order",
                                                  "messages": 2}


def test_a_store_without_conversations_yet_gives_zero_days(store, tmp_path):
    empty_tracker = make_engine(f"sqlite:///{tmp_path / 'nothing.db'}")  # Rasa has not written its table yet
    report = analytics.report(store, empty_tracker, START, date(2031, 3, 2))
    assert [(d.day, d.conversations, d.customer_messages) for d in report.days] == \
        [(START, 0, 0), (date(2031, 3, 2), 0, 0)]
    assert report.faq_topics == [] and report.top_intents == []


TODAY = date(2026, 11, 20)


def test_a_period_is_read_from_what_the_supervisor_typed():
    assert parse_period(None, None, TODAY) == analytics.Period(date(2026, 10, 22), TODAY)
    assert parse_period("", " ", TODAY).days == analytics.DEFAULT_PERIOD_DAYS
    assert parse_period("2026-11-01", "2026-11-01", TODAY).days == 1
    assert parse_period(None, "2026-06-30", TODAY) == analytics.Period(date(2026, 6, 1), date(2026, 6, 30))
    assert parse_period("2026-11-01", None, TODAY) == analytics.Period(date(2026, 11, 1), TODAY)
    assert parse_period("2024-01-01", "2024-12-31", TODAY).days == 366  # a leap year is one period


@pytest.mark.parametrize("start, end, reason", [
    ("2026-11-10", "2026-11-01", "The end date (2026-11-01) is before the start date (2026-11-10)"),
    ("2026-13-01", "2026-11-20", 'The start date "2026-13-01" is not a date: write it as YYYY-MM-DD'),
    ("2026-11-01", "yesterday", 'The end date "yesterday" is not a date'),
    ("2025-01-01", "2026-01-02", "That is 367 days; a report covers at most 366 days"),
    ("1999-12-31", "2000-01-02", "1999-12-31 is out of range"),
    ("9999-12-30", "9999-12-31", "9999-12-30 is out of range"),
    ("2026-11-01", "9999-12-31", "9999-12-31 is out of range"),
])
def test_a_period_that_makes_no_sense_is_refused_with_the_reason(start, end, reason):
    with pytest.raises(PeriodError) as refused:
        parse_period(start, end, TODAY)
    assert str(refused.value).startswith(reason)


def test_the_report_itself_refuses_a_period_that_makes_no_sense(store, tracker):
    with pytest.raises(ValueError, match="before the start date"):
        analytics.report(store, tracker, date(2026, 1, 2), date(2026, 1, 1))
    with pytest.raises(PeriodError, match="at most 366 days"):
        analytics.report(store, tracker, date(2020, 1, 1), date(2026, 1, 1))


def test_days_are_the_shops_days_in_its_time_zone(store, tracker):
    """A message at 03:00 UTC on 2 March is an evening message of 1 March for a team in New York."""
    from zoneinfo import ZoneInfo

    said(tracker, "evening", at(2, 3), "order_status")  # 22:00 on 1 March in New York (EST)
    handed_off(store, "evening", at(2, 3, 1))
    said(tracker, "morning", at(2, 14), "return_item")  # 09:00 on 2 March in New York
    new_york = analytics.report(store, tracker, START, date(2031, 3, 2), ZoneInfo("America/New_York"))
    assert [(day.day.day, day.customer_messages, day.handoffs) for day in new_york.days] == [(1, 1, 1), (2, 1, 0)]
    assert new_york.as_json()["days_are"] == "America/New_York"
    utc = analytics.report(store, tracker, START, date(2031, 3, 2))
    assert [(day.day.day, day.customer_messages, day.handoffs) for day in utc.days] == [(1, 0, 0), (2, 2, 1)]
