"""A whole prod-profile system for tests: `make up PROFILE=prod` (PostgreSQL, Redis, two Rasa servers behind
nginx, the action server, shop page, desk, mail catcher and worker, all watched by the supervisor) in a
throwaway var/ folder on free ports, and `make down` plus `ops.supervisor clean` at the end.

    system = start_prod_system({"CARELINE_RATE_PER_SENDER": "600"})
    try:
        system.say(sender, "hello")            # over REST, through nginx (RunningSystem of tests/e2e/conftest.py)
        system.kill("rasa-1")                  # kill -9, returns once its port refuses connections
        system.wait_healthy_again("rasa-1", old_pid)
    finally:
        system.stop()

The servers come from Debian's packages (`make prod-servers`, which `make up PROFILE=prod` runs). Where they
are missing and cannot be installed, `unavailable()` skips locally and fails under CI (`CI=true`).
The var/ folder is made under /tmp rather than pytest's own temporary folder: PostgreSQL's cluster then
lives apart from it (see ops/infra/postgres.py), and `stop()` removes both.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple

import requests
import sqlalchemy as sa

from careline.shared.settings import PROJECT_ROOT, Settings, load_settings
from ops import processes
from ops.infra import ServerMissing
from ops.infra.packages import require
from ops.processes import Service
from ops.services import places, rasa_backends, services
from ops.train import model_path
from tests.e2e.conftest import MAKE_TIMEOUT_S, RunningSystem, free_port
from tests.fakes.helpdesk import FakeHelpdesk
from tests.pg import unavailable


def consecutive_free_ports(count: int = 2) -> int:
    """The first of `count` free ports in a row (the Rasa servers' ports follow CARELINE_RASA_BACKEND_PORT),
    from 20000-28999: below the ephemeral range free_port() hands out, so the two never collide."""
    for _ in range(500):
        first = 20000 + secrets.randbelow(9000)
        try:
            for port in range(first, first + count):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return first
    raise RuntimeError(f"no {count} free ports in a row between 20000 and 29000")


@dataclass
class ProdSystem(RunningSystem):
    """A running prod-profile system: RunningSystem's make/say/stop, plus its processes and databases."""

    settings: Optional[Settings] = None
    cleaned: bool = field(default=False)
    #: Every message answered with 200, per sender, in the order sent (`post`, `say`): after each fault test
    #: the stored customer messages must be exactly these (tests/faults/conftest.py).
    answered: Dict[str, List[str]] = field(default_factory=dict)
    _ledger: threading.Lock = field(default_factory=threading.Lock)

    def post(self, sender: str, text: str, timeout: float = 60) -> requests.Response:
        """One message over REST through nginx; a 200 is written in `answered`."""
        response = requests.post(f"{self.rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": text},
                                 headers=self.rest_headers, timeout=timeout)
        if response.status_code == 200:
            with self._ledger:
                self.answered.setdefault(sender, []).append(text)
        return response

    def say(self, sender: str, text: str, client: str = "") -> List[str]:
        response = self.post(sender, text)
        response.raise_for_status()
        return [message.get("text", "") for message in response.json()]

    def stored_messages(self, sender: str) -> List[str]:
        """The customer messages of `sender` stored in careline_tracker, oldest first."""
        return [json.loads(row[3]).get("text") or "" for row in self.tracker_events(sender) if row[0] == "user"]

    @property
    def prod(self) -> Settings:
        assert self.settings is not None
        return self.settings

    def pid(self, name: str) -> int:
        pid = processes.read_pid(places(self.prod), name)
        assert pid is not None, f"{name} is not running:\n{self.status()}"
        return pid

    def kill(self, name: str) -> int:
        """kill -9 `name`; return once it no longer accepts connections (so what follows is refused, not cut)."""
        pid = self.pid(name)
        os.kill(pid, signal.SIGKILL)
        port = {service.name: service.port for service in self._services()}.get(name)
        deadline = time.monotonic() + 10
        while (processes.alive(pid) and not _zombie(pid)) or (port and processes.port_in_use("127.0.0.1", port)):
            assert time.monotonic() < deadline, f"{name} (pid {pid}) still runs 10 s after kill -9"
            time.sleep(0.02)
        return pid

    def wait_healthy_again(self, name: str, old_pid: int, timeout_s: float = 180) -> int:
        """Wait until the supervisor has restarted `name` and says it is healthy again; return the new pid."""
        deadline = time.monotonic() + timeout_s
        while True:
            new = processes.read_pid(places(self.prod), name)
            if new and new != old_pid and f"{name} is healthy again (pid {new})" in self.supervisor_log():
                return new
            assert time.monotonic() < deadline, (f"{name} was not restarted within {timeout_s:.0f}s:\n"
                                                 f"{self.supervisor_log()[-3000:]}")
            time.sleep(0.2)

    def _services(self) -> List[Service]:
        return services(self.prod, model_path(PROJECT_ROOT))

    def status(self) -> str:
        result = subprocess.run(["make", "--no-print-directory", "status"], cwd=PROJECT_ROOT, env=self.env,
                                capture_output=True, text=True, timeout=60)
        return result.stdout + result.stderr

    def restarts(self) -> Dict[str, int]:
        """Each process's restart count as `make status` prints it."""
        return {match[0]: int(match[1]) for match in re.findall(r"^(\S+)\s.*restarts=(\d+)$", self.status(), re.M)}

    def supervisor_log(self) -> str:
        path = self.var_dir / "log" / "supervisor.log"
        return path.read_text() if path.exists() else ""

    def backend_of_requests(self, path: str = "/webhooks/rest/webhook") -> List[str]:
        """The Rasa server (rasa-1, rasa-2) that served each request to `path`, oldest first (nginx's access log)."""
        names = {f"127.0.0.1:{port}": name for name, port in rasa_backends(self.prod).items()}
        log = self.var_dir / "nginx" / "access.log"
        lines = log.read_text().splitlines() if log.exists() else []
        served = []
        for line in lines:
            found = re.search(r"upstream=(.+) [\d.]+$", line)
            if f' {path}" ' in line and found:  # "a, b" when a refused and b answered: b served it
                served.append(names.get(found.group(1).split(", ")[-1], found.group(1)))
        return served

    def served_counts(self) -> Counter:
        return Counter(self.backend_of_requests())

    def tracker_events(self, sender: str) -> List[Tuple[str, Optional[str], Optional[str], str]]:
        """(type, intent, action, data) of every stored event of `sender`, from careline_tracker on PostgreSQL."""
        engine = sa.create_engine(self.prod.tracker_db_url, poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as db:
                return [tuple(row) for row in db.execute(  # type: ignore[misc]
                    sa.text("SELECT type_name, intent_name, action_name, data FROM events "
                            "WHERE sender_id = :sender ORDER BY id"), {"sender": sender})]
        finally:
            engine.dispose()

    def stop(self) -> None:
        """`make down`, then the PostgreSQL cluster and the var/ folder go."""
        super().stop()
        if not self.cleaned:
            subprocess.run([str(PROJECT_ROOT / ".venv" / "bin" / "python"), "-m", "ops.supervisor", "clean"],
                           cwd=PROJECT_ROOT, env=self.env, capture_output=True, timeout=120)
            shutil.rmtree(self.var_dir, ignore_errors=True)
            self.helpdesk.__exit__(None, None, None)
            self.cleaned = True


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except (OSError, IndexError):
        return True


def _servers_installed(settings: Settings) -> None:
    """The prod profile's servers, installed with `make prod-servers` when missing; else unavailable()."""
    try:
        require(settings)
        return
    except ServerMissing:
        pass
    result = subprocess.run(["make", "--no-print-directory", "prod-servers"], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=MAKE_TIMEOUT_S)
    try:
        require(settings)
    except ServerMissing as missing:
        unavailable(f"{missing}\n{result.stdout}{result.stderr}")


def start_prod_system(extra_env: Optional[Mapping[str, str]] = None) -> ProdSystem:
    """`make up PROFILE=prod` in a new var/ folder on free ports; stops what it started if that fails."""
    var_dir = Path(tempfile.mkdtemp(prefix="careline-prod-"))
    env = dict(
        os.environ,
        CARELINE_PROFILE="prod",
        CARELINE_VAR_DIR=str(var_dir),
        CARELINE_RASA_PORT=str(free_port()),
        CARELINE_RASA_BACKEND_PORT=str(consecutive_free_ports(2)),
        CARELINE_RASA_SERVERS="2",
        CARELINE_PG_PORT=str(free_port()),
        CARELINE_REDIS_PORT=str(free_port()),
        CARELINE_ACTIONS_PORT=str(free_port()),
        CARELINE_WEB_PORT=str(free_port()),
        CARELINE_DESK_PORT=str(free_port()),
        CARELINE_MAIL_PORT=str(free_port()),
        CARELINE_RATE_PER_ADDRESS="100000",  # every test talks from 127.0.0.1
        CARELINE_REST_TOKEN=secrets.token_urlsafe(32),
    )
    for key in ("CARELINE_TRACKER_DB_URL", "CARELINE_STORE_DB_URL", "CARELINE_REDIS_URL", "CARELINE_SMTP_HOST"):
        env.pop(key, None)
    env.update(extra_env or {})
    settings = load_settings(environ=env)
    _servers_installed(settings)
    helpdesk = FakeHelpdesk().__enter__()
    env["CARELINE_HELPDESK_URL"] = helpdesk.url
    settings = load_settings(environ=env)
    system = ProdSystem(env=env, var_dir=var_dir, rasa_url=settings.rasa_url, token=settings.auth_token,
                        helpdesk=helpdesk, rest_token=settings.rest_token, clients_per_sender=True, settings=settings)
    try:
        system.make("up", "PROFILE=prod")
    except BaseException:
        print(system.supervisor_log()[-5000:])
        system.stop()
        raise
    return system
