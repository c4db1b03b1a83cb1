"""The agent desk web app (Sanic): login, live queue, conversation view, agent actions, analytics.

Every page and API needs a signed-in session; every POST needs the session's CSRF token (form
field `csrf` or header `X-CSRF-Token`) and, when the browser sends one, our own Origin.
Supervisor-only: analytics and its CSV export.

This module builds the app: its collaborators (Desk, on app.ctx.desk), the middleware (web.py)
and the routes, one blueprint per area (routes/).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sanic import Sanic

from careline.db import make_engine
from careline.desk.auth import Accounts
from careline.desk.charts import bar_chart, sparkline
from careline.desk.rasa_api import RasaAPI
from careline.desk.routes import BLUEPRINTS
from careline.desk.service import MAX_TEXT, DeskService
from careline.desk.words import intent_title
from careline.desk.web import authenticate, security_headers
from careline.desk.widget_pokes import WidgetPokes
from careline.fulfilment import LabelLinks
from careline.money import ClaimService, load_policy
from careline.shared import Limit, RateLimiter, Settings

HERE = Path(__file__).resolve().parent
#: Failed sign-ins one address may make across all accounts (password spraying), checked before
#: any database or password-hashing work; a successful sign-in gives its token back.
LOGIN_PER_ADDRESS = Limit(per_minute=10, burst=20)


def templates() -> Environment:
    """The desk's Jinja templates: autoescaped, with the chart helpers and the words for intents."""
    environment = Environment(loader=FileSystemLoader(str(HERE / "templates")), autoescape=select_autoescape(["html"]))
    environment.globals.update(sparkline=sparkline, bar_chart=bar_chart, max_text=MAX_TEXT)
    environment.filters["intent_title"] = intent_title
    return environment


class Desk:
    """The app's collaborators, built once per process."""

    def __init__(self, settings: Settings, rasa: Optional[RasaAPI] = None) -> None:
        engine = make_engine(settings.store_db_url)
        self.settings = settings
        self.store_engine = engine
        self.tracker_engine = make_engine(settings.tracker_db_url, read_only=True)
        self.accounts = Accounts(engine)
        links = LabelLinks(settings.signing_key, settings.customer_url, settings.label_link_days) \
            if settings.signing_key else None
        self.service = DeskService(engine, ClaimService(engine, load_policy(settings.policy_path)),
                                   label_url=links.url if links else None)
        self.rasa = rasa or RasaAPI(settings.rasa_url, settings.auth_token)
        self.pokes = WidgetPokes(lambda conversation, agent: self.rasa.agent_event(conversation, "state", agent=agent))
        self.login_limiter = RateLimiter(Limit(per_minute=10, burst=5))  # failures per address and account
        self.login_addresses = RateLimiter(LOGIN_PER_ADDRESS)  # failures per address, across accounts
        self.templates = templates()
        self.secure_cookies = settings.desk_secure_cookies


def create_app(desk: Desk, name: str = "careline_desk") -> Sanic:
    app = Sanic(name)
    app.config.REQUEST_MAX_SIZE = 64_000
    app.ctx.desk = desk
    app.static("/static", str(HERE / "static"))
    app.register_middleware(authenticate, "request")
    app.register_middleware(security_headers, "response")
    for blueprint in BLUEPRINTS:
        app.blueprint(blueprint)

    async def stop_pokes(*_: Any) -> None:
        desk.pokes.close()
    app.register_listener(stop_pokes, "before_server_stop")
    return app
