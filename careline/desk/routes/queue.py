"""The queue page and a ticket: its workspace page and what an agent does with the conversation
(take, reply, note, resolve and hand back to the bot, close, "typing"). Money forms are in money.py.

What the customer is told of the agent's actions (who joined and left, contract 2) and the pokes to
the website widget (typing, state: contract 3) are courtesy calls: logged when they fail, never
failing the action itself (careline.desk.web.quietly; a state poke that fails is sent again,
careline.desk.widget_pokes).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Optional

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from careline.desk import conversation, macros, words
from careline.desk.auth import DeskUser
from careline.desk.rasa_api import RasaUnavailable
from careline.desk.service import ACTIVE, DeskError, Forbidden, NotFound, redact_lines
from careline.desk.web import (act, current_user, desk_of, error_page, json_error, limiter, log, page, quietly,
                               run)
from careline.shared import Limit, safe_json

if TYPE_CHECKING:
    from careline.desk.app import Desk

bp = Blueprint("queue")

#: "The agent is typing" pokes per agent and ticket: the page sends at most one every 2 s, and a
#: "stopped" when the reply is sent; a burst allows both.
TYPING_LIMIT = Limit(per_minute=40, burst=4)


async def ticket_context(desk: Desk, ticket_id: int) -> Dict[str, Any]:
    """A ticket's view, its conversation as the desk shows it (careline.desk.conversation, redacted)
    and its internal notes; `live` is None while Rasa is down (the lines are then the saved copy).
    Nothing in it depends on who looks. Raises NotFound."""
    view = await run(desk.service.view, ticket_id)
    try:
        live: Optional[List[Dict[str, Any]]] = conversation.from_tracker(
            redact_lines(await run(desk.rasa.messages, view.ticket["conversation_id"])))
    except RasaUnavailable:
        live = None
    shown = live if live is not None else conversation.from_saved(view.transcript)
    return {"view": view, "live": live, "lines": conversation.merged(shown, view.events),
            "notes": conversation.notes(view.events)}


def saved_replies(view: Any, user: DeskUser) -> Dict[str, Any]:
    """The macros filled for this ticket and agent, or why there are none (macros.yml unreadable)."""
    try:
        loaded = macros.load()
    except (macros.MacroError, OSError) as error:
        log.warning("desk: macros.yml cannot be used: %s", error)
        return {"macros": [], "macros_error": "Saved replies are unavailable: macros.yml needs fixing."}
    known = macros.values(view.customer["name"] if view.customer else None, view.ticket["order_number"], user.name)
    return {"macros": macros.fill(loaded, known), "macros_error": ""}


@bp.get("/")
async def home(_: Request) -> HTTPResponse:
    return response.redirect("/queue")


@bp.get("/queue")
async def queue_page(request: Request) -> HTTPResponse:
    show = words.show_filter(request.args.get("show"))
    items = await run(desk_of(request).service.queue, show, current_user(request))
    return page("queue.html", request, items=items, show=show, filters=words.SHOW_FILTERS,
                empty=words.EMPTY_QUEUE[show])


@bp.get("/tickets/<ticket_id:int>")
async def ticket_page(request: Request, ticket_id: int) -> HTTPResponse:
    try:
        context = await ticket_context(desk_of(request), ticket_id)
    except NotFound as error:
        return error_page(request, 404, "No such ticket", str(error))
    view = context["view"]
    user = current_user(request)
    form_keys: Dict[str, str] = {}
    may_act = True
    if view.ticket["status"] in ACTIVE:
        forms: List[str] = (["refund", *(f"waiver-{fee['id']}" for fee in view.fees)]
                            if view.ticket["order_number"] else [])
        try:
            form_keys = await run(desk_of(request).service.issue_form_keys, ticket_id, user, forms)
        except Forbidden:
            may_act = False
    show = words.show_filter(request.args.get("show"))
    items = await run(desk_of(request).service.queue, show, user)
    return page("ticket.html", request, form_keys=form_keys, may_act=may_act, items=items, show=show,
                filters=words.SHOW_FILTERS, empty=words.EMPTY_QUEUE[show], words=words, moment=conversation.moment,
                **saved_replies(view, user), **context)


@bp.post("/tickets/<ticket_id:int>/take")
async def take(request: Request, ticket_id: int) -> HTTPResponse:
    desk = desk_of(request)
    done: Dict[str, Any] = {}

    def do(form: Dict[str, Any], user: DeskUser) -> None:
        conversation = desk.service.conversation_for(ticket_id, user)[0]
        done["conversation"] = conversation
        if desk.service.take(ticket_id, user):
            # Before answering the agent: "Ana joined the chat" must reach the customer before
            # anything Ana sends next (in the background it could arrive after her first reply).
            quietly(f"telling the customer that {user.name} joined",
                    lambda: desk.rasa.announce(conversation, user.name, "joined"))
    return await act(request, ticket_id, do, "The conversation is yours.", widget=done)


@bp.post("/tickets/<ticket_id:int>/reply")
async def reply(request: Request, ticket_id: int) -> HTTPResponse:
    desk = desk_of(request)
    done: Dict[str, Any] = {}

    def send(conversation_id: str, text: str, user: DeskUser) -> None:
        done["conversation"] = conversation_id
        desk.rasa.send_agent_message(conversation_id, text, user.name)

    def do(form: Dict[str, Any], user: DeskUser) -> None:
        desk.service.reply(ticket_id, user, form.get("text"), lambda c, text: send(c, text, user),
                           joining=lambda c: quietly(f"telling the customer that {user.name} joined",
                                                     lambda: desk.rasa.announce(c, user.name, "joined")))
    return await act(request, ticket_id, do, "Sent.", widget=done)


@bp.post("/tickets/<ticket_id:int>/note")
async def note(request: Request, ticket_id: int) -> HTTPResponse:
    desk = desk_of(request)
    return await act(request, ticket_id, lambda form, user: desk.service.note(ticket_id, user, form.get("text")),
                     "Note added.")


def _finish(request: Request, ticket_id: int, status: str, message: str) -> Any:
    desk = desk_of(request)
    done: Dict[str, Any] = {}

    def do(form: Dict[str, Any], user: DeskUser) -> None:
        def resume(conversation_id: str) -> None:
            done["conversation"] = conversation_id
            if status == "resolved":  # a close is told by the bot itself (action_handback)
                quietly(f"telling the customer that {user.name} left",
                        lambda: desk.rasa.announce(conversation_id, user.name, "left"))
            desk.rasa.resume(conversation_id)
        desk.service.finish(ticket_id, user, status, resume)
    return act(request, ticket_id, do, message, widget=done)


@bp.post("/tickets/<ticket_id:int>/resolve")
async def resolve(request: Request, ticket_id: int) -> HTTPResponse:
    answer: HTTPResponse = await _finish(request, ticket_id, "resolved",
                                         "Resolved; the bot has the conversation again.")
    return answer


@bp.post("/tickets/<ticket_id:int>/close")
async def close(request: Request, ticket_id: int) -> HTTPResponse:
    answer: HTTPResponse = await _finish(request, ticket_id, "closed",
                                         "Closed; the customer was told and the bot has the conversation again.")
    return answer


def _typing_flag(request: Request) -> Optional[bool]:
    """The posted {"typing": true|false} (JSON) or typing=1|0 (form); None when it is neither."""
    if request.headers.get("content-type", "").startswith("application/json"):
        body = safe_json.loads_or_none(request.body)
        value = body.get("typing") if isinstance(body, dict) else None
        return value if isinstance(value, bool) else None
    raw = (request.form or {}).get("typing")
    return {"1": True, "true": True, "0": False, "false": False}.get(str(raw).lower()) if raw is not None else None


@bp.post("/tickets/<ticket_id:int>/typing")
async def typing(request: Request, ticket_id: int) -> HTTPResponse:
    """The agent is typing a reply (or stopped): shown on the customer's widget (contract 3)."""
    flag = _typing_flag(request)
    if flag is None:
        return json_error(400, "bad_request", 'send {"typing": true} or {"typing": false}')
    desk, user = desk_of(request), current_user(request)
    try:
        conversation_id = (await run(desk.service.conversation_for, ticket_id, user))[0]
    except NotFound as error:
        return json_error(404, "not_found", str(error))
    except Forbidden as error:
        return json_error(403, "not_your_ticket", str(error))
    except DeskError as error:
        return json_error(400, "not_done", str(error))
    verdict = limiter(request, "typing", TYPING_LIMIT).hit(f"{user.id}:{ticket_id}")
    if not verdict.allowed:
        return response.json({"error": "slow_down", "detail": "typing is sent at most every 2 seconds",
                              "retry_after_s": round(verdict.retry_after_s, 1)}, status=429)
    delivered = await run(quietly, "telling the widget the agent is typing", lambda: desk.rasa.agent_event(
        conversation_id, "typing", agent=user.name, typing=flag))
    return response.json({"ok": True, "delivered": delivered})
