"""The JSON API: health, the queue (and its live event stream), a ticket (and its live event stream
for the workspace page), the analytics figures (supervisors). Agent actions answer JSON on their
own URLs (queue.py, money.py).

Both streams are server-sent events, each a whole snapshot, so a reconnecting page is right at once:
the queue's ("queue" events) when its fingerprint changes and every QUEUE_REFRESH_S (waiting times
stay true); a ticket's ("ticket" events) when its conversation or its record changes, with the
queue's events too (?show=), so a workspace tab holds one connection.

What streams cost is bounded (careline.desk.live): a desk session holds at most
live.STREAMS_PER_SESSION streams (an agent live.STREAMS_PER_AGENT) - one more is refused with 429
and the page polls slowly instead; one watcher per ticket serves all its viewers; the queue's reads
are shared by every stream for SHARED_READ_S.
"""
from __future__ import annotations

import asyncio
import functools
import json
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Dict, Hashable, List, Optional, Tuple

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from careline.desk import live, words
from careline.desk.analytics import PeriodError
from careline.desk.routes.analytics import report_for
from careline.desk.routes.queue import ticket_context
from careline.desk.service import NotFound
from careline.desk.web import COOKIE, current_user, desk_of, json_error, run, supervisor_only
from careline.shared import digest

bp = Blueprint("api")

SSE_INTERVAL_S = 1.0
SSE_MAX_S = 300.0
QUEUE_REFRESH_S = 30
KEEP_ALIVE_S = 15.0
#: The queue's fingerprint and a filtered queue are read once for all streams this long.
SHARED_READ_S = 1.0
#: A refused stream's page polls this often (ticket.js, queue.js); said in the 429's words.
POLL_S = 5
SSE_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}

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


def live_of(request: Request) -> live.Live:
    """The app's live-view state (made on first use, in the server's event loop)."""
    shared: live.Live = request.app.ctx.__dict__.setdefault("live", live.Live())
    return shared


class QueueWatch:
    """The queue as one agent filters it (?show=): a new snapshot when it changed or has aged."""

    def __init__(self, request: Request) -> None:
        self._service, self._user = desk_of(request).service, current_user(request)
        self._show = words.show_filter(request.args.get("show"))
        self._reads = live_of(request).reads
        self._last: Any = None
        self._sent = 0.0

    async def news(self, now: float) -> Optional[str]:
        """The "queue" event to send at `now` (seconds into the stream), or None."""
        fingerprint = await self._reads.get("queue-fingerprint", SHARED_READ_S,
                                            lambda: run(self._service.queue_fingerprint))
        if fingerprint == self._last and now - self._sent < QUEUE_REFRESH_S:
            return None
        whose = self._user.id if self._show == "mine" else None  # the other filters are the same for everyone
        items = await self._reads.get(("queue", self._show, whose, fingerprint), SHARED_READ_S, self._load)
        self._last, self._sent = fingerprint, now
        return _event("queue", items)

    async def _load(self) -> List[Dict[str, Any]]:
        return [item.as_dict() for item in await run(self._service.queue, self._show, self._user)]


class TooManyStreams(Exception):
    pass


@asynccontextmanager
async def stream_slot(request: Request) -> AsyncIterator[None]:
    """One of the session's live streams, given back when the stream ends (or the browser goes away);
    raises TooManyStreams when the session or the agent holds all theirs already."""
    slots = live_of(request).slots
    session, agent = digest(request.cookies.get(COOKIE) or ""), current_user(request).id
    if not slots.take(session, agent):
        raise TooManyStreams()
    try:
        yield
    finally:
        slots.give_back(session, agent)


def too_many_streams() -> HTTPResponse:
    answer = json_error(429, "too_many_streams",
                        f"This desk session has {live.STREAMS_PER_SESSION} live views open already (one per tab; "
                        f"an agent may have {live.STREAMS_PER_AGENT}). Close a tab; this one refreshes every "
                        f"{POLL_S} seconds instead.")
    answer.headers["Retry-After"] = str(POLL_S)
    return answer


