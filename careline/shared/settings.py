"""Runtime settings, read from the environment and the project's `.env` file.

One place for every address, path and secret the system uses. Real environment
variables win over `.env`; `.env` wins over the defaults. Nothing here imports Rasa.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple

from careline.shared.limits import MESSAGE_MAX_CHARS
from careline.shared.policy_file import policy_section
from careline.shared.shop import Shop, load_shop

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LOCALHOST = "127.0.0.1"


class SettingsError(ValueError):
    """A setting is missing or malformed; the message says which and how to fix it."""


def parse_env_file(text: str) -> Dict[str, str]:
    """Parse `KEY=value` lines (comments, blanks and optional quotes allowed)."""
    values: Dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key.replace("_", "").isalnum():
            raise SettingsError(f".env line {number}: expected KEY=value, got {raw!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def load_env_file(path: Path) -> Dict[str, str]:
    """Read a `.env` file; a missing file is an empty mapping."""
    if not path.exists():
        return {}
    return parse_env_file(path.read_text(encoding="utf-8"))


def _port(values: Mapping[str, str], key: str, default: int) -> int:
    raw = values.get(key, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise SettingsError(f"{key} must be a TCP port between 1 and 65535, got {raw!r}")
    return int(raw)


def _number(values: Mapping[str, str], key: str, default: float, minimum: float) -> float:
    raw = values.get(key, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{key} must be a number, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{key} must be at least {minimum:g}, got {raw!r}")
    return value


def _secret(values: Mapping[str, str], key: str, minimum: int) -> str:
    """An optional secret: empty when unset, else at least `minimum` characters."""
    raw = values.get(key, "").strip()
    if raw and len(raw) < minimum:
        raise SettingsError(f"{key} must be at least {minimum} characters (generate one with "
                            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`)")
    return raw


SMTP_SECURITY = ("starttls", "ssl", "none")
PROFILES = ("dev", "prod")


def _smtp_security(values: Mapping[str, str]) -> str:
    raw = values.get("CARELINE_SMTP_SECURITY", "").strip().lower() or Settings.smtp_security
    if raw not in SMTP_SECURITY:
        raise SettingsError(f"CARELINE_SMTP_SECURITY must be one of {', '.join(SMTP_SECURITY)}, got {raw!r}")
    return raw


def _web_url(values: Mapping[str, str], key: str) -> str:
    raw = values.get(key, "").strip().rstrip("/")
    if raw and not raw.startswith(("http://", "https://")):
        raise SettingsError(f"{key} must be an http(s) URL, got {raw!r}")
    return raw


def sqlite_url(path: Path) -> str:
    """SQLAlchemy URL of a SQLite file at an absolute path."""
    return f"sqlite:///{path.resolve()}"


def postgres_url(host: str, port: int, password: str, database: str) -> str:
    """SQLAlchemy URL of a database on the prod profile's PostgreSQL server (role `careline`)."""
    return f"postgresql+psycopg2://careline:{password}@{host}:{port}/{database}"


