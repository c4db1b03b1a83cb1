"""The two systems `make bench` compares, each started on free 127.0.0.1 ports and stopped again.

- StockRasa: the assistant `rasa init --no-prompt` creates (the same Rasa as Careline's .venv), trained
  once into var/bench/stock and reused while its model is there, served by a plain `rasa run` (Rasa's
  defaults: in-memory tracker store; its action server only if the project has custom actions configured).
- Careline: `make up` in its own CARELINE_VAR_DIR (var/bench/careline, emptied first) with the REST channel
  on (a generated CARELINE_REST_TOKEN) and the rate limits raised for the load; `make down` stops it.
  The prod profile (PostgreSQL, Redis, several Rasa servers behind nginx) is the same with PROFILE=prod.
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, Dict, List, Optional

ROOT = Path(__file__).resolve().parents[1]
MAIN_VENV = ROOT / ".venv"
BENCH_VAR = ROOT / "var" / "bench"
START_TIMEOUT_S = 300.0
RAISED_RATE = "1000000"  # messages a minute: the load must measure the bot, not the rate limiter
Log = Callable[[str], None]
#: Variables the benchmark sets itself for Careline (or that would point it at another system's databases).
OWN_VARIABLES = frozenset({
    "CARELINE_VAR_DIR", "CARELINE_PROFILE", "CARELINE_RASA_PORT", "CARELINE_ACTIONS_PORT", "CARELINE_WEB_PORT",
    "CARELINE_DESK_PORT", "CARELINE_MAIL_PORT", "CARELINE_REST_TOKEN", "CARELINE_RATE_PER_SENDER",
    "CARELINE_RATE_PER_ADDRESS", "CARELINE_PG_PORT", "CARELINE_REDIS_PORT", "CARELINE_REDIS_URL",
    "CARELINE_RASA_SERVERS", "CARELINE_RASA_BACKEND_PORT", "CARELINE_TRACKER_DB_URL", "CARELINE_STORE_DB_URL",
    "MAKEFLAGS", "MFLAGS", "MAKELEVEL",
})


class BenchSystemError(RuntimeError):
    """A system could not be set up, started or stopped; the message says what to look at."""


def free_port(taken: Optional[set] = None) -> int:
    """A free TCP port on 127.0.0.1 (not one of `taken`, which it joins)."""
    taken = taken if taken is not None else set()
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port not in taken:
            taken.add(port)
            return port


def free_port_run(count: int, taken: set) -> int:
    """The first of `count` consecutive free ports (the Rasa backends of the prod profile)."""
    for _ in range(200):
        first = free_port(set(taken))
        ports = range(first, first + count)
        if first + count < 65535 and not taken.intersection(ports) and all(_port_free(port) for port in ports):
            taken.update(ports)
            return first
    raise BenchSystemError(f"found no {count} consecutive free ports on 127.0.0.1")


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _get(url: str, timeout: float = 3.0) -> Optional[bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.read() if response.status == 200 else None
    except (urllib.error.URLError, OSError, ValueError):
        return None


def stop_group(process: subprocess.Popen, wait_s: float = 20.0) -> None:
    """SIGTERM to the process group, SIGKILL if it is still there after `wait_s`."""
    for sig, wait in ((signal.SIGTERM, wait_s), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


class StockRasa:
    """Rasa's own starter assistant, untouched: what a team gets from `rasa init`."""

    name = "stock"
    label = "stock Rasa (rasa init)"

    def __init__(self, project: Path = BENCH_VAR / "stock", log: Log = print) -> None:
        self.project = project
        self.log = log
        self.port = 0
        self.actions_port = 0
        self._server: Optional[subprocess.Popen] = None
        self._actions: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def headers(self) -> Dict[str, str]:
        return {}

    def model(self) -> Optional[Path]:
        models = sorted((self.project / "models").glob("*.tar.gz"))
        return models[-1] if models else None

    def needs_action_server(self) -> bool:
        """True when the project's endpoints.yml configures an action server (the `rasa init` one does not)."""
        endpoints = self.project / "endpoints.yml"
        lines = endpoints.read_text(encoding="utf-8").splitlines() if endpoints.exists() else []
        return any(line.startswith("action_endpoint:") for line in lines)

    def prepare(self) -> None:
        """`rasa init --no-prompt` (which trains its model) unless a trained project is already there."""
        model = self.model()
        if model is not None:
            self.log(f"stock: using the trained starter project in {self.project.relative_to(ROOT)} ({model.name})")
            return
        shutil.rmtree(self.project, ignore_errors=True)
        self.project.mkdir(parents=True)
        log_path = self.project.parent / "stock-init.log"
        self.log(f"stock: rasa init --no-prompt into {self.project.relative_to(ROOT)} "
                 "(creates and trains the starter assistant once, about a minute) ...")
        started = time.monotonic()
        with log_path.open("w", encoding="utf-8") as log:
            code = subprocess.run([str(MAIN_VENV / "bin" / "rasa"), "init", "--no-prompt", "--init-dir",
                                   str(self.project)], cwd=self.project, env=self._env(), stdout=log,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=1800).returncode
        if code != 0 or self.model() is None:
            raise BenchSystemError(f"rasa init failed (exit {code}); its log: {log_path}")
        self.log(f"stock: trained in {time.monotonic() - started:.0f}s ({self.model().name})")  # type: ignore[union-attr]

    def _env(self) -> Dict[str, str]:
        return dict(os.environ, RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="2", PYTHONWARNINGS="ignore")

    def start(self, taken: set) -> None:
        """`rasa run` (and `rasa run actions` if configured) on free ports; returns once the bot answers."""
        model = self.model()
        if model is None:
            raise BenchSystemError("the stock project has no model: prepare() first")
        self.port = free_port(taken)
        rasa = str(MAIN_VENV / "bin" / "rasa")
        log_dir = self.project.parent
        started = time.monotonic()
        if self.needs_action_server():
            self.actions_port = free_port(taken)
            with (log_dir / "stock-actions.log").open("w", encoding="utf-8") as log:
                self._actions = subprocess.Popen([rasa, "run", "actions", "--port", str(self.actions_port)],
                                                 cwd=self.project, env=self._env(), stdout=log,
                                                 stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                                 start_new_session=True)
        with (log_dir / "stock-rasa.log").open("w", encoding="utf-8") as log:
            self._server = subprocess.Popen(
                [rasa, "run", "--model", str(model), "--endpoints", "endpoints.yml", "--credentials",
                 "credentials.yml", "--interface", "127.0.0.1", "--port", str(self.port)],
                cwd=self.project, env=self._env(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)
        self.log(f"stock: starting rasa run on 127.0.0.1:{self.port} ...")
        while _get(f"{self.url}/webhooks/rest/") is None:   # Rasa answers once the model is loaded
            if self._server.poll() is not None:
                raise BenchSystemError(f"stock rasa run exited with {self._server.returncode}; "
                                   f"its log: {log_dir / 'stock-rasa.log'}")
            if time.monotonic() - started > START_TIMEOUT_S:
                raise BenchSystemError(f"stock rasa run did not answer within {START_TIMEOUT_S:.0f}s; "
                                   f"its log: {log_dir / 'stock-rasa.log'}")
            time.sleep(0.5)
        self.log(f"stock: ready in {time.monotonic() - started:.0f}s")

    def processes(self) -> Dict[str, int]:
        """The system's processes by name (each counts with its children)."""
        found = {"rasa": self._server.pid} if self._server else {}
        if self._actions:
            found["actions"] = self._actions.pid
        return found

    def stop(self) -> None:
        for process in (self._server, self._actions):
            if process is not None:
                stop_group(process)
        self._server = self._actions = None


class Careline:
    """Careline as `make up` starts it, in a var/ folder and on ports of its own."""

    name = "careline"

    def __init__(self, var_dir: Path = BENCH_VAR / "careline", profile: str = "dev",
                 rasa_servers: Optional[int] = None, log: Log = print) -> None:
        self.var_dir = var_dir
        self.profile = profile
        self.rasa_servers = rasa_servers
        self.log = log
        self.env: Dict[str, str] = {}
        self.rest_token = secrets.token_urlsafe(32)
        self.started = False

    @property
    def label(self) -> str:
        if self.profile == "dev":
            return "Careline (make up)"
        return f"Careline (make up PROFILE={self.profile}, {self.rasa_servers or 'default'} Rasa servers)"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.env['CARELINE_RASA_PORT']}"

    @property
    def headers(self) -> Dict[str, str]:
        return {"Authorization": f"Bearer {self.rest_token}"}

    def _environment(self, taken: set) -> Dict[str, str]:
        env = {key: value for key, value in os.environ.items() if key not in OWN_VARIABLES}
        env.update({
            "CARELINE_VAR_DIR": str(self.var_dir),
            "CARELINE_PROFILE": self.profile,
            "CARELINE_RASA_PORT": str(free_port(taken)),
            "CARELINE_ACTIONS_PORT": str(free_port(taken)),
            "CARELINE_WEB_PORT": str(free_port(taken)),
            "CARELINE_DESK_PORT": str(free_port(taken)),
            "CARELINE_MAIL_PORT": str(free_port(taken)),
            "CARELINE_REST_TOKEN": self.rest_token,
            "CARELINE_RATE_PER_SENDER": RAISED_RATE,
            "CARELINE_RATE_PER_ADDRESS": RAISED_RATE,
        })
        if self.profile != "dev":
            env["CARELINE_PG_PORT"] = str(free_port(taken))
            env["CARELINE_REDIS_PORT"] = str(free_port(taken))
        if self.rasa_servers:
            env["CARELINE_RASA_SERVERS"] = str(self.rasa_servers)
            env["CARELINE_RASA_BACKEND_PORT"] = str(free_port_run(self.rasa_servers, taken))
        return env

    def _make(self, target: str, timeout_s: float, quiet: bool = False) -> subprocess.CompletedProcess:
        command = ["make", "--no-print-directory", target, f"PROFILE={self.profile}"]
        process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
        lines: List[str] = []
        started = time.monotonic()
        assert process.stdout is not None
        addresses = False   # `make up` ends with the list of addresses: not progress, left out
        for line in process.stdout:
            lines.append(line.rstrip())
            addresses = addresses or line.startswith("Careline is running")
            if not quiet and not addresses and line.strip():
                self.log(f"careline| {line.rstrip()}")
            if time.monotonic() - started > timeout_s:
                process.kill()
                break
        code = process.wait()
        return subprocess.CompletedProcess(command, code, "\n".join(lines), "")

    def start(self, taken: set) -> None:
        """Stop what an earlier run may have left, empty the var/ folder, then `make up` on new free ports."""
        self.env = self._environment(taken)
        if (self.var_dir / "run").exists():
            self._make("down", 180, quiet=True)
        shutil.rmtree(self.var_dir, ignore_errors=True)
        self.var_dir.mkdir(parents=True)
        self.log(f"careline: make up{' PROFILE=' + self.profile if self.profile != 'dev' else ''} in "
                 f"{self.var_dir.relative_to(ROOT)} on 127.0.0.1:{self.env['CARELINE_RASA_PORT']} ...")
        started = time.monotonic()
        self.started = True     # from here on stop() runs `make down`, also when `up` fails half-way
        result = self._make("up", 1800)
        if result.returncode != 0:
            tail = "\n".join(result.stdout.splitlines()[-30:])
            raise BenchSystemError(f"make up failed (exit {result.returncode}):\n{tail}")
        self.log(f"careline: ready in {time.monotonic() - started:.0f}s")

    def processes(self) -> Dict[str, int]:
        """The processes `make up` started, by the names of their pid files (each counts with its children),
        and the supervisor that watches them (var/run/supervisor.json), counted without them."""
        found: Dict[str, int] = {}
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            found["supervisor"] = int(json.loads((self.var_dir / "run" / "supervisor.json").read_text())["pid"])
        for path in sorted((self.var_dir / "run").glob("*.pid")):
            try:
                text = path.read_text().strip()
                found[path.stem] = int(json.loads(text)["pid"]) if text.startswith("{") else int(text.split()[0])
            except (OSError, ValueError, KeyError, TypeError, IndexError):
                continue
        return found

    def stop(self) -> None:
        if self.started:
            result = self._make("down", 300, quiet=True)
            self.log(f"careline: {result.stdout.strip().splitlines()[-1] if result.stdout.strip() else 'stopped'}")
            self.started = False
