"""Support figures for supervisors, computed from the real stores.

The shop store gives tickets (handoffs, response and resolution times), ratings and follow-ups;
Rasa's SQL tracker store (its `events` table) gives conversations, intents, fallbacks and frustration
(of what customers said: the intents the system triggers to write first are not customer messages).
"""
from __future__ import annotations

import json
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Dict, List, Optional, Tuple, TypedDict

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from careline.db import Feedback, FollowUp, Ticket
from careline.shared import EXTERNAL_INTENT_PREFIX

FRUSTRATION_BUCKETS = ((0.0, 0.2), (0.2, 0.4), (0.4, 0.6), (0.6, 0.8), (0.8, 1.01))
FALLBACK_INTENT = "nlu_fallback"
#: The follow-up figures per kind, in the order the page and the CSV show them.
FOLLOW_UP_FIGURES = ("due", "sent", "resolved", "not_resolved", "no_answer", "not_sent", "waiting")


class CsatFigures(TypedDict):
    """The ratings of conversations handled by the bot or by agents; `average` is None without any."""

    count: int
    average: Optional[float]


class FollowUpFigures(TypedDict):
    """Follow-ups due in the period, of one kind: how many were asked (sent) and how the customers
    answered (resolved: yes; not_resolved: no, handed to a person; no_answer), how many could not be
    sent (not_sent: the channel may not write first, the conversation was gone, expired) and how many
    still wait (waiting)."""

    due: int
    sent: int
    resolved: int
    not_resolved: int
    no_answer: int
    not_sent: int
    waiting: int


@dataclass
class Report:
    start: date
    end: date
    conversations: int = 0
    customer_messages: int = 0
    handoffs: int = 0
    handoff_reasons: Dict[str, int] = field(default_factory=dict)
    first_response_s: Optional[float] = None
    resolution_s: Optional[float] = None
    csat: Dict[str, CsatFigures] = field(default_factory=dict)
    frustration: List[Tuple[str, int]] = field(default_factory=list)
    top_intents: List[Tuple[str, int]] = field(default_factory=list)
    fallbacks: int = 0
    follow_ups: Dict[str, FollowUpFigures] = field(default_factory=dict)  # per kind (refund, handoff, late_order ...)

    @property
    def containment_rate(self) -> Optional[float]:
        return None if not self.conversations else max(0, self.conversations - self.handoffs) / self.conversations

    @property
    def handoff_rate(self) -> Optional[float]:
        return None if not self.conversations else min(1.0, self.handoffs / self.conversations)

    @property
    def fallback_rate(self) -> Optional[float]:
        return None if not self.customer_messages else self.fallbacks / self.customer_messages

    def rows(self) -> List[Tuple[str, str, str]]:
        """(section, name, value) for the CSV export."""
        def fmt(value: Optional[float], digits: int = 3) -> str:
            return "" if value is None else f"{value:.{digits}f}"

        rows = [("period", "start", self.start.isoformat()), ("period", "end", self.end.isoformat()),
                ("volume", "conversations", str(self.conversations)),
                ("volume", "customer_messages", str(self.customer_messages)),
                ("rates", "containment_rate", fmt(self.containment_rate)),
                ("rates", "handoff_rate", fmt(self.handoff_rate)),
                ("rates", "fallback_rate", fmt(self.fallback_rate)),
                ("times", "first_response_median_s", fmt(self.first_response_s, 1)),
                ("times", "resolution_median_s", fmt(self.resolution_s, 1))]
        rows += [("handoff_reasons", reason, str(n)) for reason, n in sorted(self.handoff_reasons.items())]
        for who, figures in sorted(self.csat.items()):
            rows += [(f"csat_{who}", "ratings", str(figures["count"])),
                     (f"csat_{who}", "average", fmt(figures["average"], 2))]
        rows += [("frustration", label, str(n)) for label, n in self.frustration]
        rows += [(f"follow_ups_{kind}", name, str(figures[name]))  # type: ignore[literal-required]
                 for kind, figures in sorted(self.follow_ups.items()) for name in FOLLOW_UP_FIGURES]
        rows += [("top_intents", name, str(n)) for name, n in self.top_intents]
        return rows


def _bounds(start: date, end: date) -> Tuple[datetime, datetime]:
    return datetime.combine(start, time.min), datetime.combine(end + timedelta(days=1), time.min)