@dataclass(frozen=True)
class Settings:
    """Everything a process of the system needs to find the others."""

    root: Path
    var_dir: Path
    host: str
    rasa_port: int
    actions_port: int
    auth_token: str
    tracker_db_url: str
    store_db_url: str
    helpdesk_url: str = ""
    web_port: int = 8080
    max_message_chars: int = MESSAGE_MAX_CHARS
    sender_per_minute: float = 20.0
    address_per_minute: float = 120.0
    web_origins: Tuple[str, ...] = ()
    fb_app_secret: str = ""
    fb_verify_token: str = ""
    fb_page_token: str = ""
    fb_graph_url: str = "https://graph.facebook.com/v19.0"
    desk_port: int = 5080
    desk_agent_password: str = ""
    desk_supervisor_password: str = ""
    desk_secure_cookies: bool = False
    rest_token: str = ""
    signing_key: str = ""       # signs verified identities and proposals (careline/shared/signing.py)
    actions_token: str = ""     # Rasa -> action server credential (endpoints.yml `token:`)
    follow_up_delay_s: Optional[float] = None  # demos and tests: every follow-up due this soon (careline/followup)
    public_url: str = ""        # where customers reach the shop page server (links in chat and emails)
    label_link_days: int = 30   # how long a return label's link works
    warehouse_url: str = ""     # the warehouse webhook that receives approved reshipments
    smtp_host: str = ""         # unset: `make run` starts a local mail catcher (var/mail/) and sends there
    smtp_port: int = 587
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_from: str = ""         # unset: the shop's name and support email (shop.yml)
    smtp_security: str = "starttls"  # starttls, ssl (SMTP over TLS) or none
    mail_port: int = 8025       # the local mail catcher's port
    shop_file: str = ""         # another shop.yml (CARELINE_SHOP_FILE): a second shop, or a test's hours
    unseen_reply_s: float = 120.0  # an agent reply a website customer has not seen this long goes by email
    # The production profile (`make up PROFILE=prod`): PostgreSQL, Redis, several Rasa servers behind nginx.
    profile: str = "dev"        # dev (SQLite, one Rasa server) or prod (CARELINE_PROFILE)
    redis_url: str = ""         # lock store and shared rate limits; unset in dev: one process, in memory
    redis_port: int = 6390      # the prod profile's own Redis server
    redis_password: str = ""    # its password (CARELINE_REDIS_PASSWORD, .env): other local users cannot reach it
    pg_port: int = 5440         # the prod profile's own PostgreSQL server
    pg_password: str = ""       # its password for the `careline` role (CARELINE_PG_PASSWORD, .env)
    rasa_servers: int = 1       # Rasa server processes; behind nginx on rasa_port when more than one or prod
    rasa_backend_port: int = 0  # the first backend's port (the others follow it); 0: rasa_port + 1
    action_timeout_s: float = 20.0  # a custom action taking longer: the customer hears the apology instead
    tracker_retry_s: float = 15.0   # how long a turn retries the conversation database before it fails (503)
    rasa_url_override: str = ""  # CARELINE_RASA_URL: where the desk and worker reach Rasa (a container's nginx)
    chat_url_override: str = ""  # CARELINE_CHAT_URL: where browsers open the chat socket (the public address)

    @property
    def behind_proxy(self) -> bool:
        """True when nginx listens on rasa_port and the Rasa servers on rasa_backend_ports."""
        return self.profile == "prod" or self.rasa_servers > 1

    @property
    def rasa_backend_ports(self) -> Tuple[int, ...]:
        """The ports the Rasa server processes listen on (rasa_port itself when there is no proxy)."""
        if not self.behind_proxy:
            return (self.rasa_port,)
        first = self.rasa_backend_port or self.rasa_port + 1
        return tuple(first + number for number in range(self.rasa_servers))

    def pg_url(self, database: str) -> str:
        """SQLAlchemy URL of a database on the prod profile's PostgreSQL server."""
        return postgres_url(self.host, self.pg_port, self.pg_password, database)

    @property
    def customer_url(self) -> str:
        """The base of every link a customer gets (CARELINE_PUBLIC_URL, else the shop page server)."""
        return self.public_url or self.web_url

    @property
    def mail_dir(self) -> Path:
        """Where the local mail catcher keeps each message it receives as an .eml file."""
        return self.var_dir / "mail"

    @property
    def desk_url(self) -> str:
        return f"http://{self.host}:{self.desk_port}"

    @property
    def web_url(self) -> str:
        return f"http://{self.host}:{self.web_port}"

    @property
    def allowed_web_origins(self) -> Tuple[str, ...]:
        """Pages that may open the chat socket: the demo page plus CARELINE_WEB_ORIGINS."""
        local = (self.web_url, f"http://localhost:{self.web_port}")
        return tuple(dict.fromkeys(local + self.web_origins))

    @property
    def messenger_configured(self) -> bool:
        return bool(self.fb_app_secret and self.fb_verify_token and self.fb_page_token)

    @property
    def rasa_url(self) -> str:
        """Where the other processes reach Rasa (the proxy, when there is one): CARELINE_RASA_URL, else
        the host and port it listens on."""
        return self.rasa_url_override or f"http://{self.host}:{self.rasa_port}"

    @property
    def chat_url(self) -> str:
        """Where a customer's browser opens the chat socket: CARELINE_CHAT_URL, else `rasa_url`."""
        return self.chat_url_override or self.rasa_url

    @property
    def actions_url(self) -> str:
        return f"http://{self.host}:{self.actions_port}"

    @property
    def run_dir(self) -> Path:
        return self.var_dir / "run"

    @property
    def worker_heartbeat(self) -> Path:
        """Touched by the background worker (careline/worker.py) after every round."""
        return self.run_dir / "worker.heartbeat"

    @property
    def log_dir(self) -> Path:
        return self.var_dir / "log"

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    @property
    def policy_path(self) -> Path:
        """policy.yml: the refund, waiver, identity, handoff and frustration rules."""
        return self.root / "policy.yml"

    @property
    def shop_path(self) -> Path:
        """shop.yml: the shop's name, time zone, support hours, holidays and contacts
        (CARELINE_SHOP_FILE names another file; a relative path is under the project)."""
        return self.root / self.shop_file if self.shop_file else self.root / "shop.yml"

    def shop(self) -> Shop:
        """The shop's facts (careline/shared/shop.py), parsed once per version of shop.yml."""
        return load_shop(self.shop_path)

    def policy_section(self, name: str) -> Dict[str, Any]:
        """A section of policy.yml (`frustration`, `identity`, `handoff`, ...), read through the one
        reader of the file (careline/shared/policy_file.py: parsed once per version, a copy each)."""
        return policy_section(self.policy_path, name)

    def process_env(self) -> Dict[str, str]:
        """Variables handed to the Rasa and action servers (endpoints.yml reads them)."""
        return {
            "CARELINE_VAR_DIR": str(self.var_dir),
            "CARELINE_ACTIONS_URL": f"{self.actions_url}/webhook",
            "CARELINE_TRACKER_DB_URL": self.tracker_db_url,
            "CARELINE_STORE_DB_URL": self.store_db_url,
            "CARELINE_HELPDESK_URL": self.helpdesk_url,
            "CARELINE_WAREHOUSE_URL": self.warehouse_url,
            "CARELINE_ACTIONS_TOKEN": self.actions_token,
            "CARELINE_REDIS_URL": self.redis_url,
            "CARELINE_PROFILE": self.profile,
            "CARELINE_ACTION_TIMEOUT_S": f"{self.action_timeout_s:g}",
            "CARELINE_TRACKER_RETRY_S": f"{self.tracker_retry_s:g}",
            "RASA_TELEMETRY_ENABLED": "false",
        }


