"""Support figures for supervisors, computed from the real stores.

The shop store gives tickets (handoffs, response and resolution times), ratings and follow-ups;
Rasa's SQL tracker store (its `events` table) gives conversations, intents, FAQ topics, fallbacks and
frustration (of what customers said: the intents the system triggers to write first are not customer
messages). Days are the shop's days (midnight to midnight in shop.yml's time zone, where the team
works; UTC when no zone is given); a period is `start`..`end`, both included, at most
MAX_PERIOD_DAYS long, and every day of it has its figures (counts are zero when nothing happened;
a rate or an average of nothing is None, drawn as a gap).
"""
from __future__ import annotations

import json
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Any, Dict, List, Mapping, Optional, Set, Tuple, TypedDict

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from careline.db import Feedback, FollowUp, Ticket
from careline.desk.words import FALLBACK_INTENT, FAQ_INTENT, SMALL_TALK_INTENTS, intent_title, topic_title
from careline.shared import EXTERNAL_INTENT_PREFIX, as_utc

FRUSTRATION_BUCKETS = ((0.0, 0.2), (0.2, 0.4), (0.4, 0.6), (0.6, 0.8), (0.8, 1.01))
#: The follow-up figures per kind, in the order the page and the CSV show them.
FOLLOW_UP_FIGURES = ("due", "sent", "resolved", "not_resolved", "no_answer", "not_sent", "waiting")
TOP_INTENTS = 10
#: The longest period one report covers (a year, leap day included) and the one shown by default.
MAX_PERIOD_DAYS = 366
DEFAULT_PERIOD_DAYS = 30
#: Dates a period may use (the stores hold nothing older; it keeps every day's arithmetic in range).
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)
DATE_FORMAT = "YYYY-MM-DD"


class PeriodError(ValueError):
    """The dates asked for make no period; the message says why, for the supervisor."""


@dataclass(frozen=True)
class Period:
    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def check_period(start: date, end: date) -> Period:
    """The period `start`..`end`, or PeriodError with the reason."""
    for day in (start, end):
        if not FIRST_DAY <= day <= LAST_DAY:
            raise PeriodError(f"{day.isoformat()} is out of range: pick dates from {FIRST_DAY} to {LAST_DAY}.")
    if end < start:
        raise PeriodError(f"The end date ({end}) is before the start date ({start}): "
                          "pick an end date on or after the start date.")
    period = Period(start, end)
    if period.days > MAX_PERIOD_DAYS:
        raise PeriodError(f"That is {period.days} days; a report covers at most {MAX_PERIOD_DAYS} days "
                          "(a year). Pick a shorter period.")
    return period


