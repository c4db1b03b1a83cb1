"""The JSON API: health, the queue (and its live event stream for the queue page), a ticket, the
analytics figures (supervisors). Agent actions answer JSON on their own URLs (queue.py, money.py)."""
from __future__ import annotations

import asyncio
import functools
import json

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from careline.desk.routes.analytics import report_for
from careline.desk.routes.queue import ticket_context
from careline.desk.service import DeskError, NotFound
from careline.desk.web import desk_of, json_error, run, supervisor_only

bp = Blueprint("api")

SSE_INTERVAL_S = 1.0
SSE_MAX_S = 300.0


@bp.get("/health")
async def health(_: Request) -> HTTPResponse:
    return response.json({"status": "ok"})


@bp.get("/api/queue")
async def queue_api(request: Request) -> HTTPResponse:
    return response.json([item.as_dict() for item in await run(desk_of(request).service.queue)])


@bp.get("/api/queue/stream")
async def queue_stream(request: Request) -> None:
    service = desk_of(request).service
    stream = await request.respond(content_type="text/event-stream",
                                   headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
    last, waited = None, 0.0
    while waited < SSE_MAX_S:
        fingerprint = await run(service.queue_fingerprint)
        if fingerprint != last:
            items = [item.as_dict() for item in await run(service.queue)]
            await stream.send(f"event: queue\ndata: {json.dumps(items)}\n\n")
            last = fingerprint
        elif int(waited) % 15 == 0:
            await stream.send(": keep-alive\n\n")
        await asyncio.sleep(SSE_INTERVAL_S)
        waited += SSE_INTERVAL_S
    await stream.send("retry: 1000\n\n")
    await stream.eof()


@bp.get("/api/tickets/<ticket_id:int>")
async def ticket_api(request: Request, ticket_id: int) -> HTTPResponse:
    try:
        context = await ticket_context(request, ticket_id)
    except NotFound as error:
        return json_error(404, "not_found", str(error))
    view = context["view"]
    return response.json({**view.__dict__, "live": context["live"]},
                         dumps=functools.partial(json.dumps, default=str))


@bp.get("/api/analytics")
@supervisor_only
async def analytics_api(request: Request) -> HTTPResponse:
    try:
        report = await report_for(request)
    except DeskError as error:
        return json_error(400, "bad_dates", str(error))
    body = {**report.__dict__, "containment_rate": report.containment_rate,
            "handoff_rate": report.handoff_rate, "fallback_rate": report.fallback_rate}
    return response.json(body, dumps=functools.partial(json.dumps, default=str))
