"""The queue page and a ticket: its page and what an agent does with the conversation (take, reply,
note, resolve and hand back to the bot, close). Money forms are in money.py."""
from __future__ import annotations

from typing import Any, Dict, List

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from careline.desk.auth import DeskUser
from careline.desk.rasa_api import RasaUnavailable
from careline.desk.service import ACTIVE, Forbidden, NotFound, redact_lines
from careline.desk.web import act, current_user, desk_of, error_page, page, run

bp = Blueprint("queue")


async def ticket_context(request: Request, ticket_id: int) -> Dict[str, Any]:
    """A ticket's view and its live, redacted transcript from Rasa (None while Rasa is down);
    raises NotFound."""
    desk = desk_of(request)
    view = await run(desk.service.view, ticket_id)
    try:
        live = redact_lines(await run(desk.rasa.messages, view.ticket["conversation_id"]))
    except RasaUnavailable:
        live = None
    return {"view": view, "live": live}


@bp.get("/")
async def home(_: Request) -> HTTPResponse:
    return response.redirect("/queue")


@bp.get("/queue")
async def queue_page(request: Request) -> HTTPResponse:
    return page("queue.html", request, items=await run(desk_of(request).service.queue))


@bp.get("/tickets/<ticket_id:int>")
async def ticket_page(request: Request, ticket_id: int) -> HTTPResponse:
    try:
        context = await ticket_context(request, ticket_id)
    except NotFound as error:
        return error_page(request, 404, "No such ticket", str(error))
    view = context["view"]
    form_keys: Dict[str, str] = {}
    may_act = True
    if view.ticket["status"] in ACTIVE:
        forms: List[str] = (["refund", *(f"waiver-{fee['id']}" for fee in view.fees)]
                            if view.ticket["order_number"] else [])
        try:
            form_keys = await run(desk_of(request).service.issue_form_keys, ticket_id, current_user(request), forms)
        except Forbidden:
            may_act = False
    return page("ticket.html", request, form_keys=form_keys, may_act=may_act, **context)


@bp.post("/tickets/<ticket_id:int>/take")
async def take(request: Request, ticket_id: int) -> HTTPResponse:
    desk = desk_of(request)
    return await act(request, ticket_id, lambda form, user: desk.service.take(ticket_id, user),
                     "The conversation is yours.")


@bp.post("/tickets/<ticket_id:int>/reply")
async def reply(request: Request, ticket_id: int) -> HTTPResponse:
    desk = desk_of(request)

    def send(form: Dict[str, Any], user: DeskUser) -> None:
        desk.service.reply(ticket_id, user, form.get("text"),
                           lambda conversation, text: desk.rasa.send_agent_message(conversation, text, user.name))
    return await act(request, ticket_id, send, "Sent.")


@bp.post("/tickets/<ticket_id:int>/note")
async def note(request: Request, ticket_id: int) -> HTTPResponse:
    desk = desk_of(request)
    return await act(request, ticket_id, lambda form, user: desk.service.note(ticket_id, user, form.get("text")),
                     "Note added.")


@bp.post("/tickets/<ticket_id:int>/resolve")
async def resolve(request: Request, ticket_id: int) -> HTTPResponse:
    desk = desk_of(request)
    return await act(request, ticket_id, lambda form, user: desk.service.finish(
        ticket_id, user, "resolved", lambda conversation: desk.rasa.resume(conversation)),
        "Resolved; the bot has the conversation again.")


@bp.post("/tickets/<ticket_id:int>/close")
async def close(request: Request, ticket_id: int) -> HTTPResponse:
    desk = desk_of(request)
    return await act(request, ticket_id, lambda form, user: desk.service.finish(
        ticket_id, user, "closed", lambda conversation: desk.rasa.resume(conversation)),
        "Closed; the customer was told and the bot has the conversation again.")
