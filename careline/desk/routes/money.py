"""Money on a ticket: keys for the money forms, refunds and goodwill gestures, fee waivers. The
decision is careline.money's (through DeskService.claim); these routes only pass the form on."""
from __future__ import annotations

from typing import Any, Dict

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse

from careline.desk.web import act, desk_of

bp = Blueprint("money")


def _claim_message(result: Dict[str, Any]) -> str:
    if result["outcome"] in ("approve", "partial"):
        return f"Done: {result['kind']} of ${result['amount']} ({result['reference']})."
    return f"Not done ({result['outcome']}): {result['explanation']}"


@bp.post("/tickets/<ticket_id:int>/form-key")
async def form_key(request: Request, ticket_id: int) -> HTTPResponse:
    """A key for one money form (API clients; the ticket page has its own)."""
    desk = desk_of(request)
    return await act(request, ticket_id, lambda form, user: {
        "form_key": desk.service.issue_form_keys(ticket_id, user, ["form"])["form"]}, "Here is a form key.")


@bp.post("/tickets/<ticket_id:int>/refund")
async def refund(request: Request, ticket_id: int) -> HTTPResponse:
    desk = desk_of(request)
    return await act(request, ticket_id, lambda form, user: desk.service.claim(
        ticket_id, user, "goodwill" if form.get("goodwill") else "refund", form.get("form_key"),
        amount=form.get("amount"), reason=form.get("reason"),
        override_cap=form.get("override_cap") in ("1", "on", "true", True)), _claim_message)


@bp.post("/tickets/<ticket_id:int>/waiver")
async def waiver(request: Request, ticket_id: int) -> HTTPResponse:
    desk = desk_of(request)
    return await act(request, ticket_id, lambda form, user: desk.service.claim(
        ticket_id, user, "waiver", form.get("form_key"), charge_id=form.get("charge_id")), _claim_message)
