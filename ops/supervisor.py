"""Start, watch and stop Careline's processes (action server, Rasa server, shop page, desk, worker, and the
local mail catcher when no mail server is configured).

    python -m ops.supervisor run     foreground; Ctrl-C stops everything
    python -m ops.supervisor up      background; returns once everything is healthy
    python -m ops.supervisor down    stops what `up` started
    python -m ops.supervisor status  what is running
    python -m ops.supervisor reload  the running Rasa server loads the current model (no restart)

Processes bind to 127.0.0.1, log to var/log/ and keep their pid files in var/run/.
The HTTP API token is handed over in the environment, never on a command line.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional

from careline.shared.private_files import secure_var
from careline.shared.settings import Settings, load_settings
from ops.train import model_path

HEALTH_TIMEOUT_S = float(os.environ.get("CARELINE_HEALTH_TIMEOUT", "240"))
STOP_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class Service:
    name: str
    command: List[str]
    probe: Callable[[], bool]
    port: Optional[int] = None


def _http_probe(url: str, check: Callable[[bytes], bool]) -> Callable[[], bool]:
    def probe() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=3) as response:
                return response.status == 200 and check(response.read())
        except (urllib.error.URLError, OSError, ValueError):
            return False

    return probe


def _heartbeat_probe(path: Path, max_age_s: float = 10.0) -> Callable[[], bool]:
    def probe() -> bool:
        try:
            return time.time() - path.stat().st_mtime < max_age_s
        except OSError:
            return False

    return probe


def _smtp_probe(host: str, port: int) -> Callable[[], bool]:
    def probe() -> bool:
        try:
            with smtplib.SMTP(host, port, timeout=3) as client:
                return client.noop()[0] == 250
        except (smtplib.SMTPException, OSError):
            return False

    return probe


def mail_catcher_env(settings: Settings) -> Dict[str, str]:
    """Without a configured mail server (CARELINE_SMTP_HOST), the processes send to the local mail catcher."""
    if settings.smtp_host:
        return {}
    return {"CARELINE_SMTP_HOST": settings.host, "CARELINE_SMTP_PORT": str(settings.mail_port),
            "CARELINE_SMTP_SECURITY": "none"}


def _venv_bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def services(settings: Settings, model: Path) -> List[Service]:
    """The processes of the system, in start order."""
    token_query = f"?token={settings.auth_token}"
    result = [
        Service(
            name="actions",
            port=settings.actions_port,
            command=[sys.executable, "-m", "ops.action_server", "--port", str(settings.actions_port)],
            probe=_http_probe(f"{settings.actions_url}/health",
                              lambda body: json.loads(body or b"{}").get("status") == "ok"),
        ),
        Service(
            name="rasa",
            port=settings.rasa_port,
            command=[sys.executable, "-m", "ops.rasa_server", "--model", str(model),
                     "--interface", settings.host, "--port", str(settings.rasa_port)],
            probe=_http_probe(f"{settings.rasa_url}/status{token_query}",
                              lambda body: bool(json.loads(body or b"{}").get("model_id"))),
        ),
        Service(
            name="web",
            port=settings.web_port,
            command=[sys.executable, "-m", "ops.web_server", "--port", str(settings.web_port)],
            probe=_http_probe(f"{settings.web_url}/health", lambda body: b"ok" in body),
        ),
        Service(
            name="desk",
            port=settings.desk_port,
            command=[sys.executable, "-m", "careline.desk", "--port", str(settings.desk_port)],
            probe=_http_probe(f"{settings.desk_url}/health", lambda body: b"ok" in body),
        ),
    ]
    if not settings.smtp_host:
        result.append(Service(name="mail", port=settings.mail_port,
                              command=[sys.executable, "-m", "ops.mail_catcher", "--port", str(settings.mail_port),
                                       "--dir", str(settings.mail_dir)],
                              probe=_smtp_probe(settings.host, settings.mail_port)))
    result.append(Service(name="worker", command=[sys.executable, "-m", "careline.worker"],
                          probe=_heartbeat_probe(settings.worker_heartbeat)))
    return result


SERVICE_NAMES = ("worker", "mail", "desk", "web", "rasa", "actions")  # stop order


def _pid_file(settings: Settings, name: str) -> Path:
    return settings.run_dir / f"{name}.pid"


def _read_pid(settings: Settings, name: str) -> Optional[int]:
    path = _pid_file(settings, name)
    try:
        pid = int(json.loads(path.read_text())["pid"])
    except (OSError, ValueError, KeyError):
        return None
    return pid if _alive(pid) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _log_tail(settings: Settings, name: str, lines: int = 25) -> str:
    path = settings.log_dir / f"{name}.log"
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _start(settings: Settings, service: Service) -> subprocess.Popen:
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, **settings.process_env(), **mail_catcher_env(settings), RASA_AUTH_TOKEN=settings.auth_token,
               SANIC_HOST=settings.host, PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="2",
               SQLALCHEMY_SILENCE_UBER_WARNING="1", PYTHONWARNINGS="ignore::DeprecationWarning")
    log = (settings.log_dir / f"{service.name}.log").open("ab")
    process = subprocess.Popen(
        service.command, cwd=settings.root, env=env, stdout=log, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, start_new_session=True,
    )
    log.close()
    _pid_file(settings, service.name).write_text(
        json.dumps({"pid": process.pid, "port": service.port, "started": time.time()})
    )
    return process


def _wait_healthy(settings: Settings, service: Service, process: subprocess.Popen) -> None:
    started = time.monotonic()
    last_note = started
    while not service.probe():
        if process.poll() is not None:
            raise RuntimeError(
                f"{service.name} exited with code {process.returncode} while starting; "
                f"last lines of var/log/{service.name}.log:\n{_log_tail(settings, service.name)}"
            )
        now = time.monotonic()
        if now - started > HEALTH_TIMEOUT_S:
            raise RuntimeError(
                f"{service.name} was not healthy after {HEALTH_TIMEOUT_S:.0f}s; last log lines:\n"
                f"{_log_tail(settings, service.name)}"
            )
        if now - last_note >= 5:
            print(f"  waiting for {service.name} ... {now - started:.0f}s", flush=True)
            last_note = now
        time.sleep(0.5)
    print(f"  {service.name} is healthy ({time.monotonic() - started:.1f}s)", flush=True)


def _stop_pid(pid: int, name: str) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            finished, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            finished = pid if not _alive(pid) else 0
        if finished:
            return
        time.sleep(0.2)
    print(f"  {name} did not stop in {STOP_TIMEOUT_S:.0f}s, killing it", flush=True)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def down(settings: Settings) -> int:
    """Stop every process that has a pid file, newest first."""
    stopped = []
    for name in SERVICE_NAMES:
        pid = _read_pid(settings, name)
        if pid is not None:
            _stop_pid(pid, name)
            stopped.append(name)
        _pid_file(settings, name).unlink(missing_ok=True)
    print(f"down: stopped {', '.join(stopped)}" if stopped else "down: nothing was running")
    return 0


def _mail_line(settings: Settings) -> str:
    if settings.smtp_host:
        return f"SMTP {settings.smtp_host}:{settings.smtp_port} ({settings.smtp_security})"
    return (f"local mail catcher {settings.host}:{settings.mail_port}, nothing leaves this machine: "
            f"messages in {settings.mail_dir}/ (set CARELINE_SMTP_HOST for a real server)")


def _addresses(settings: Settings) -> str:
    return "\n".join([
        "Careline is running:",
        f"  Shop page + chat {settings.web_url}/  (open it in a browser)",
        f"  Agent desk       {settings.desk_url}/  (accounts: README, passwords: CARELINE_DESK_*_PASSWORD in .env)",
        f"  REST webhook     {settings.rasa_url}/webhooks/rest/webhook  "
        f"({'Bearer CARELINE_REST_TOKEN' if settings.rest_token else 'off: set CARELINE_REST_TOKEN to enable'})",
        f"  Website socket   {settings.rasa_url}/socket.io  (socketio channel)",
        f"  Messenger hook   {settings.rasa_url}/webhooks/facebook/webhook  "
        f"({'configured' if settings.messenger_configured else 'off: set CARELINE_FB_* to enable'})",
        f"  Rasa HTTP API    {settings.rasa_url}  (token: RASA_AUTH_TOKEN in .env)",
        f"  Action server    {settings.actions_url}/webhook  (token: CARELINE_ACTIONS_TOKEN in .env)",
        f"  Worker           outboxes and schedules; helpdesk "
        f"{settings.helpdesk_url or 'off (set CARELINE_HELPDESK_URL)'}",
        f"  Emails           {_mail_line(settings)}",
        f"  Warehouse        {settings.warehouse_url or 'off: reshipments wait (set CARELINE_WAREHOUSE_URL)'}",
        f"  Return labels    {settings.customer_url}/returns/label/<signed link>.pdf (links in chat, email and desk)",
        f"  Logs             {settings.log_dir}",
    ])


def up(settings: Settings) -> Dict[str, subprocess.Popen]:
    """Start every service that is not already running and wait until all are healthy."""
    for key, value in (("RASA_AUTH_TOKEN", settings.auth_token), ("CARELINE_ACTIONS_TOKEN", settings.actions_token),
                       ("CARELINE_SIGNING_KEY", settings.signing_key)):
        if not value:
            raise RuntimeError(f"{key} is not set: run `make env` (it writes .env) or export it")
    model = model_path(settings.root)
    if not model.exists():
        raise RuntimeError(f"no trained model for the current data ({model.name}): run `make train`")
    started: Dict[str, subprocess.Popen] = {}
    try:
        for service in services(settings, model):
            if _read_pid(settings, service.name) is not None and service.probe():
                print(f"  {service.name} is already running on port {service.port}")
                continue
            if service.port and _port_in_use(settings.host, service.port):
                raise RuntimeError(
                    f"port {service.port} ({service.name}) is taken by another program; stop it "
                    f"or choose another port with CARELINE_{service.name.upper()}_PORT"
                )
            where = f" on {settings.host}:{service.port}" if service.port else ""
            print(f"  starting {service.name}{where}", flush=True)
            process = _start(settings, service)
            started[service.name] = process
            _wait_healthy(settings, service, process)
    except BaseException:
        for name, process in started.items():
            _stop_pid(process.pid, name)
            _pid_file(settings, name).unlink(missing_ok=True)
        raise
    return started


def run_foreground(settings: Settings) -> int:
    """Start everything, print the addresses and keep watch until Ctrl-C or a crash."""
    stopping = {"signal": None}

    def _on_signal(signum, _frame) -> None:
        stopping["signal"] = signum

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    children = up(settings)
    print(_addresses(settings))
    print("Press Ctrl-C to stop.", flush=True)
    code = 0
    while stopping["signal"] is None:
        crashed = [name for name, process in children.items() if process.poll() is not None]
        if crashed:
            print(f"run: {', '.join(crashed)} stopped unexpectedly; last log lines:")
            for name in crashed:
                print(_log_tail(settings, name))
            code = 1
            break
        time.sleep(1)
    print("\nstopping ...", flush=True)
    down(settings)
    return code


def status(settings: Settings) -> int:
    model = model_path(settings.root)
    code = 0
    for service in services(settings, model):
        pid = _read_pid(settings, service.name)
        healthy = pid is not None and service.probe()
        state = "healthy" if healthy else ("starting or unhealthy" if pid else "stopped")
        code = code if healthy else 3
        print(f"{service.name:8} {state:22} pid={pid or '-'} port={service.port or '-'}")
    return code


def _rasa_api(settings: Settings, method: str, path: str, body: Optional[dict] = None, timeout: float = 10) -> bytes:
    request = urllib.request.Request(f"{settings.rasa_url}{path}?token={settings.auth_token}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.read()


def reload(settings: Settings) -> int:
    """Make the running Rasa server serve the model of the current data, without a restart."""
    model = model_path(settings.root)
    if not model.exists():
        raise RuntimeError(f"no trained model for the current data ({model.name}): run `make train`")
    try:
        serving = json.loads(_rasa_api(settings, "GET", "/status") or b"{}").get("model_file", "")
    except (urllib.error.URLError, OSError) as error:
        raise RuntimeError(f"the Rasa server at {settings.rasa_url} is not answering ({error}); "
                           "`make up` first") from None
    if Path(serving).name == model.name:
        print(f"reload: already serving {model.name}")
        return 0
    started = time.monotonic()
    print(f"reload: loading {model.name} (was {Path(serving).name or 'none'}); the old model answers meanwhile ...",
          flush=True)
    _rasa_api(settings, "PUT", "/model", {"model_file": str(model)}, timeout=600)
    now = json.loads(_rasa_api(settings, "GET", "/status") or b"{}").get("model_file", "")
    if Path(now).name != model.name:
        raise RuntimeError(f"the server still reports {now!r} after loading {model.name}")
    print(f"reload: now serving {model.name} ({time.monotonic() - started:.0f}s, no restart)")
    return 0


def main(argv: List[str]) -> int:
    command = argv[0] if argv else "run"
    settings = load_settings()
    secure_var(settings.var_dir, (settings.store_db_url, settings.tracker_db_url))  # every start fixes modes
    try:
        if command == "run":
            return run_foreground(settings)
        if command == "up":
            up(settings)
            print(_addresses(settings))
            return 0
        if command == "down":
            return down(settings)
        if command == "status":
            return status(settings)
        if command == "reload":
            return reload(settings)
    except RuntimeError as error:
        print(f"{command}: {error}", file=sys.stderr)
        return 1
    print(f"unknown command {command!r}; use run, up, down, status or reload", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
