"""The processes of the system, in start order, for the settings' profile.

dev (default): action server, one Rasa server on CARELINE_RASA_PORT, shop page, desk, the local mail
catcher (without CARELINE_SMTP_HOST) and the worker; SQLite files under var/.
prod (`make up PROFILE=prod`): first PostgreSQL (migrated and seeded before anything uses it) and
Redis, then the action server, CARELINE_RASA_SERVERS Rasa servers (rasa-1, rasa-2 ... on
CARELINE_RASA_BACKEND_PORT and up) behind nginx on CARELINE_RASA_PORT, and the rest as in dev.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Callable, Dict, List, Optional

from careline.shared.settings import Settings
from ops.infra import nginx, postgres, redis
from ops.processes import Places, Service, heartbeat_probe, http_probe, smtp_probe


def mail_catcher_env(settings: Settings) -> Dict[str, str]:
    """Without a configured mail server (CARELINE_SMTP_HOST), the processes send to the local mail catcher."""
    if settings.smtp_host:
        return {}
    return {"CARELINE_SMTP_HOST": settings.host, "CARELINE_SMTP_PORT": str(settings.mail_port),
            "CARELINE_SMTP_SECURITY": "none"}


def places(settings: Settings) -> Places:
    """Where the processes run and log, and the environment they share (secrets travel here, never in argv)."""
    env = dict(os.environ, **settings.process_env(), **mail_catcher_env(settings), RASA_AUTH_TOKEN=settings.auth_token,
               SANIC_HOST=settings.host, PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="2",
               SQLALCHEMY_SILENCE_UBER_WARNING="1", PYTHONWARNINGS="ignore::DeprecationWarning")
    return Places(cwd=settings.root, run_dir=settings.run_dir, log_dir=settings.log_dir, env=env)


def rasa_names(settings: Settings) -> List[str]:
    """`rasa` alone, or rasa-1, rasa-2 ... behind nginx."""
    ports = settings.rasa_backend_ports
    return ["rasa"] if not settings.behind_proxy else [f"rasa-{number}" for number in range(1, len(ports) + 1)]


#: How long a Rasa server or PostgreSQL that misses its health checks while it works is left to work
#: (ops/watch.py): restarting it would drop every message it holds.
BUSY_GRACE_S = 300.0


def rasa_backends(settings: Settings) -> Dict[str, int]:
    """Each Rasa server's name and port."""
    return dict(zip(rasa_names(settings), settings.rasa_backend_ports))


def _rasa(settings: Settings, model: Path, name: str, port: int, last: bool) -> Service:
    return Service(
        name=name,
        port=port,
        port_setting="CARELINE_RASA_BACKEND_PORT" if settings.behind_proxy else "CARELINE_RASA_PORT",
        command=[sys.executable, "-m", "ops.rasa_server", "--model", str(model),
                 "--interface", settings.host, "--port", str(port)],
        probe=http_probe(f"http://{settings.host}:{port}/status?token={settings.auth_token}",
                         lambda body: bool(json.loads(body or b"{}").get("model_id"))),
        env=nginx.backend_env(settings),
        wait=last,  # the servers load their models side by side
        busy_grace_s=BUSY_GRACE_S,
    )


def _seed(settings: Settings, say: Callable[[str], None]) -> None:
    """Migrations and demo data on the PostgreSQL shop database (what `make db` does for SQLite)."""
    result = subprocess.run([sys.executable, "-m", "careline.demo"], cwd=settings.root, env=places(settings).env,
                            capture_output=True, text=True, timeout=600)
    for line in result.stdout.splitlines():
        say(f"  {line}")
    if result.returncode != 0:
        raise RuntimeError(f"migrating and seeding the PostgreSQL shop database failed:\n"
                           f"{(result.stdout + result.stderr)[-3000:]}")


def _postgres_setup(settings: Settings) -> Callable[[Callable[[str], None]], None]:
    def setup(say: Callable[[str], None]) -> None:
        created = postgres.bootstrap(settings)
        if created:
            say(f"  postgres: created {', '.join(created)}")
        _seed(settings, say)

    return setup


