"""What every desk route shares, in one place: the session and CSRF check, the security headers,
who is signed in, rendering, banners (flash), error answers, the supervisor gate and the way an
agent action is run and answered. The routes themselves are in routes/, one module per area.

Banners come only from the server: `flash(resp, kind, text)` puts the server's own message in a
signed, HttpOnly, one-time cookie that the next `page()` shows and clears. Nothing in a URL ever
becomes a banner (a link with "?err=Your session expired, sign in at evil.example" shows nothing).
"""
from __future__ import annotations

import asyncio
import functools
import hmac
import logging
import secrets
import time
from typing import TYPE_CHECKING, Any, Callable, Coroutine, Dict, Mapping, Optional, Tuple, Union
from urllib.parse import quote, urlsplit

from sanic import response
from sanic.request import Request
from sanic.response import BaseHTTPResponse, HTTPResponse

from careline.desk.auth import DeskUser
from careline.desk.rasa_api import RasaUnavailable
from careline.desk.service import DeskError, Forbidden, NotFound
from careline.shared import Limit, RateLimiter, Signer, safe_json

if TYPE_CHECKING:
    from careline.desk.app import Desk

COOKIE = "careline_desk"
SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                                "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
PUBLIC = ("/login", "/health", "/static/")
FLASH_COOKIE = "careline_desk_flash"
FLASH_KINDS = ("ok", "err")
FLASH_MAX_AGE_S = 120
FLASH_MAX_CHARS = 500
#: Banners are signed with a secret of this process (a restart drops a banner not yet shown, nothing else).
_FLASH = Signer(secrets.token_urlsafe(32), "desk-flash")
log = logging.getLogger("careline.desk")

Handler = Callable[..., Coroutine[Any, Any, HTTPResponse]]
#: What an agent action did -> the message shown (or sent as JSON) when it is done.
#: A callable may answer (kind, text) to choose the banner: "ok", or "err" for a refusal (a money action).
Done = Union[str, Callable[[Any], Union[str, Tuple[str, str]]]]