def _epoch(moment: datetime) -> float:
    return moment.replace(tzinfo=timezone.utc).timestamp()


def report(store: Engine, tracker: Engine, start: date, end: date) -> Report:
    """Figures for the days `start`..`end` (inclusive, UTC)."""
    if end < start:
        raise ValueError("the end date is before the start date")
    low, high = _bounds(start, end)
    result = Report(start, end)
    with store.connect() as db:
        tickets = db.execute(sa.select(Ticket.reason, Ticket.created_at, Ticket.first_response_at,
                                       Ticket.resolved_at, Ticket.conversation_id)
                             .where(Ticket.created_at >= low, Ticket.created_at < high)).all()
        ratings = db.execute(sa.select(Feedback.handled_by, Feedback.rating)
                             .where(Feedback.created_at >= low, Feedback.created_at < high)).all()
        follow_ups = db.execute(sa.select(FollowUp.kind, FollowUp.status, FollowUp.outcome)
                                .where(FollowUp.due_at >= low, FollowUp.due_at < high)).all()
    result.handoffs = len({t.conversation_id for t in tickets})
    result.handoff_reasons = dict(Counter(t.reason for t in tickets))
    firsts = [(t.first_response_at - t.created_at).total_seconds() for t in tickets if t.first_response_at]
    resolved = [(t.resolved_at - t.created_at).total_seconds() for t in tickets if t.resolved_at]
    result.first_response_s = statistics.median(firsts) if firsts else None
    result.resolution_s = statistics.median(resolved) if resolved else None
    for who in ("bot", "agent"):
        scores = [r.rating for r in ratings if r.handled_by == who]
        result.csat[who] = {"count": len(scores), "average": statistics.mean(scores) if scores else None}
    result.follow_ups = _follow_up_figures(follow_ups)
    _conversation_figures(result, tracker, _epoch(low), _epoch(high))
    return result


def _follow_up_figures(rows: List[sa.Row]) -> Dict[str, FollowUpFigures]:
    figures: Dict[str, FollowUpFigures] = {}
    for row in rows:
        kind = figures.setdefault(row.kind, FollowUpFigures(due=0, sent=0, resolved=0, not_resolved=0,
                                                            no_answer=0, not_sent=0, waiting=0))
        kind["due"] += 1
        if row.status == "sent":
            kind["sent"] += 1
        elif row.status == "not_sent":
            kind["not_sent"] += 1
        else:
            kind["waiting"] += 1
        if row.outcome == "resolved":
            kind["resolved"] += 1
        elif row.outcome == "not_resolved":
            kind["not_resolved"] += 1
        elif row.outcome == "no_answer":
            kind["no_answer"] += 1
    return figures


def _conversation_figures(result: Report, tracker: Engine, low: float, high: float) -> None:
    if "events" not in sa.inspect(tracker).get_table_names():
        return
    events = sa.table("events", sa.column("sender_id"), sa.column("type_name"), sa.column("timestamp"),
                      sa.column("intent_name"), sa.column("data"))
    with tracker.connect() as db:
        rows = db.execute(sa.select(events.c.sender_id, events.c.intent_name, events.c.data)
                          .where(events.c.type_name == "user", events.c.timestamp >= low,
                                 events.c.timestamp < high,
                                 sa.or_(events.c.intent_name.is_(None),
                                        ~events.c.intent_name.like(f"{EXTERNAL_INTENT_PREFIX}%".replace("_", "\\_"),
                                                                   escape="\\")))).all()
    result.customer_messages = len(rows)
    result.conversations = len({r.sender_id for r in rows})
    intents = Counter(r.intent_name for r in rows if r.intent_name)
    result.fallbacks = intents.get(FALLBACK_INTENT, 0)
    result.top_intents = intents.most_common(10)
    buckets = [0] * len(FRUSTRATION_BUCKETS)
    for row in rows:
        try:
            score = float(json.loads(row.data or "{}").get("parse_data", {}).get("frustration", {}).get("score"))
        except (TypeError, ValueError):
            continue
        for index, (lower, upper) in enumerate(FRUSTRATION_BUCKETS):
            if lower <= score < upper:
                buckets[index] += 1
    result.frustration = [(f"{lo:.1f}-{min(hi, 1.0):.1f}", n) for (lo, hi), n in zip(FRUSTRATION_BUCKETS, buckets)]