def postgres_server(settings: Settings) -> Service:
    """The prod profile's PostgreSQL (ops/infra/postgres.py); once healthy: roles, databases, migrations, seed."""
    return Service(name="postgres", port=settings.pg_port, port_setting="CARELINE_PG_PORT",
                   command=postgres.command(settings), probe=postgres.probe(settings), user=postgres.account(),
                   prepare=lambda: postgres.prepare(settings), setup=_postgres_setup(settings),
                   stop_signal=signal.SIGINT, signal_group=False, foreign=True, busy_grace_s=BUSY_GRACE_S)


def redis_server(settings: Settings) -> Service:
    """The prod profile's Redis (ops/infra/redis.py)."""
    return Service(name="redis", port=settings.redis_port, command=redis.command(settings),
                   probe=redis.probe(settings), prepare=lambda: redis.prepare(settings), foreign=True)


def proxy(settings: Settings) -> Service:
    """nginx in front of the Rasa servers (ops/infra/nginx.py)."""
    return Service(name="nginx", port=settings.rasa_port, port_setting="CARELINE_RASA_PORT",
                   command=nginx.command(settings), probe=nginx.probe(settings),
                   prepare=lambda: nginx.prepare(settings), foreign=True)


def infrastructure(settings: Settings) -> List[Service]:
    """PostgreSQL and Redis of the prod profile (none in dev)."""
    return [postgres_server(settings), redis_server(settings)] if settings.profile == "prod" else []


def services(settings: Settings, model: Path) -> List[Service]:
    """The processes of the system, in start order."""
    result = infrastructure(settings)
    result.append(Service(
        name="actions",
        port=settings.actions_port,
        command=[sys.executable, "-m", "ops.action_server", "--port", str(settings.actions_port)],
        probe=http_probe(f"{settings.actions_url}/health",
                         lambda body: json.loads(body or b"{}").get("status") == "ok"),
    ))
    backends = list(rasa_backends(settings).items())
    for index, (name, port) in enumerate(backends):
        result.append(_rasa(settings, model, name, port, last=index == len(backends) - 1))
    if settings.behind_proxy:
        result.append(proxy(settings))
    result += [
        Service(
            name="web",
            port=settings.web_port,
            command=[sys.executable, "-m", "ops.web_server", "--port", str(settings.web_port)],
            probe=http_probe(f"{settings.web_url}/health", lambda body: b"ok" in body),
        ),
        Service(
            name="desk",
            port=settings.desk_port,
            command=[sys.executable, "-m", "careline.desk", "--port", str(settings.desk_port)],
            probe=http_probe(f"{settings.desk_url}/health", lambda body: b"ok" in body),
        ),
    ]
    if not settings.smtp_host:
        result.append(Service(name="mail", port=settings.mail_port,
                              command=[sys.executable, "-m", "ops.mail_catcher", "--port", str(settings.mail_port),
                                       "--dir", str(settings.mail_dir)],
                              probe=smtp_probe(settings.host, settings.mail_port)))
    result.append(Service(name="worker", command=[sys.executable, "-m", "careline.worker"],
                          probe=heartbeat_probe(settings.worker_heartbeat)))
    return result


#: How `down` orders processes it finds only by their pid files (no supervisor state): clients first,
#: then nginx, the Rasa servers, the action server, and the servers they all use last.
_STOP_RANK = {"worker": 0, "mail": 1, "desk": 2, "web": 3, "nginx": 4, "rasa": 5, "actions": 6, "redis": 7,
              "postgres": 8}


def stop_order(names: List[str]) -> List[str]:
    return sorted(names, key=lambda name: (_STOP_RANK.get(name.split("-")[0], 3.5), name))


def service_named(settings: Settings, model: Path, name: str) -> Optional[Service]:
    return next((service for service in services(settings, model) if service.name == name), None)
