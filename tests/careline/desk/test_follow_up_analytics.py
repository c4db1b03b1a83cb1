"""Supervisors see follow-up outcomes in the analytics (page, CSV, JSON), per kind, for the chosen days."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

from sqlalchemy.orm import Session

from careline.db import FollowUp, make_engine
from careline.desk import analytics

DAY = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)


def _follow_up(session, number, kind, status, outcome=None, due=DAY, reason=None):
    session.add(FollowUp(case_key=f"test:{number}", kind=kind, conversation_id=f"conv-{number}", case_at=due,
                         created_at=due, due_at=due, status=status, next_attempt_at=due, attempts=0,
                         outcome=outcome, not_sent_reason=reason, sent_at=due if status == "sent" else None))


def _tracker(tmp_path):
    tracker = make_engine(f"sqlite:///{tmp_path / 'tracker.db'}")
    with tracker.begin() as db:
        db.exec_driver_sql("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id TEXT, type_name TEXT, "
                           "timestamp REAL, intent_name TEXT, action_name TEXT, data TEXT)")
        for sender, intent in (("a", "request_refund"), ("a", "EXTERNAL_follow_up"), ("a", "affirm"),
                               ("b", "EXTERNAL_late_order")):
            db.exec_driver_sql("INSERT INTO events (sender_id, type_name, timestamp, intent_name, data) "
                               "VALUES (?, 'user', ?, ?, ?)", (sender, DAY.timestamp(), intent, json.dumps({})))
    return tracker


def test_follow_up_outcomes_per_kind_in_the_period(engine, tmp_path):
    with Session(engine) as session, session.begin():
        _follow_up(session, 1, "refund", "sent", "resolved")
        _follow_up(session, 2, "refund", "sent", "not_resolved")
        _follow_up(session, 3, "refund", "sent", "no_answer")
        _follow_up(session, 4, "refund", "sent")
        _follow_up(session, 5, "refund", "not_sent", reason="messenger_window_closed")
        _follow_up(session, 6, "handoff", "scheduled")
        _follow_up(session, 7, "late_order", "sent")
        _follow_up(session, 8, "refund", "sent", "resolved", due=DAY - timedelta(days=30))  # another period
    report = analytics.report(engine, _tracker(tmp_path), date(2026, 11, 19), date(2026, 11, 21))
    assert report.follow_ups["refund"] == {"due": 5, "sent": 4, "resolved": 1, "not_resolved": 1, "no_answer": 1,
                                           "not_sent": 1, "waiting": 0}
    assert report.follow_ups["handoff"]["waiting"] == 1 and report.follow_ups["late_order"]["sent"] == 1
    assert ("follow_ups_refund", "not_resolved", "1") in report.rows()
    assert ("follow_ups_late_order", "sent", "1") in report.rows()
    # what the system triggered to write first is not a customer message
    assert (report.customer_messages, report.conversations) == (2, 1)
    assert "EXTERNAL_follow_up" not in dict(report.top_intents)


def test_no_follow_ups_no_rows(engine, tmp_path):
    report = analytics.report(engine, _tracker(tmp_path), date(2025, 1, 1), date(2025, 1, 2))
    assert report.follow_ups == {} and not [row for row in report.rows() if row[0].startswith("follow_ups")]
