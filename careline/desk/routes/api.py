"""The JSON API: health, the queue (and its live event stream), a ticket (and its live event stream
for the workspace page), the analytics figures (supervisors). Agent actions answer JSON on their
own URLs (queue.py, money.py).

Both streams are server-sent events, each a whole snapshot, so a reconnecting page is right at once:
the queue's ("queue" events) when its fingerprint changes and every QUEUE_REFRESH_S (waiting times
stay true); a ticket's ("ticket" events) when its conversation or its record changes
(careline.desk.live), with the queue's events too (?show=), so a workspace tab holds one connection.
"""
from __future__ import annotations

import asyncio
import functools
import json
from typing import Any, Dict, Optional

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from careline.desk import live, words
from careline.desk.analytics import PeriodError
from careline.desk.routes.analytics import report_for
from careline.desk.routes.queue import ticket_context
from careline.desk.service import NotFound
from careline.desk.web import current_user, desk_of, json_error, run, supervisor_only

bp = Blueprint("api")

SSE_INTERVAL_S = 1.0
SSE_MAX_S = 300.0
QUEUE_REFRESH_S = 30
#: A ticket's stream looks at the tracker store this often (one indexed read-only query), and at the
#: ticket's record (a write-locking transaction on SQLite) every RECORD_EVERY-th time.
TICKET_INTERVAL_S = 0.25
RECORD_EVERY = 4
#: Without a tracker store to look at (no events table), the conversation is reloaded this often.
TICKET_RELOAD_S = 3.0

_dumps = functools.partial(json.dumps, default=str)


@bp.get("/health")
async def health(_: Request) -> HTTPResponse:
    return response.json({"status": "ok"})


@bp.get("/api/queue")
async def queue_api(request: Request) -> HTTPResponse:
    show = words.show_filter(request.args.get("show"))
    items = await run(desk_of(request).service.queue, show, current_user(request))
    return response.json([item.as_dict() for item in items])


def _event(name: str, data: Any) -> str:
    return f"event: {name}\ndata: {_dumps(data)}\n\n"


class QueueWatch:
    """The queue as one agent filters it (?show=): a new snapshot when it changed or has aged."""

    def __init__(self, request: Request) -> None:
        self._service, self._user = desk_of(request).service, current_user(request)
        self._show = words.show_filter(request.args.get("show"))
        self._last: Any = None
        self._sent = 0.0

    async def news(self, now: float) -> Optional[str]:
        """The "queue" event to send at `now` (seconds into the stream), or None."""
        fingerprint = await run(self._service.queue_fingerprint)
        if fingerprint == self._last and now - self._sent < QUEUE_REFRESH_S:
            return None
        items = [item.as_dict() for item in await run(self._service.queue, self._show, self._user)]
        self._last, self._sent = fingerprint, now
        return _event("queue", items)


@bp.get("/api/queue/stream")
async def queue_stream(request: Request) -> None:
    watch = QueueWatch(request)
    stream = await request.respond(content_type="text/event-stream",
                                   headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
    waited = 0.0
    while waited < SSE_MAX_S:
        news = await watch.news(waited)
        if news:
            await stream.send(news)
        elif int(waited) % 15 == 0:
            await stream.send(": keep-alive\n\n")
        await asyncio.sleep(SSE_INTERVAL_S)
        waited += SSE_INTERVAL_S
    await stream.send("retry: 1000\n\n")
    await stream.eof()


def ticket_snapshot(context: Dict[str, Any]) -> Dict[str, Any]:
    """What the workspace page redraws: the ticket's record, the conversation's lines, the notes, and
    whether the lines are the saved copy (the bot server is not answering)."""
    return {"ticket": context["view"].ticket, "lines": context["lines"], "notes": context["notes"],
            "saved_copy": context["live"] is None}


@bp.get("/api/tickets/<ticket_id:int>")
async def ticket_api(request: Request, ticket_id: int) -> HTTPResponse:
    try:
        context = await ticket_context(request, ticket_id)
    except NotFound as error:
        return json_error(404, "not_found", str(error))
    view = context["view"]
    return response.json({**view.__dict__, **ticket_snapshot(context), "live": context["live"]}, dumps=_dumps)


@bp.get("/api/tickets/<ticket_id:int>/stream")
async def ticket_stream(request: Request, ticket_id: int) -> Optional[HTTPResponse]:
    desk = desk_of(request)
    try:
        conversation_id = (await run(desk.service.view, ticket_id)).ticket["conversation_id"]
    except NotFound as error:
        return json_error(404, "not_found", str(error))
    queue = QueueWatch(request)
    stream = await request.respond(content_type="text/event-stream",
                                   headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
    record, last, waited, sent, ticks, saved_copy = None, None, 0.0, 0.0, 0, False
    while waited < SSE_MAX_S:
        if ticks % RECORD_EVERY == 0:
            try:
                record = await run(desk.service.ticket_fingerprint, ticket_id)
            except NotFound:
                break
            news = await queue.news(waited)
            if news:
                await stream.send(news)
        mark = await run(live.tracker_mark, desk.tracker_engine, conversation_id)
        blind = mark is None or saved_copy  # nothing to watch, or the bot server was not answering
        if (record, mark) != last or (blind and waited - sent >= TICKET_RELOAD_S):
            try:
                context = await ticket_context(request, ticket_id)
            except NotFound:
                break
            snapshot = ticket_snapshot(context)
            await stream.send(_event("ticket", snapshot))
            last, sent, saved_copy = (record, mark), waited, snapshot["saved_copy"]
        elif ticks % int(15 / TICKET_INTERVAL_S) == 0:
            await stream.send(": keep-alive\n\n")
        await asyncio.sleep(TICKET_INTERVAL_S)
        waited += TICKET_INTERVAL_S
        ticks += 1
    await stream.send("retry: 1000\n\n")
    await stream.eof()
    return None


@bp.get("/api/analytics")
@supervisor_only
async def analytics_api(request: Request) -> HTTPResponse:
    """The analytics figures (Report.as_json: the period's totals and every UTC day); 400 for bad dates."""
    try:
        report = await report_for(request)
    except PeriodError as error:
        return json_error(400, "bad_dates", str(error))
    return response.json(report.as_json())
