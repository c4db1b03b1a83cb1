"""The agent desk web app (Sanic): login, live queue, conversation view, agent actions, analytics.

Every page and API needs a signed-in session; every POST needs the session's CSRF token (form
field `csrf` or header `X-CSRF-Token`) and, when the browser sends one, our own Origin.
Supervisor-only: analytics and its CSV export.
"""
from __future__ import annotations

import asyncio
import csv
import functools
import hmac
import io
import json
import secrets
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Callable, Dict, Optional
from urllib.parse import quote, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from careline.db import make_engine
from careline.desk import analytics
from careline.desk.auth import Accounts, DeskUser
from careline.desk.charts import bar_chart, sparkline
from careline.desk.rasa_api import RasaAPI, RasaUnavailable
from careline.desk.service import ACTIVE, DeskError, DeskService, Forbidden, NotFound, redact_lines
from careline.money import ClaimService, load_policy
from careline.shared import Limit, RateLimiter, Settings, safe_json, utctoday

HERE = Path(__file__).resolve().parent
COOKIE = "careline_desk"
LOGIN_COOKIE = "careline_desk_login"
SSE_INTERVAL_S = 1.0
SSE_MAX_S = 300.0
SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                                "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
PUBLIC = ("/login", "/health", "/static/")
#: Failed sign-ins one address may make across all accounts (password spraying), checked before
#: any database or password-hashing work; a successful sign-in gives its token back.
LOGIN_PER_ADDRESS = Limit(per_minute=10, burst=20)
TOO_MANY_LOGINS = "Too many failed attempts. Wait a minute and try again."


class Desk:
    """The app's collaborators, built once per process."""

    def __init__(self, settings: Settings, rasa: Optional[RasaAPI] = None) -> None:
        engine = make_engine(settings.store_db_url)
        self.settings = settings
        self.store_engine = engine
        self.tracker_engine = make_engine(settings.tracker_db_url, read_only=True)
        self.accounts = Accounts(engine)
        self.service = DeskService(engine, ClaimService(engine, load_policy()))
        self.rasa = rasa or RasaAPI(settings.rasa_url, settings.auth_token)
        self.login_limiter = RateLimiter(Limit(per_minute=10, burst=5))  # failures per address and account
        self.login_addresses = RateLimiter(LOGIN_PER_ADDRESS)  # failures per address, across accounts
        self.templates = Environment(loader=FileSystemLoader(str(HERE / "templates")),
                                     autoescape=select_autoescape(["html"]))
        self.templates.globals.update(sparkline=sparkline, bar_chart=bar_chart)
        self.secure_cookies = settings.desk_secure_cookies


