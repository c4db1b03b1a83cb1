"""Support figures for supervisors: the analytics page and its CSV exports (the JSON is in api.py).

A period that makes no sense (unreadable dates, the end before the start, longer than a year) is
explained on the analytics page itself, with the form and what the supervisor typed (status 400);
the CSV and JSON answer 400 with the same reason.
"""
from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any, Dict, List, Mapping, Optional, Tuple

from markupsafe import Markup
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from careline.desk.analytics import (DAY_COLUMNS, DEFAULT_PERIOD_DAYS, MAX_PERIOD_DAYS,
                                     PeriodError, Report, parse_period, report)
from careline.desk.charts import COUNT, RATE, SCORE, reading, trend_chart
from careline.desk.words import SMALL_TALK_INTENTS, intent_title, reason_title, topic_title
from careline.desk.web import desk_of, json_error, page, run, supervisor_only


bp = Blueprint("analytics")

#: The trends the page draws per day: (Day's figure, title, how it reads).
TRENDS: Tuple[Tuple[str, str, str], ...] = (
    ("conversations", "Conversations", COUNT),
    ("customer_messages", "Customer messages", COUNT),
    ("handoffs", "Handoffs to a person", COUNT),
    ("handoff_rate", "Handoff rate", RATE),
    ("fallback_rate", "Messages not understood", RATE),
    ("csat_average", "Average rating (1-5)", SCORE),
)
#: How much of a typed date the page repeats back (it is escaped; this keeps the page small).
TYPED_MAX_CHARS = 40


async def report_for(request: Request) -> Report:
    """The report for the request's ?from= and ?to= (YYYY-MM-DD, the shop's days: shop.yml's time zone,
    where the team works); raises PeriodError."""
    desk = desk_of(request)
    zone = desk.settings.shop().timezone
    period = parse_period(request.args.get("from"), request.args.get("to"), datetime.now(zone).date())
    result: Report = await run(report, desk.store_engine, desk.tracker_engine, period.start, period.end, zone)
    return result


def trend_charts(figures: Report) -> List[Tuple[str, str, Markup]]:
    """(figure, title, SVG) of each trend in TRENDS."""
    days = [day.day for day in figures.days]
    return [(key, title, trend_chart(days, [getattr(day, key) for day in figures.days], title, kind))
            for key, title, kind in TRENDS]


def page_context(figures: Report) -> Dict[str, Any]:
    """What analytics.html draws for a report: the figures, with codes in words."""
    return {"report": figures, "problem": "",
            "typed": {"from": figures.start.isoformat(), "to": figures.end.isoformat()},
            "trends": trend_charts(figures), "trend_kinds": {key: kind for key, _, kind in TRENDS},
            "reading": reading, "topic_title": topic_title,
            "top_intents": [(intent_title(name), n) for name, n in figures.top_intents],
            "handoff_reasons": [(reason_title(reason), n) for reason, n in sorted(figures.handoff_reasons.items())],
            "small_talk": sorted(intent_title(name) for name in SMALL_TALK_INTENTS)}


def problem_context(problem: str, typed: Mapping[str, Optional[str]]) -> Dict[str, Any]:
    """What analytics.html shows for dates that make no period: the reason and the form as typed."""
    return {"report": None, "problem": problem, "default_days": DEFAULT_PERIOD_DAYS, "max_days": MAX_PERIOD_DAYS,
            "typed": {name: (typed.get(name) or "")[:TYPED_MAX_CHARS] for name in ("from", "to")}}


@bp.get("/analytics")
@supervisor_only
async def analytics_page(request: Request) -> HTTPResponse:
    try:
        figures = await report_for(request)
    except PeriodError as error:
        typed = {name: request.args.get(name) for name in ("from", "to")}
        return page("analytics.html", request, status=400, **problem_context(str(error), typed))
    return page("analytics.html", request, **page_context(figures))


@bp.get("/analytics.csv")
@supervisor_only
async def analytics_csv(request: Request) -> HTTPResponse:
    """The figures as CSV: section,name,value rows; with ?by=day one row per day (DAY_COLUMNS)."""
    try:
        figures = await report_for(request)
    except PeriodError as error:
        return json_error(400, "bad_dates", str(error))
    per_day = request.args.get("by") == "day"
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if per_day:
        writer.writerow(DAY_COLUMNS)
        writer.writerows(figures.day_rows())
    else:
        writer.writerow(("section", "name", "value"))
        writer.writerows(figures.rows())
    name = f"careline-analytics{'-per-day' if per_day else ''}-{figures.start}-{figures.end}.csv"
    return response.text(buffer.getvalue(), content_type="text/csv; charset=utf-8",
                         headers={"Content-Disposition": f'attachment; filename="{name}"'})