async def run(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Database and HTTP calls are blocking: keep them off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(None, functools.partial(function, *args, **kwargs))


def desk_of(request: Request) -> Desk:
    """The app's collaborators (create_app puts them on app.ctx)."""
    desk: Desk = request.app.ctx.desk
    return desk


def current_user(request: Request) -> DeskUser:
    """The signed-in person (the authenticate middleware has checked the session)."""
    user: DeskUser = request.ctx.user
    return user


def wants_json(request: Request) -> bool:
    """API paths, and callers that accept or send JSON (fetch() from the pages), get JSON answers."""
    return (request.path.startswith("/api/") or "application/json" in request.headers.get("accept", "")
            or request.headers.get("content-type", "").startswith("application/json"))


def json_error(status: int, error: str, detail: str) -> HTTPResponse:
    return response.json({"error": error, "detail": detail}, status=status)


def flash(resp: HTTPResponse, kind: str, text: str) -> HTTPResponse:
    """Show `text` (the server's own words) as a banner on the next page: kind "ok" or "err"."""
    if kind not in FLASH_KINDS:
        raise ValueError(f"a banner is {' or '.join(FLASH_KINDS)}, not {kind!r}")
    resp.cookies[FLASH_COOKIE] = _FLASH.sign({"kind": kind, "text": text[:FLASH_MAX_CHARS], "at": int(time.time())})
    _cookie_flags(resp, FLASH_COOKIE, FLASH_MAX_AGE_S)
    return resp


def flashed(request: Request) -> Optional[Tuple[str, str]]:
    """(kind, text) of the banner this server set for this browser, if one is waiting and fresh."""
    payload = _FLASH.verify(request.cookies.get(FLASH_COOKIE))
    if not payload or payload.get("kind") not in FLASH_KINDS or not isinstance(payload.get("text"), str):
        return None
    if not isinstance(payload.get("at"), int) or abs(time.time() - payload["at"]) > FLASH_MAX_AGE_S:
        return None
    return payload["kind"], payload["text"]


def redirect_with(target: str, kind: str, text: str) -> HTTPResponse:
    """Redirect to one of our own paths with a banner."""
    return flash(response.redirect(target), kind, text)


def page(template: str, request: Request, status: int = 200, **context: Any) -> HTTPResponse:
    """A page, with the banner the server left for it (shown once)."""
    banner = flashed(request)
    message, error = ("", "") if banner is None else (banner[1], "") if banner[0] == "ok" else ("", banner[1])
    html = desk_of(request).templates.get_template(template).render(
        user=getattr(request.ctx, "user", None), csrf=getattr(request.ctx, "csrf", ""),
        message=message, error=error, **context)
    resp = response.html(html, status=status)
    if FLASH_COOKIE in request.cookies:
        resp.cookies[FLASH_COOKIE] = ""
        _cookie_flags(resp, FLASH_COOKIE, 0)
    return resp


def error_page(request: Request, status: int, title: str, detail: str) -> HTTPResponse:
    return page("error.html", request, status=status, title=title, detail=detail)


def _cookie_flags(resp: HTTPResponse, name: str, max_age: int) -> None:
    resp.cookies[name]["httponly"] = True
    resp.cookies[name]["samesite"] = "Strict"
    resp.cookies[name]["path"] = "/"
    resp.cookies[name]["max-age"] = max_age


def set_cookie(request: Request, resp: HTTPResponse, name: str, value: str, max_age: int) -> None:
    resp.cookies[name] = value
    _cookie_flags(resp, name, max_age)
    if desk_of(request).secure_cookies:
        resp.cookies[name]["secure"] = True


def limiter(request: Request, name: str, limit: Limit) -> RateLimiter:
    """The app's rate limiter called `name` (made on first use)."""
    limiters: Dict[str, RateLimiter] = request.app.ctx.__dict__.setdefault("limiters", {})
    if name not in limiters:
        limiters[name] = RateLimiter(limit)
    return limiters[name]


def quietly(what: str, poke: Callable[[], Any]) -> bool:
    """Run a courtesy call (telling the widget, announcing who joined); a failure is logged, never raised,
    so it never fails the agent's action. True when it worked."""
    try:
        poke()
    except Exception as error:  # noqa: BLE001 - any failure of a courtesy call is only logged
        detail = str(error) if isinstance(error, RasaUnavailable) else type(error).__name__
        log.warning("desk: %s failed (%s); the agent's action is done", what, detail)
        return False
    return True


async def authenticate(request: Request) -> Optional[HTTPResponse]:
    """Request middleware: a live session for everything but PUBLIC; on a POST our own Origin (when
    the browser sends one) and the session's CSRF token (form field `csrf` or header `X-CSRF-Token`)."""
    request.ctx.user, request.ctx.csrf = None, ""
    if request.path.startswith(PUBLIC) or request.path == "/login":
        return None
    found = await run(desk_of(request).accounts.resume_session, request.cookies.get(COOKIE))
    if found is None:
        if wants_json(request) or request.method != "GET":
            return json_error(401, "login_required", "sign in to the desk first")
        return response.redirect(f"/login?next={quote(request.path)}")
    request.ctx.user, request.ctx.csrf = found
    if request.method == "POST":
        origin = request.headers.get("origin")
        if origin and urlsplit(origin).netloc != request.host:
            return json_error(403, "bad_origin", "the request came from another site")
        given = request.headers.get("x-csrf-token") or (request.form.get("csrf") if request.form else None) or ""
        if not hmac.compare_digest(given.encode(), request.ctx.csrf.encode()):
            return json_error(403, "bad_csrf_token", "the form is out of date; reload the page")
    return None


async def security_headers(request: Request, resp: BaseHTTPResponse) -> None:
    """Response middleware: SECURITY_HEADERS on every answer (a route may set its own); the banner
    cookie is Secure like the session's when the desk is served over HTTPS."""
    for key, value in SECURITY_HEADERS.items():
        resp.headers.setdefault(key, value)
    if isinstance(resp, HTTPResponse) and FLASH_COOKIE in resp.cookies and desk_of(request).secure_cookies:
        resp.cookies[FLASH_COOKIE]["secure"] = True


def supervisor_only(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def wrapper(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
        if not current_user(request).is_supervisor:
            if wants_json(request):
                return json_error(403, "supervisors_only", "this needs the supervisor role")
            return error_page(request, 403, "Supervisors only",
                              "Analytics are for supervisors. Ask one if you need these figures.")
        return await handler(request, *args, **kwargs)
    return wrapper


async def act(request: Request, ticket_id: int, action: Callable[[Dict[str, Any], DeskUser], Any],
              done: Done, widget: Optional[Mapping[str, str]] = None) -> HTTPResponse:
    """Run an agent action on a ticket with the posted form (or JSON object) and answer it: JSON for
    fetch() and API clients, otherwise a redirect with a banner (to the queue after resolve and close).

    `widget`: where the action notes the conversation it told something ("conversation"); once the
    action is done the widget's server is told its state changed, in the background (WidgetPokes).
    (Who joined or left is told by the action itself, before it answers: that must come first.)"""
    form = safe_json.loads_or_none(request.body) if request.headers.get("content-type", "").startswith(
        "application/json") \
        else {k: request.form.get(k) for k in (request.form or {})}
    if not isinstance(form, dict):
        return json_error(400, "bad_request", "send a form or a JSON object")
    try:
        result = await run(action, form, current_user(request))
    except NotFound as error:
        return json_error(404, "not_found", str(error))
    except Forbidden as error:
        if wants_json(request):
            return json_error(403, "not_your_ticket", str(error))
        return error_page(request, 403, "Not your conversation", str(error))
    except DeskError as error:
        if wants_json(request):
            return json_error(400, "not_done", str(error))
        return redirect_with(f"/tickets/{ticket_id}", "err", str(error))
    except RasaUnavailable as error:
        if wants_json(request):
            return json_error(502, "bot_unavailable", str(error))
        return redirect_with(f"/tickets/{ticket_id}", "err", str(error))
    conversation = widget.get("conversation") if widget is not None else None
    if conversation:
        desk_of(request).pokes.state_changed(conversation, current_user(request).name)
    said = done(result) if callable(done) else done
    kind, message = said if isinstance(said, tuple) else ("ok", said)
    if wants_json(request):
        return response.json({"ok": True, "message": message, "result": result})
    target = "/queue" if request.path.endswith(("/resolve", "/close")) else f"/tickets/{ticket_id}"
    return redirect_with(target, kind, message)
