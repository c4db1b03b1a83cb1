"""Money on a ticket: refunds and goodwill gestures, fee waivers - reviewed first, applied on confirm.

1. Review (`POST /tickets/<id>/refund/review`, `/waiver/review`, with the form's `form_key`): the
   policy is asked with the agent's authority and nothing is applied; the agent sees "Refund $28.95
   on CL-100001 - allowed: <why>", or a refusal in words (careline.desk.money_view). JSON for fetch()
   (money.js), else a review page. An allowed review carries a `review_token` bound to what it shows.
2. Confirm (`POST /tickets/<id>/refund`, `/waiver`, with the review's `review_token` and its values):
   applied once per server-issued form key (a double click or a replay answers the first result),
   and only as reviewed (another amount, kind, reason, charge or cap override: review it again);
   with `tell` the customer hears the outcome as the agent's message, in the bot's own words for it.
3. Tell later (`POST /tickets/<id>/tell`, {reference}): the same message for an outcome not told yet
   (once: of concurrent requests only one sends).

The decision is careline.money's (through DeskService); these routes only pass the form on.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse

from careline.desk.auth import DeskUser
from careline.desk.rasa_api import RasaUnavailable
from careline.desk.service import DeskError, Forbidden, NotFound
from careline.desk.web import (act, current_user, desk_of, error_page, json_error, page, quietly, redirect_with, run,
                               wants_json)
from careline.shared import safe_json

bp = Blueprint("money")

TRUE = ("1", "on", "true", True)


def _flag(value: Any) -> bool:
    return value in TRUE


def _refund_kind(form: Dict[str, Any]) -> str:
    return "goodwill" if _flag(form.get("goodwill")) else "refund"


def _posted(request: Request) -> Optional[Dict[str, Any]]:
    """The posted form or JSON object (None for anything else)."""
    if request.headers.get("content-type", "").startswith("application/json"):
        body = safe_json.loads_or_none(request.body)
        return body if isinstance(body, dict) else None
    return {key: request.form.get(key) for key in (request.form or {})}


def _done(result: Dict[str, Any]) -> Tuple[str, str]:
    """The banner after a confirm: the outcome, and whether the customer was told (red for a refusal)."""
    message = str(result["message"])
    kind = "ok" if result["allowed"] else "err"
    if result.get("replayed"):  # the same confirm again (a double click, a retry): nothing was done again
        return kind, f"Already decided with this form: {message} Nothing was done again."
    if result.get("told"):
        message += " The customer was told."
    elif result.get("tell_error"):
        message += f" {result['tell_error']}"
    return kind, message


def _teller(request: Request, ticket_id: int, user: DeskUser,
            sent: Dict[str, str]) -> Callable[[Any], Dict[str, Any]]:
    """Tell the customer the outcome under a reference (DeskService.tell_outcome), as `user`'s message;
    a bot server that cannot be reached makes it {"told": False, "error": ...}, never a failed action."""
    desk = desk_of(request)

    def send(conversation_id: str, text: str) -> None:
        sent["conversation"] = conversation_id
        desk.rasa.send_agent_message(conversation_id, text, user.name)

    def tell(reference: Any) -> Dict[str, Any]:
        try:
            return desk.service.tell_outcome(
                ticket_id, user, reference, send,
                joining=lambda c: quietly(f"telling the customer that {user.name} joined",
                                          lambda: desk.rasa.announce(c, user.name, "joined")))
        except RasaUnavailable as error:
            return {"told": False, "error": f"The customer was not told: {error}. Try \"Tell the customer\" "
                                            "again in a moment."}
        except (DeskError, NotFound, Forbidden) as error:  # e.g. the ticket was finished meanwhile: paid all the same
            return {"told": False, "error": f"The customer was not told: {error}."}
    return tell


async def _review(request: Request, ticket_id: int, kind_of: Callable[[Dict[str, Any]], str]) -> HTTPResponse:
    """The policy's answer for the posted money form, applying nothing: JSON, or the review page."""
    desk = desk_of(request)

    def preview(form: Dict[str, Any], user: DeskUser) -> Dict[str, Any]:
        return desk.service.preview(ticket_id, user, kind_of(form), amount=form.get("amount"),
                                    reason=form.get("reason"), charge_id=form.get("charge_id"),
                                    override_cap=_flag(form.get("override_cap")), form_key=form.get("form_key") or "")
    if wants_json(request):
        return await act(request, ticket_id, preview, lambda shown: str(shown["text"]))
    form = _posted(request)
    if form is None:
        return json_error(400, "bad_request", "send a form or a JSON object")
    try:
        shown = await run(preview, form, current_user(request))
    except NotFound as error:
        return error_page(request, 404, "No such ticket", str(error))
    except Forbidden as error:
        return error_page(request, 403, "Not your conversation", str(error))
    except DeskError as error:
        return redirect_with(f"/tickets/{ticket_id}", "err", str(error))
    form_key = form.get("form_key") if isinstance(form.get("form_key"), str) else ""
    return page("money_review.html", request, ticket_id=ticket_id, review=shown, form_key=form_key,
                action=f"/tickets/{ticket_id}/{'waiver' if shown['kind'] == 'waiver' else 'refund'}")