def load_settings(
    environ: Optional[Mapping[str, str]] = None, root: Path = PROJECT_ROOT
) -> Settings:
    """Build settings from `.env` under `root` overlaid with `environ` (default: os.environ)."""
    values: Dict[str, str] = dict(load_env_file(root / ".env"))
    values.update(os.environ if environ is None else environ)
    var_dir = Path(values.get("CARELINE_VAR_DIR") or root / "var").resolve()
    token = values.get("RASA_AUTH_TOKEN", "").strip()
    profile = values.get("CARELINE_PROFILE", "").strip().lower() or Settings.profile
    if profile not in PROFILES:
        raise SettingsError(f"CARELINE_PROFILE (make ... PROFILE=) must be one of {', '.join(PROFILES)}, "
                            f"got {profile!r}")
    host = values.get("CARELINE_HOST") or LOCALHOST
    prod = profile == "prod"
    pg_port = _port(values, "CARELINE_PG_PORT", Settings.pg_port)
    pg_password = _secret(values, "CARELINE_PG_PASSWORD", minimum=16)
    if prod and not pg_password:
        raise SettingsError("CARELINE_PG_PASSWORD is not set: run `make env` (it writes .env) or export it")
    redis_port = _port(values, "CARELINE_REDIS_PORT", Settings.redis_port)
    redis_password = _secret(values, "CARELINE_REDIS_PASSWORD", minimum=16)
    if prod and not redis_password and not values.get("CARELINE_REDIS_URL", "").strip():
        raise SettingsError("CARELINE_REDIS_PASSWORD is not set: run `make env` (it writes .env) or export it")
    return Settings(
        root=root,
        var_dir=var_dir,
        host=host,
        rasa_port=_port(values, "CARELINE_RASA_PORT", 5005),
        actions_port=_port(values, "CARELINE_ACTIONS_PORT", 5055),
        auth_token=token,
        tracker_db_url=values.get("CARELINE_TRACKER_DB_URL") or (
            postgres_url(host, pg_port, pg_password, "careline_tracker") if prod
            else sqlite_url(var_dir / "tracker.db")),
        store_db_url=values.get("CARELINE_STORE_DB_URL") or (
            postgres_url(host, pg_port, pg_password, "careline") if prod else sqlite_url(var_dir / "careline.db")),
        helpdesk_url=values.get("CARELINE_HELPDESK_URL", "").strip(),
        web_port=_port(values, "CARELINE_WEB_PORT", Settings.web_port),
        max_message_chars=int(_number(values, "CARELINE_MAX_MESSAGE_CHARS", Settings.max_message_chars, 1)),
        sender_per_minute=_number(values, "CARELINE_RATE_PER_SENDER", Settings.sender_per_minute, 1),
        address_per_minute=_number(values, "CARELINE_RATE_PER_ADDRESS", Settings.address_per_minute, 1),
        web_origins=tuple(o.strip().rstrip("/") for o in values.get("CARELINE_WEB_ORIGINS", "").split(",")
                          if o.strip()),
        fb_app_secret=values.get("CARELINE_FB_APP_SECRET", "").strip(),
        fb_verify_token=values.get("CARELINE_FB_VERIFY_TOKEN", "").strip(),
        fb_page_token=values.get("CARELINE_FB_PAGE_TOKEN", "").strip(),
        fb_graph_url=(values.get("CARELINE_FB_GRAPH_URL") or Settings.fb_graph_url).rstrip("/"),
        desk_port=_port(values, "CARELINE_DESK_PORT", Settings.desk_port),
        desk_agent_password=values.get("CARELINE_DESK_AGENT_PASSWORD", "").strip(),
        desk_supervisor_password=values.get("CARELINE_DESK_SUPERVISOR_PASSWORD", "").strip(),
        desk_secure_cookies=values.get("CARELINE_DESK_SECURE_COOKIES", "").strip().lower() in ("1", "true", "yes"),
        rest_token=_secret(values, "CARELINE_REST_TOKEN", minimum=16),
        signing_key=_secret(values, "CARELINE_SIGNING_KEY", minimum=16),
        actions_token=_secret(values, "CARELINE_ACTIONS_TOKEN", minimum=16),
        follow_up_delay_s=_number(values, "CARELINE_FOLLOW_UP_DELAY_S", 0, 0)
        if values.get("CARELINE_FOLLOW_UP_DELAY_S", "").strip() else None,
        public_url=_web_url(values, "CARELINE_PUBLIC_URL"),
        label_link_days=int(_number(values, "CARELINE_LABEL_LINK_DAYS", Settings.label_link_days, 1)),
        warehouse_url=_web_url(values, "CARELINE_WAREHOUSE_URL"),
        smtp_host=values.get("CARELINE_SMTP_HOST", "").strip(),
        smtp_port=_port(values, "CARELINE_SMTP_PORT", 465 if _smtp_security(values) == "ssl" else Settings.smtp_port),
        smtp_user=values.get("CARELINE_SMTP_USER", "").strip(),
        smtp_password=values.get("CARELINE_SMTP_PASSWORD", ""),
        smtp_from=values.get("CARELINE_SMTP_FROM", "").strip(),
        smtp_security=_smtp_security(values),
        mail_port=_port(values, "CARELINE_MAIL_PORT", Settings.mail_port),
        shop_file=values.get("CARELINE_SHOP_FILE", "").strip(),
        unseen_reply_s=_number(values, "CARELINE_UNSEEN_REPLY_S", Settings.unseen_reply_s, 0),
        profile=profile,
        redis_url=values.get("CARELINE_REDIS_URL", "").strip()
        or (f"redis://:{redis_password}@{host}:{redis_port}/0" if prod else ""),
        redis_port=redis_port,
        redis_password=redis_password,
        pg_port=pg_port,
        pg_password=pg_password,
        rasa_servers=int(_number(values, "CARELINE_RASA_SERVERS", 2 if prod else 1, 1)),
        rasa_backend_port=_port(values, "CARELINE_RASA_BACKEND_PORT", 0),
        action_timeout_s=_number(values, "CARELINE_ACTION_TIMEOUT_S", Settings.action_timeout_s, 1),
        tracker_retry_s=_number(values, "CARELINE_TRACKER_RETRY_S", Settings.tracker_retry_s, 0),
        rasa_url_override=_web_url(values, "CARELINE_RASA_URL"),
        chat_url_override=_web_url(values, "CARELINE_CHAT_URL"),
    )