async def run(function: Callable, *args: Any, **kwargs: Any) -> Any:
    """Database and HTTP calls are blocking: keep them off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(None, functools.partial(function, *args, **kwargs))


def _wants_json(request: Request) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get("accept", "")


def _json_error(status: int, error: str, detail: str) -> HTTPResponse:
    return response.json({"error": error, "detail": detail}, status=status)


def create_app(desk: Desk, name: str = "careline_desk") -> Sanic:
    app = Sanic(name)
    app.config.REQUEST_MAX_SIZE = 64_000
    app.static("/static", str(HERE / "static"))

    def page(template: str, request: Request, status: int = 200, **context: Any) -> HTTPResponse:
        html = desk.templates.get_template(template).render(
            user=getattr(request.ctx, "user", None), csrf=getattr(request.ctx, "csrf", ""),
            message=request.args.get("msg", ""), error=request.args.get("err", ""), **context)
        return response.html(html, status=status)

    def set_cookie(resp: HTTPResponse, name: str, value: str, max_age: int) -> None:
        resp.cookies[name] = value
        resp.cookies[name]["httponly"] = True
        resp.cookies[name]["samesite"] = "Strict"
        resp.cookies[name]["path"] = "/"
        resp.cookies[name]["max-age"] = max_age
        if desk.secure_cookies:
            resp.cookies[name]["secure"] = True

    @app.middleware("request")
    async def authenticate(request: Request) -> Optional[HTTPResponse]:
        request.ctx.user, request.ctx.csrf = None, ""
        if request.path.startswith(PUBLIC) or request.path == "/login":
            return None
        found = await run(desk.accounts.resume_session, request.cookies.get(COOKIE))
        if found is None:
            if _wants_json(request) or request.method != "GET":
                return _json_error(401, "login_required", "sign in to the desk first")
            return response.redirect(f"/login?next={quote(request.path)}")
        request.ctx.user, request.ctx.csrf = found
        if request.method == "POST":
            origin = request.headers.get("origin")
            if origin and urlsplit(origin).netloc != request.host:
                return _json_error(403, "bad_origin", "the request came from another site")
            given = request.headers.get("x-csrf-token") or (request.form.get("csrf") if request.form else None) or ""
            if not hmac.compare_digest(given.encode(), request.ctx.csrf.encode()):
                return _json_error(403, "bad_csrf_token", "the form is out of date; reload the page")
        return None

    @app.middleware("response")
    async def headers(request: Request, resp: HTTPResponse) -> None:
        for key, value in SECURITY_HEADERS.items():
            resp.headers.setdefault(key, value)

    def supervisor_only(handler: Callable) -> Callable:
        @functools.wraps(handler)
        async def wrapper(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
            user: DeskUser = request.ctx.user
            if not user.is_supervisor:
                if _wants_json(request):
                    return _json_error(403, "supervisors_only", "this needs the supervisor role")
                return page("error.html", request, status=403, title="Supervisors only",
                            detail="Analytics are for supervisors. Ask one if you need these figures.")
            return await handler(request, *args, **kwargs)
        return wrapper

    # --- login ---------------------------------------------------------------------------------

    @app.get("/health")
    async def health(_: Request) -> HTTPResponse:
        return response.json({"status": "ok"})

    @app.get("/login")
    async def login_form(request: Request) -> HTTPResponse:
        token = secrets.token_urlsafe(24)
        resp = page("login.html", request, login_csrf=token, next=_safe_next(request.args.get("next")))
        set_cookie(resp, LOGIN_COOKIE, token, 1800)
        return resp

    @app.post("/login")
    async def login(request: Request) -> HTTPResponse:
        address = request.ip or "unknown"
        # First, in memory: every attempt takes a token of its address (so concurrent attempts cannot
        # slip past the check); only a successful sign-in gives it back.
        if not desk.login_addresses.hit(address).allowed:
            return response.redirect("/login?err=" + quote(TOO_MANY_LOGINS))
        form = request.form or {}
        cookie, given = request.cookies.get(LOGIN_COOKIE, ""), form.get("csrf", "")
        if not cookie or not hmac.compare_digest(cookie.encode(), given.encode()):
            return response.redirect("/login?err=" + quote("Your sign-in form expired. Please try again."))
        email = (form.get("email") or "").strip().lower()
        key = f"{address}|{email}"
        if desk.login_limiter.blocked(key):
            return response.redirect("/login?err=" + quote(TOO_MANY_LOGINS))
        user = await run(desk.accounts.authenticate, email, form.get("password") or "")
        if user is None:
            desk.login_limiter.hit(key)  # only failures count
            return response.redirect("/login?err=" + quote("That email and password don't match an account."))
        desk.login_addresses.give_back(address)
        token, _ = await run(desk.accounts.start_session, user)
        resp = response.redirect(_safe_next(form.get("next")))
        set_cookie(resp, COOKIE, token, 12 * 3600)
        del resp.cookies[LOGIN_COOKIE]
        return resp

    @app.post("/logout")
    async def logout(request: Request) -> HTTPResponse:
        await run(desk.accounts.end_session, request.cookies.get(COOKIE))
        resp = response.redirect("/login?msg=" + quote("You are signed out."))
        del resp.cookies[COOKIE]
        return resp

    # --- queue ---------------------------------------------------------------------------------

    @app.get("/")
    async def home(_: Request) -> HTTPResponse:
        return response.redirect("/queue")

    @app.get("/queue")
    async def queue_page(request: Request) -> HTTPResponse:
        return page("queue.html", request, items=await run(desk.service.queue))

    @app.get("/api/queue")
    async def queue_api(_: Request) -> HTTPResponse:
        return response.json([item.as_dict() for item in await run(desk.service.queue)])

    @app.get("/api/queue/stream")
    async def queue_stream(request: Request) -> None:
        stream = await request.respond(content_type="text/event-stream",
                                       headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
        last, waited = None, 0.0
        while waited < SSE_MAX_S:
            fingerprint = await run(desk.service.queue_fingerprint)
            if fingerprint != last:
                items = [item.as_dict() for item in await run(desk.service.queue)]
                await stream.send(f"event: queue\ndata: {json.dumps(items)}\n\n")
                last = fingerprint
            elif int(waited) % 15 == 0:
                await stream.send(": keep-alive\n\n")
            await asyncio.sleep(SSE_INTERVAL_S)
            waited += SSE_INTERVAL_S
        await stream.send("retry: 1000\n\n")
        await stream.eof()

    # --- a ticket ------------------------------------------------------------------------------

    async def _view(ticket_id: int) -> Dict[str, Any]:
        view = await run(desk.service.view, ticket_id)
        try:
            live = redact_lines(await run(desk.rasa.messages, view.ticket["conversation_id"]))
        except RasaUnavailable:
            live = None
        return {"view": view, "live": live}

    @app.get("/tickets/<ticket_id:int>")
    async def ticket_page(request: Request, ticket_id: int) -> HTTPResponse:
        try:
            context = await _view(ticket_id)
        except NotFound as error:
            return page("error.html", request, status=404, title="No such ticket", detail=str(error))
        view, form_keys, may_act = context["view"], {}, True
        if view.ticket["status"] in ACTIVE:
            forms = ["refund", *(f"waiver-{fee['id']}" for fee in view.fees)] if view.ticket["order_number"] else []
            try:
                form_keys = await run(desk.service.issue_form_keys, ticket_id, request.ctx.user, forms)
            except Forbidden:
                may_act = False
        return page("ticket.html", request, form_keys=form_keys, may_act=may_act, **context)

    @app.get("/api/tickets/<ticket_id:int>")
    async def ticket_api(_: Request, ticket_id: int) -> HTTPResponse:
        try:
            context = await _view(ticket_id)
        except NotFound as error:
            return _json_error(404, "not_found", str(error))
        view = context["view"]
        return response.json({**view.__dict__, "live": context["live"]},
                             dumps=functools.partial(json.dumps, default=str))

    async def act(request: Request, ticket_id: int, action: Callable[[Dict[str, Any], DeskUser], Any],
                  done: str) -> HTTPResponse:
        form = safe_json.loads_or_none(request.body) if request.headers.get("content-type", "").startswith(
            "application/json") \
            else {k: request.form.get(k) for k in (request.form or {})}
        if not isinstance(form, dict):
            return _json_error(400, "bad_request", "send a form or a JSON object")
        try:
            result = await run(action, form, request.ctx.user)
        except NotFound as error:
            return _json_error(404, "not_found", str(error))
        except Forbidden as error:
            if _wants_json(request):
                return _json_error(403, "not_your_ticket", str(error))
            return page("error.html", request, status=403, title="Not your conversation", detail=str(error))
        except DeskError as error:
            if _wants_json(request):
                return _json_error(400, "not_done", str(error))
            return response.redirect(f"/tickets/{ticket_id}?err={quote(str(error))}")
        except RasaUnavailable as error:
            if _wants_json(request):
                return _json_error(502, "bot_unavailable", str(error))
            return response.redirect(f"/tickets/{ticket_id}?err={quote(str(error))}")
        message = done(result) if callable(done) else done
        if _wants_json(request):
            return response.json({"ok": True, "message": message, "result": result})
        target = "/queue" if request.path.endswith(("/resolve", "/close")) else f"/tickets/{ticket_id}"
        return response.redirect(f"{target}?msg={quote(message)}")

    def _claim_message(result: Dict[str, Any]) -> str:
        if result["outcome"] in ("approve", "partial"):
            return f"Done: {result['kind']} of ${result['amount']} ({result['reference']})."
        return f"Not done ({result['outcome']}): {result['explanation']}"

    @app.post("/tickets/<ticket_id:int>/take")
    async def take(request: Request, ticket_id: int) -> HTTPResponse:
        return await act(request, ticket_id, lambda form, user: desk.service.take(ticket_id, user),
                         "The conversation is yours.")

    @app.post("/tickets/<ticket_id:int>/reply")
    async def reply(request: Request, ticket_id: int) -> HTTPResponse:
        def send(form: Dict[str, Any], user: DeskUser) -> None:
            desk.service.reply(ticket_id, user, form.get("text"),
                               lambda conversation, text: desk.rasa.send_agent_message(conversation, text, user.name))
        return await act(request, ticket_id, send, "Sent.")

    @app.post("/tickets/<ticket_id:int>/note")
    async def note(request: Request, ticket_id: int) -> HTTPResponse:
        return await act(request, ticket_id, lambda form, user: desk.service.note(ticket_id, user, form.get("text")),
                         "Note added.")

    @app.post("/tickets/<ticket_id:int>/form-key")
    async def form_key(request: Request, ticket_id: int) -> HTTPResponse:
        """A key for one money form (API clients; the ticket page has its own)."""
        return await act(request, ticket_id, lambda form, user: {
            "form_key": desk.service.issue_form_keys(ticket_id, user, ["form"])["form"]}, "Here is a form key.")

    @app.post("/tickets/<ticket_id:int>/refund")
    async def refund(request: Request, ticket_id: int) -> HTTPResponse:
        return await act(request, ticket_id, lambda form, user: desk.service.claim(
            ticket_id, user, "goodwill" if form.get("goodwill") else "refund", form.get("form_key"),
            amount=form.get("amount"), reason=form.get("reason"),
            override_cap=form.get("override_cap") in ("1", "on", "true", True)), _claim_message)

    @app.post("/tickets/<ticket_id:int>/waiver")
    async def waiver(request: Request, ticket_id: int) -> HTTPResponse:
        return await act(request, ticket_id, lambda form, user: desk.service.claim(
            ticket_id, user, "waiver", form.get("form_key"), charge_id=form.get("charge_id")), _claim_message)

    @app.post("/tickets/<ticket_id:int>/resolve")
    async def resolve(request: Request, ticket_id: int) -> HTTPResponse:
        return await act(request, ticket_id, lambda form, user: desk.service.finish(
            ticket_id, user, "resolved", lambda conversation: desk.rasa.resume(conversation, greet=True)),
            "Resolved; the bot has the conversation again.")

    @app.post("/tickets/<ticket_id:int>/close")
    async def close(request: Request, ticket_id: int) -> HTTPResponse:
        return await act(request, ticket_id, lambda form, user: desk.service.finish(
            ticket_id, user, "closed", lambda conversation: desk.rasa.resume(conversation, greet=False)),
            "Closed.")

    # --- analytics -----------------------------------------------------------------------------

    def _period(request: Request) -> tuple:
        today = utctoday()
        try:
            start = date.fromisoformat(request.args.get("from") or (today - timedelta(days=29)).isoformat())
            end = date.fromisoformat(request.args.get("to") or today.isoformat())
        except ValueError:
            raise DeskError("dates are written YYYY-MM-DD") from None
        if end < start:
            raise DeskError("the end date is before the start date")
        return start, end

    async def _report(request: Request) -> analytics.Report:
        start, end = _period(request)
        return await run(analytics.report, desk.store_engine, desk.tracker_engine, start, end)

    @app.get("/analytics")
    @supervisor_only
    async def analytics_page(request: Request) -> HTTPResponse:
        try:
            report = await _report(request)
        except DeskError as error:
            return page("error.html", request, status=400, title="Bad dates", detail=str(error))
        return page("analytics.html", request, report=report)

    @app.get("/analytics.csv")
    @supervisor_only
    async def analytics_csv(request: Request) -> HTTPResponse:
        try:
            report = await _report(request)
        except DeskError as error:
            return _json_error(400, "bad_dates", str(error))
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(("section", "name", "value"))
        writer.writerows(report.rows())
        return response.text(buffer.getvalue(), content_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="careline-analytics-{report.start}-{report.end}.csv"'})

    @app.get("/api/analytics")
    @supervisor_only
    async def analytics_api(request: Request) -> HTTPResponse:
        try:
            report = await _report(request)
        except DeskError as error:
            return _json_error(400, "bad_dates", str(error))
        body = {**report.__dict__, "containment_rate": report.containment_rate,
                "handoff_rate": report.handoff_rate, "fallback_rate": report.fallback_rate}
        return response.json(body, dumps=functools.partial(json.dumps, default=str))

    return app


def _safe_next(target: Optional[str]) -> str:
    """Only our own paths (no //host or scheme) after signing in."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/queue"