async def _confirm(request: Request, ticket_id: int, kind_of: Callable[[Dict[str, Any]], str]) -> HTTPResponse:
    desk = desk_of(request)
    sent: Dict[str, str] = {}

    def confirm(form: Dict[str, Any], user: DeskUser) -> Dict[str, Any]:
        tell = _teller(request, ticket_id, user, sent) if _flag(form.get("tell")) else None
        return desk.service.confirm(ticket_id, user, kind_of(form), form.get("form_key"), amount=form.get("amount"),
                                    reason=form.get("reason"), charge_id=form.get("charge_id"),
                                    override_cap=_flag(form.get("override_cap")), tell=tell,
                                    review_token=form.get("review_token"))
    return await act(request, ticket_id, confirm, _done, widget=sent)


@bp.post("/tickets/<ticket_id:int>/form-key")
async def form_key(request: Request, ticket_id: int) -> HTTPResponse:
    """A key for one money form (API clients, and the page's next form after a confirm)."""
    desk = desk_of(request)
    return await act(request, ticket_id, lambda form, user: {
        "form_key": desk.service.issue_form_keys(ticket_id, user, ["form"])["form"]}, "Here is a form key.")


@bp.post("/tickets/<ticket_id:int>/refund/review")
async def refund_review(request: Request, ticket_id: int) -> HTTPResponse:
    return await _review(request, ticket_id, _refund_kind)


@bp.post("/tickets/<ticket_id:int>/waiver/review")
async def waiver_review(request: Request, ticket_id: int) -> HTTPResponse:
    return await _review(request, ticket_id, lambda form: "waiver")


@bp.post("/tickets/<ticket_id:int>/refund")
async def refund(request: Request, ticket_id: int) -> HTTPResponse:
    return await _confirm(request, ticket_id, _refund_kind)


@bp.post("/tickets/<ticket_id:int>/waiver")
async def waiver(request: Request, ticket_id: int) -> HTTPResponse:
    return await _confirm(request, ticket_id, lambda form: "waiver")


@bp.post("/tickets/<ticket_id:int>/tell")
async def tell(request: Request, ticket_id: int) -> HTTPResponse:
    """Tell the customer an outcome of this ticket (by its reference) that they have not heard yet."""
    sent: Dict[str, str] = {}

    def do(form: Dict[str, Any], user: DeskUser) -> Dict[str, Any]:
        return _teller(request, ticket_id, user, sent)(form.get("reference"))

    def done(told: Dict[str, Any]) -> Tuple[str, str]:
        if told.get("error"):
            return "err", str(told["error"])
        return "ok", "The customer was told." if told["told"] else "The customer was told already."
    return await act(request, ticket_id, do, done, widget=sent)
