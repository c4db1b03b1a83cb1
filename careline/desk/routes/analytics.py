"""Support figures for supervisors: the analytics page and its CSV export (the JSON is in api.py)."""
from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Tuple

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from careline.desk.analytics import Report, report
from careline.desk.service import DeskError
from careline.desk.web import desk_of, error_page, json_error, page, run, supervisor_only
from careline.shared import utctoday

bp = Blueprint("analytics")


def _period(request: Request) -> Tuple[date, date]:
    """The ?from= and ?to= dates (YYYY-MM-DD), by default the last 30 days; raises DeskError."""
    today = utctoday()
    try:
        start = date.fromisoformat(request.args.get("from") or (today - timedelta(days=29)).isoformat())
        end = date.fromisoformat(request.args.get("to") or today.isoformat())
    except ValueError:
        raise DeskError("dates are written YYYY-MM-DD") from None
    if end < start:
        raise DeskError("the end date is before the start date")
    return start, end


async def report_for(request: Request) -> Report:
    """The report for the request's period; raises DeskError for bad dates."""
    start, end = _period(request)
    desk = desk_of(request)
    result: Report = await run(report, desk.store_engine, desk.tracker_engine, start, end)
    return result


@bp.get("/analytics")
@supervisor_only
async def analytics_page(request: Request) -> HTTPResponse:
    try:
        figures = await report_for(request)
    except DeskError as error:
        return error_page(request, 400, "Bad dates", str(error))
    return page("analytics.html", request, report=figures)


@bp.get("/analytics.csv")
@supervisor_only
async def analytics_csv(request: Request) -> HTTPResponse:
    try:
        figures = await report_for(request)
    except DeskError as error:
        return json_error(400, "bad_dates", str(error))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(("section", "name", "value"))
    writer.writerows(figures.rows())
    return response.text(buffer.getvalue(), content_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="careline-analytics-{figures.start}-{figures.end}.csv"'})
