"""Signing in and out: the login form (with its own CSRF cookie), the per-address and per-account
limits on failed attempts, the session cookie."""
from __future__ import annotations

import hmac
import secrets
from typing import Optional

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from careline.desk.web import COOKIE, desk_of, page, redirect_with, run, set_cookie

bp = Blueprint("auth")

LOGIN_COOKIE = "careline_desk_login"
TOO_MANY_LOGINS = "Too many failed attempts. Wait a minute and try again."


def _safe_next(target: Optional[str]) -> str:
    """Only our own paths (no //host or scheme) after signing in."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/queue"


@bp.get("/login")
async def login_form(request: Request) -> HTTPResponse:
    token = secrets.token_urlsafe(24)
    resp = page("login.html", request, login_csrf=token, next=_safe_next(request.args.get("next")))
    set_cookie(request, resp, LOGIN_COOKIE, token, 1800)
    return resp


@bp.post("/login")
async def login(request: Request) -> HTTPResponse:
    desk = desk_of(request)
    address = request.ip or "unknown"
    # First, in memory: every attempt takes a token of its address (so concurrent attempts cannot
    # slip past the check); only a successful sign-in gives it back.
    if not desk.login_addresses.hit(address).allowed:
        return redirect_with("/login", "err", TOO_MANY_LOGINS)
    form = request.form or {}
    cookie, given = request.cookies.get(LOGIN_COOKIE, ""), form.get("csrf", "")
    if not cookie or not hmac.compare_digest(cookie.encode(), given.encode()):
        return redirect_with("/login", "err", "Your sign-in form expired. Please try again.")
    email = (form.get("email") or "").strip().lower()
    key = f"{address}|{email}"
    if desk.login_limiter.blocked(key):
        return redirect_with("/login", "err", TOO_MANY_LOGINS)
    user = await run(desk.accounts.authenticate, email, form.get("password") or "")
    if user is None:
        desk.login_limiter.hit(key)  # only failures count
        return redirect_with("/login", "err", "That email and password don't match an account.")
    desk.login_addresses.give_back(address)
    token, _ = await run(desk.accounts.start_session, user)
    resp = response.redirect(_safe_next(form.get("next")))
    set_cookie(request, resp, COOKIE, token, 12 * 3600)
    del resp.cookies[LOGIN_COOKIE]  # type: ignore[no-untyped-call]  # sanic 21.12's CookieJar is unannotated
    return resp


@bp.post("/logout")
async def logout(request: Request) -> HTTPResponse:
    await run(desk_of(request).accounts.end_session, request.cookies.get(COOKIE))
    resp = redirect_with("/login", "ok", "You are signed out.")
    del resp.cookies[COOKIE]  # type: ignore[no-untyped-call]  # (it sends an expired cookie)
    return resp