def _date(text: str, which: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise PeriodError(f'The {which} date "{text[:40]}" is not a date: write it as {DATE_FORMAT}, '
                          "for example 2026-11-20.") from None


def parse_period(start_text: Optional[str], end_text: Optional[str], today: date) -> Period:
    """The period of the dates a supervisor typed (YYYY-MM-DD; empty: the end is today and the start
    DEFAULT_PERIOD_DAYS before the end, that day included); PeriodError says what is wrong."""
    start_text, end_text = (start_text or "").strip(), (end_text or "").strip()
    end = _date(end_text, "end") if end_text else today
    start = _date(start_text, "start") if start_text else None
    if start is None:
        start = max(FIRST_DAY, end - timedelta(days=DEFAULT_PERIOD_DAYS - 1)) if end >= FIRST_DAY else end
    return check_period(start, end)


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
class Day:
    """One day's figures. A day without conversations has no rates and no average rating (None: there
    is nothing to divide, and 0% would read as a good day)."""

    day: date
    conversations: int = 0
    customer_messages: int = 0
    handoffs: int = 0
    fallbacks: int = 0
    ratings: int = 0
    rating_sum: int = 0

    @property
    def handoff_rate(self) -> Optional[float]:
        return None if not self.conversations else min(1.0, self.handoffs / self.conversations)

    @property
    def containment_rate(self) -> Optional[float]:
        return None if not self.conversations else max(0, self.conversations - self.handoffs) / self.conversations

    @property
    def fallback_rate(self) -> Optional[float]:
        return None if not self.customer_messages else self.fallbacks / self.customer_messages

    @property
    def csat_average(self) -> Optional[float]:
        return None if not self.ratings else self.rating_sum / self.ratings

    def as_dict(self) -> Dict[str, Any]:
        return {"day": self.day.isoformat(), "conversations": self.conversations,
                "customer_messages": self.customer_messages, "handoffs": self.handoffs,
                "handoff_rate": self.handoff_rate, "containment_rate": self.containment_rate,
                "fallbacks": self.fallbacks, "fallback_rate": self.fallback_rate,
                "csat_ratings": self.ratings, "csat_average": self.csat_average}


#: The per-day CSV's columns, in order (Day.as_dict's keys).
DAY_COLUMNS = ("day", "conversations", "customer_messages", "handoffs", "handoff_rate", "containment_rate",
               "fallbacks", "fallback_rate", "csat_ratings", "csat_average")


def _fmt(value: Optional[float], digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


@dataclass
class Report:
    start: date
    end: date
    zone: str = "UTC"  # the time zone of its days (the shop's)
    conversations: int = 0
    customer_messages: int = 0
    handoffs: int = 0
    handoff_reasons: Dict[str, int] = field(default_factory=dict)
    first_response_s: Optional[float] = None
    resolution_s: Optional[float] = None
    csat: Dict[str, CsatFigures] = field(default_factory=dict)
    frustration: List[Tuple[str, int]] = field(default_factory=list)
    top_intents: List[Tuple[str, int]] = field(default_factory=list)  # (intent, messages), small talk left out
    faq_topics: List[Tuple[str, int]] = field(default_factory=list)  # (topic, FAQ questions), most asked first
    fallbacks: int = 0
    follow_ups: Dict[str, FollowUpFigures] = field(default_factory=dict)  # per kind (refund, handoff, late_order ...)
    days: List[Day] = field(default_factory=list)  # every day of the period, in order

    @property
    def containment_rate(self) -> Optional[float]:
        return None if not self.conversations else max(0, self.conversations - self.handoffs) / self.conversations

    @property
    def handoff_rate(self) -> Optional[float]:
        return None if not self.conversations else min(1.0, self.handoffs / self.conversations)

    @property
    def fallback_rate(self) -> Optional[float]:
        return None if not self.customer_messages else self.fallbacks / self.customer_messages

    @property
    def faq_questions(self) -> int:
        return sum(n for _, n in self.faq_topics)

    def rows(self) -> List[Tuple[str, str, str]]:
        """(section, name, value) for the CSV export."""
        rows = [("period", "start", self.start.isoformat()), ("period", "end", self.end.isoformat()),
                ("volume", "conversations", str(self.conversations)),
                ("volume", "customer_messages", str(self.customer_messages)),
                ("rates", "containment_rate", _fmt(self.containment_rate)),
                ("rates", "handoff_rate", _fmt(self.handoff_rate)),
                ("rates", "fallback_rate", _fmt(self.fallback_rate)),
                ("times", "first_response_median_s", _fmt(self.first_response_s, 1)),
                ("times", "resolution_median_s", _fmt(self.resolution_s, 1))]
        rows += [("handoff_reasons", reason, str(n)) for reason, n in sorted(self.handoff_reasons.items())]
        for who, figures in sorted(self.csat.items()):
            rows += [(f"csat_{who}", "ratings", str(figures["count"])),
                     (f"csat_{who}", "average", _fmt(figures["average"], 2))]
        rows += [("frustration", label, str(n)) for label, n in self.frustration]
        rows += [(f"follow_ups_{kind}", name, str(figures[name]))  # type: ignore[literal-required]
                 for kind, figures in sorted(self.follow_ups.items()) for name in FOLLOW_UP_FIGURES]
        rows += [("top_intents", name, str(n)) for name, n in self.top_intents]
        rows += [("faq_topics", topic, str(n)) for topic, n in self.faq_topics]
        return rows

    def day_rows(self) -> List[Tuple[str, ...]]:
        """One row per day (DAY_COLUMNS) for the per-day CSV export; rates with 3 decimals, CSAT with 2."""
        rows = []
        for day in self.days:
            values = day.as_dict()
            rows.append(tuple(
                _fmt(values[name], 2 if name == "csat_average" else 3) if name.endswith(("_rate", "_average"))
                else str(values[name]) for name in DAY_COLUMNS))
        return rows

    def as_json(self) -> Dict[str, Any]:
        """The figures for the JSON API: codes with their words where a person reads them."""
        return {
            "start": self.start.isoformat(), "end": self.end.isoformat(), "days_are": self.zone,
            "conversations": self.conversations, "customer_messages": self.customer_messages,
            "handoffs": self.handoffs, "handoff_reasons": self.handoff_reasons,
            "containment_rate": self.containment_rate, "handoff_rate": self.handoff_rate,
            "fallbacks": self.fallbacks, "fallback_rate": self.fallback_rate,
            "first_response_s": self.first_response_s, "resolution_s": self.resolution_s,
            "csat": self.csat, "frustration": self.frustration, "follow_ups": self.follow_ups,
            "top_intents": [{"intent": name, "title": intent_title(name), "messages": n}
                            for name, n in self.top_intents],
            "small_talk_left_out": sorted(SMALL_TALK_INTENTS),
            "faq_topics": [{"topic": topic, "title": topic_title(topic), "questions": n}
                           for topic, n in self.faq_topics],
            "days": [day.as_dict() for day in self.days],
        }


def _bounds(start: date, end: date, zone: tzinfo) -> Tuple[datetime, datetime]:
    """The period's first and last moment as the stores keep time (naive UTC)."""
    def utc(day: date) -> datetime:
        return datetime.combine(day, time.min, tzinfo=zone).astimezone(timezone.utc).replace(tzinfo=None)
    return utc(start), utc(end + timedelta(days=1))


def _epoch(moment: datetime) -> float:
    return moment.replace(tzinfo=timezone.utc).timestamp()


def report(store: Engine, tracker: Engine, start: date, end: date, zone: tzinfo = timezone.utc) -> Report:
    """Figures for the days `start`..`end` (inclusive, days in `zone`); PeriodError (a ValueError) for a
    bad period."""
    check_period(start, end)
    low, high = _bounds(start, end, zone)
    result = Report(start, end, zone=str(zone))
    days = {start + timedelta(days=n): Day(start + timedelta(days=n)) for n in range((end - start).days + 1)}
    result.days = list(days.values())
    with store.connect() as db:
        tickets = db.execute(sa.select(Ticket.reason, Ticket.created_at, Ticket.first_response_at,
                                       Ticket.resolved_at, Ticket.conversation_id)
                             .where(Ticket.created_at >= low, Ticket.created_at < high)).all()
        ratings = db.execute(sa.select(Feedback.handled_by, Feedback.rating, Feedback.created_at)
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
    for when, _conversation in {(as_utc(t.created_at).astimezone(zone).date(), t.conversation_id) for t in tickets}:
        if when in days:
            days[when].handoffs += 1
    for rating in ratings:
        day = days.get(as_utc(rating.created_at).astimezone(zone).date())
        if day is not None:
            day.ratings += 1
            day.rating_sum += rating.rating
    result.follow_ups = _follow_up_figures(follow_ups)
    _conversation_figures(result, days, tracker, _epoch(low), _epoch(high), zone)
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


def faq_topic(parse_data: Mapping[str, Any]) -> Optional[str]:
    """The FAQ topic the NLU gave a message it read as an FAQ question ("shipping_times"), else None.

    The topic is the retrieval intent's key, "faq/shipping_times": in the response selector's answer
    (`response_selector.faq.response.intent_response_key`), or in the intent itself
    (`intent.full_retrieval_intent_name`, as Rasa writes it for a typed "/faq/shipping_times").
    """
    intent = parse_data.get("intent")
    if not isinstance(intent, Mapping) or intent.get("name") != FAQ_INTENT:
        return None
    selector = parse_data.get("response_selector")
    selected = selector.get(FAQ_INTENT) if isinstance(selector, Mapping) else None
    response = selected.get("response") if isinstance(selected, Mapping) else None
    key = response.get("intent_response_key") if isinstance(response, Mapping) else None
    key = key or intent.get("full_retrieval_intent_name")
    prefix = f"{FAQ_INTENT}/"
    if isinstance(key, str) and key.startswith(prefix) and len(key) > len(prefix):
        return key[len(prefix):]
    return None


def _conversation_figures(result: Report, days: Dict[date, Day], tracker: Engine, low: float,
                          high: float, zone: tzinfo) -> None:
    if "events" not in sa.inspect(tracker).get_table_names():
        return
    events = sa.table("events", sa.column("sender_id"), sa.column("type_name"), sa.column("timestamp"),
                      sa.column("intent_name"), sa.column("data"))
    with tracker.connect() as db:
        rows = db.execute(sa.select(events.c.sender_id, events.c.timestamp, events.c.intent_name, events.c.data)
                          .where(events.c.type_name == "user", events.c.timestamp >= low,
                                 events.c.timestamp < high,
                                 sa.or_(events.c.intent_name.is_(None),
                                        ~events.c.intent_name.like(f"{EXTERNAL_INTENT_PREFIX}%".replace("_", "\\_"),
                                                                   escape="\\")))).all()
    result.customer_messages = len(rows)
    result.conversations = len({r.sender_id for r in rows})
    intents = Counter(r.intent_name for r in rows if r.intent_name)
    result.fallbacks = intents.get(FALLBACK_INTENT, 0)
    result.top_intents = [(name, n) for name, n in _most_first(intents)
                          if name not in SMALL_TALK_INTENTS][:TOP_INTENTS]
    buckets = [0] * len(FRUSTRATION_BUCKETS)
    topics: Counter[str] = Counter()
    talked: Dict[date, Set[str]] = {}
    for row in rows:
        when = datetime.fromtimestamp(float(row.timestamp), zone).date()
        day = days.get(when)
        if day is not None:
            day.customer_messages += 1
            day.fallbacks += int(row.intent_name == FALLBACK_INTENT)
            talked.setdefault(when, set()).add(row.sender_id)
        parse = _parse_data(row.data)
        if row.intent_name == FAQ_INTENT:
            topic = faq_topic(parse)
            if topic:
                topics[topic] += 1
        try:
            score = float(parse.get("frustration", {}).get("score"))
        except (AttributeError, TypeError, ValueError):
            continue
        for index, (lower, upper) in enumerate(FRUSTRATION_BUCKETS):
            if lower <= score < upper:
                buckets[index] += 1
    for when, senders in talked.items():
        days[when].conversations = len(senders)
    result.faq_topics = _most_first(topics)
    result.frustration = [(f"{lo:.1f}-{min(hi, 1.0):.1f}", n) for (lo, hi), n in zip(FRUSTRATION_BUCKETS, buckets)]


def _most_first(counts: Counter[str]) -> List[Tuple[str, int]]:
    """The counts, most first, and by name among equals (the same order on every reading)."""
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def _parse_data(data: Optional[str]) -> Dict[str, Any]:
    """The NLU's reading of a stored user event ({} when the event holds none)."""
    try:
        event = json.loads(data or "{}")
    except ValueError:
        return {}
    parse = event.get("parse_data") if isinstance(event, dict) else None
    return parse if isinstance(parse, dict) else {}