@bp.get("/api/queue/stream")
async def queue_stream(request: Request) -> Optional[HTTPResponse]:
    try:
        async with stream_slot(request):
            watch = QueueWatch(request)
            stream = await request.respond(content_type="text/event-stream", headers=SSE_HEADERS)
            waited = 0.0
            while waited < SSE_MAX_S:
                news = await watch.news(waited)
                if news:
                    await stream.send(news)
                elif int(waited) % int(KEEP_ALIVE_S) == 0:
                    await stream.send(": keep-alive\n\n")
                await asyncio.sleep(SSE_INTERVAL_S)
                waited += SSE_INTERVAL_S
            await stream.send("retry: 1000\n\n")
            await stream.eof()
    except TooManyStreams:
        return too_many_streams()
    return None


def ticket_snapshot(context: Dict[str, Any]) -> Dict[str, Any]:
    """What the workspace page redraws: the ticket's record, the conversation's lines, the notes, and
    whether the lines are the saved copy (the bot server is not answering)."""
    return {"ticket": context["view"].ticket, "lines": context["lines"], "notes": context["notes"],
            "saved_copy": context["live"] is None}


@bp.get("/api/tickets/<ticket_id:int>")
async def ticket_api(request: Request, ticket_id: int) -> HTTPResponse:
    try:
        context = await ticket_context(desk_of(request), ticket_id)
    except NotFound as error:
        return json_error(404, "not_found", str(error))
    view = context["view"]
    return response.json({**view.__dict__, **ticket_snapshot(context), "live": context["live"]}, dumps=_dumps)


def ticket_sources(request: Request, ticket_id: int, conversation_id: str) -> live.TicketSources:
    """How the shared watcher of a ticket looks at it: nothing in it belongs to one viewer (the snapshot
    is the same for every agent), so it holds only the app, not the first viewer's request."""
    desk = desk_of(request)

    async def record() -> Optional[Hashable]:
        try:
            fingerprint: Tuple[str, int, int] = await run(desk.service.ticket_fingerprint, ticket_id)
        except NotFound:
            return None
        return fingerprint

    async def mark() -> Optional[int]:
        found: Optional[int] = await run(live.tracker_mark, desk.tracker_engine, conversation_id)
        return found

    async def load() -> Optional[Tuple[str, bool]]:
        try:
            snapshot = ticket_snapshot(await ticket_context(desk, ticket_id))
        except NotFound:
            return None
        return _event("ticket", snapshot), bool(snapshot["saved_copy"])
    return live.TicketSources(record, mark, load)


@bp.get("/api/tickets/<ticket_id:int>/stream")
async def ticket_stream(request: Request, ticket_id: int) -> Optional[HTTPResponse]:
    """The ticket's snapshots (one watcher per ticket, shared by its viewers) and the agent's queue."""
    try:
        async with stream_slot(request):
            try:
                conversation_id = (await run(desk_of(request).service.view, ticket_id)).ticket["conversation_id"]
            except NotFound as error:
                return json_error(404, "not_found", str(error))
            queue = QueueWatch(request)
            stream = await request.respond(content_type="text/event-stream", headers=SSE_HEADERS)
            watching = live_of(request).tickets.watching(
                ticket_id, lambda: ticket_sources(request, ticket_id, conversation_id))
            async with watching as watch:
                clock = asyncio.get_running_loop().time
                start = wrote = clock()
                seen, next_queue = 0, 0.0
                while not watch.ended and clock() - start < SSE_MAX_S:
                    if clock() - start >= next_queue:
                        news = await queue.news(clock() - start)
                        next_queue += SSE_INTERVAL_S
                        if news:
                            await stream.send(news)
                            wrote = clock()
                    if watch.version != seen:
                        seen = watch.version
                        await stream.send(watch.event)
                        wrote = clock()
                    elif clock() - wrote >= KEEP_ALIVE_S:
                        await stream.send(": keep-alive\n\n")
                        wrote = clock()
                    await watch.wait(seen, next_queue - (clock() - start))
            await stream.send("retry: 1000\n\n")
            await stream.eof()
    except TooManyStreams:
        return too_many_streams()
    return None


@bp.get("/api/analytics")
@supervisor_only
async def analytics_api(request: Request) -> HTTPResponse:
    """The analytics figures (Report.as_json: the period's totals and every day, in the shop's time
    zone); 400 for bad dates."""
    try:
        report = await report_for(request)
    except PeriodError as error:
        return json_error(400, "bad_dates", str(error))
    return response.json(report.as_json())
