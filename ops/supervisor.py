"""Start, watch and stop Careline's processes (ops/services.py lists them for the dev and prod profiles).

    python -m ops.supervisor run     the watcher in the foreground; Ctrl-C stops everything
    python -m ops.supervisor up      starts the watcher as a daemon; returns once everything is healthy
    python -m ops.supervisor down    stops the watcher (so nothing restarts), then every process, last first
    python -m ops.supervisor status  each process, its health and how often it was restarted
    python -m ops.supervisor reload  every Rasa server loads the current model (no restart)
    python -m ops.supervisor clean   removes what var/ links to (as root, the prod profile's PostgreSQL cluster)
    python -m ops.supervisor watch   (what `up` starts in the background)

The watcher (ops/watch.py) starts the processes in order, waits until each is healthy, then
restarts any that exits, with backoff, one line per event in var/log/supervisor.log. Its state
(pid, profile, each process's restarts) is var/run/supervisor.json, and var/run/supervisor.lock
keeps a second watcher from running on the same var/ folder. Processes bind to 127.0.0.1, log
to var/log/ and keep their pid files in var/run/. Secrets travel in the environment, never on a
command line.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any, Dict, List, Optional

from careline.shared.private_files import secure_var
from careline.shared.redis_limits import safe_url
from careline.shared.settings import Settings, SettingsError, load_settings
from ops import processes
from ops.processes import Service
from ops.infra import ServerMissing, postgres
from ops.infra.packages import require
from ops.services import mail_catcher_env, places, rasa_backends, service_named, services, stop_order
from ops.train import model_path
from ops.watch import Backoff, EventLog, Watcher

__all__ = ["mail_catcher_env", "services", "main"]

HEALTH_TIMEOUT_S = float(os.environ.get("CARELINE_HEALTH_TIMEOUT", "240"))
WATCHER_STOP_TIMEOUT_S = 240.0  # the watcher stops every process (each up to 20 s) before it exits
READY, ERROR = "@ready", "@error "  # what the daemon tells `up` on its stdout


# -- the watcher's state file and lock ---------------------------------------------------------------

def _state_path(settings: Settings) -> Path:
    return settings.run_dir / "supervisor.json"


def read_state(settings: Settings) -> Optional[Dict[str, Any]]:
    """The running watcher's state, or None when no watcher runs."""
    try:
        state: Dict[str, Any] = json.loads(_state_path(settings).read_text())
    except (OSError, ValueError):
        return None
    pid = state.get("pid")
    return state if isinstance(pid, int) and processes.alive(pid) else None


def _write_state(settings: Settings, watcher: Watcher, since: float) -> None:
    state = {
        "pid": os.getpid(), "since": since, "ready": watcher.ready, "profile": settings.profile,
        "rasa_servers": settings.rasa_servers,
        "services": [{"name": item.service.name, "pid": item.pid, "port": item.service.port, "state": item.state,
                      "restarts": item.restarts} for item in watcher.watched],
    }
    path = _state_path(settings)
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(state))
    temporary.replace(path)


def _lock(settings: Settings) -> IO[str]:
    """Hold var/run/supervisor.lock for this process's life, or say who holds it."""
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    handle = (settings.run_dir / "supervisor.lock").open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        state = read_state(settings)
        who = f" (pid {state['pid']})" if state else ""
        raise RuntimeError(f"another supervisor is watching {settings.var_dir}{who}: `make status` shows it, "
                           "`make down` stops it") from None
    return handle


def running_settings(settings: Settings) -> Settings:
    """The settings of the system the watcher runs (its profile and number of Rasa servers), for the
    commands that act on what runs: `make status` and `make reload` need no PROFILE=."""
    state = read_state(settings)
    if not state:
        return settings
    profile, servers = str(state.get("profile", settings.profile)), int(state.get("rasa_servers", 1))
    if (profile, servers) == (settings.profile, settings.rasa_servers):
        return settings
    return load_settings(environ={**os.environ, "CARELINE_PROFILE": profile, "CARELINE_RASA_SERVERS": str(servers)},
                         root=settings.root)


# -- checks before starting --------------------------------------------------------------------------

def _check_ready_to_start(settings: Settings) -> Path:
    for key, value in (("RASA_AUTH_TOKEN", settings.auth_token), ("CARELINE_ACTIONS_TOKEN", settings.actions_token),
                       ("CARELINE_SIGNING_KEY", settings.signing_key)):
        if not value:
            raise RuntimeError(f"{key} is not set: run `make env` (it writes .env) or export it")
    model = model_path(settings.root)
    if not model.exists():
        raise RuntimeError(f"no trained model for the current data ({model.name}): run `make train`")
    require(settings)
    return model


def _addresses(settings: Settings) -> str:
    lines = [
        "Careline is running:" + (" (prod profile)" if settings.profile == "prod" else ""),
        f"  Shop page + chat {settings.web_url}/  (open it in a browser)",
        f"  Agent desk       {settings.desk_url}/  (accounts: README, passwords: CARELINE_DESK_*_PASSWORD in .env)",
        f"  REST webhook     {settings.rasa_url}/webhooks/rest/webhook  "
        f"({'Bearer CARELINE_REST_TOKEN' if settings.rest_token else 'off: set CARELINE_REST_TOKEN to enable'})",
        f"  Website socket   {settings.rasa_url}/socket.io  (socketio channel)",
        f"  Messenger hook   {settings.rasa_url}/webhooks/facebook/webhook  "
        f"({'configured' if settings.messenger_configured else 'off: set CARELINE_FB_* to enable'})",
        f"  Rasa HTTP API    {settings.rasa_url}  (token: RASA_AUTH_TOKEN in .env)",
    ]
    if settings.behind_proxy:
        backends = ", ".join(f"{name} {settings.host}:{port}" for name, port in rasa_backends(settings).items())
        lines.append(f"  Rasa servers     {backends}, behind nginx on {settings.host}:{settings.rasa_port}")
    lines += [
        f"  Action server    {settings.actions_url}/webhook  (token: CARELINE_ACTIONS_TOKEN in .env)",
        f"  Worker           outboxes and schedules; helpdesk "
        f"{settings.helpdesk_url or 'off (set CARELINE_HELPDESK_URL)'}",
        f"  Emails           {_mail_line(settings)}",
        f"  Warehouse        {settings.warehouse_url or 'off: reshipments wait (set CARELINE_WAREHOUSE_URL)'}",
        f"  Return labels    {settings.customer_url}/returns/label/<signed link>.pdf (links in chat, email and desk)",
    ]
    if settings.profile == "prod":
        lines += [
            f"  PostgreSQL       {settings.host}:{settings.pg_port}, databases careline and careline_tracker "
            "(role careline, CARELINE_PG_PASSWORD in .env)",
            f"  Redis            {safe_url(settings.redis_url)}  (conversation locks, rate limits; "
            "CARELINE_REDIS_PASSWORD in .env)",
            f"  nginx            {settings.rasa_url} -> Rasa servers on "
            f"{', '.join(str(port) for port in settings.rasa_backend_ports)} (access log {settings.var_dir}/nginx)",
        ]
    lines += [
        f"  Logs             {settings.log_dir}",
        f"  Supervisor       restarts any process that exits or hangs ({settings.log_dir}/supervisor.log, "
        "`make status`)",
    ]
    return "\n".join(lines)


def _mail_line(settings: Settings) -> str:
    if settings.smtp_host:
        return f"SMTP {settings.smtp_host}:{settings.smtp_port} ({settings.smtp_security})"
    return (f"local mail catcher {settings.host}:{settings.mail_port}, nothing leaves this machine: "
            f"messages in {settings.mail_dir}/ (set CARELINE_SMTP_HOST for a real server)")


# -- the watcher: foreground (`run`) or daemon (`watch`, started by `up`) ---------------------------

def serve(settings: Settings, foreground: bool) -> int:
    """Start everything and keep it running until SIGINT or SIGTERM; then stop everything."""
    stopping: Dict[str, Optional[int]] = {"signal": None}

    def _on_signal(signum: int, _frame: Any) -> None:
        stopping["signal"] = signum

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    if not foreground:
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    log_path = settings.log_dir / "supervisor.log"
    log = EventLog(log_path, echo=sys.stdout)
    since = time.time()
    try:
        lock = _lock(settings)
        model = _check_ready_to_start(settings)

        def refresh(name: str) -> Optional[Service]:  # a restarted Rasa server loads the newest trained model
            current = model_path(settings.root)
            return service_named(settings, current if current.exists() else model, name)

        watcher = Watcher(places(settings), services(settings, model), log, Backoff(), HEALTH_TIMEOUT_S,
                          host=settings.host, refresh=refresh,
                          on_change=lambda changed: _write_state(settings, changed, since))
        log.note(f"supervisor (pid {os.getpid()}) starting the {settings.profile} profile")
        watcher.start_all(lambda: stopping["signal"] is not None)
    except (RuntimeError, SettingsError) as error:
        _state_path(settings).unlink(missing_ok=True)
        log.note(f"start failed: {error}")
        if foreground:
            raise
        print(f"{ERROR}{error}", flush=True)
        return 1
    log.note("everything is healthy; watching")
    if foreground:
        print(_addresses(settings))
        print("Press Ctrl-C to stop.", flush=True)
    else:
        print(READY, flush=True)
        _detach_stdout(log_path)
        log.echo = None
    watcher.watch(lambda: stopping["signal"] is not None)
    if foreground:
        print("\nstopping ...", flush=True)
    log.note(f"stopping everything (signal {stopping['signal']})")
    stopped = watcher.stop_all()
    _state_path(settings).unlink(missing_ok=True)
    print(f"down: stopped {', '.join(stopped)}" if stopped else "down: nothing was running", flush=True)
    lock.close()
    return 0


def _detach_stdout(log_path: Path) -> None:
    """`up` has its answer: what the daemon prints from now on goes to its log, not to a closed pipe."""
    sys.stdout.flush()
    descriptor = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.dup2(descriptor, sys.stdout.fileno())
    os.close(descriptor)


def up(settings: Settings) -> int:
    """Start the watcher as a daemon, echo its progress, return once everything is healthy."""
    state = read_state(settings)
    if state is not None:
        return _already_up(settings, state)
    _check_ready_to_start(settings)
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    with (settings.log_dir / "supervisor.log").open("ab") as log:
        daemon = subprocess.Popen([sys.executable, "-m", "ops.supervisor", "watch"], cwd=settings.root,
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, text=True,
                                  start_new_session=True)
    assert daemon.stdout is not None
    error: List[str] = []
    ready = False
    try:
        for line in daemon.stdout:
            if line.rstrip("\n") == READY:
                ready = True
                break
            if line.startswith(ERROR) or error:
                error.append(line[len(ERROR):] if line.startswith(ERROR) and not error else line)
            else:
                print(line, end="", flush=True)
    except KeyboardInterrupt:
        daemon.terminate()  # the watcher stops what it started
        daemon.wait(WATCHER_STOP_TIMEOUT_S)
        raise
    daemon.stdout.close()
    if ready:
        print(_addresses(settings))
        return 0
    code = daemon.wait(WATCHER_STOP_TIMEOUT_S)
    raise RuntimeError("".join(error).rstrip() or
                       f"the supervisor exited with code {code} while starting; last lines of "
                       f"var/log/supervisor.log:\n{processes.log_tail(places(settings), 'supervisor')}")


def _already_up(settings: Settings, state: Dict[str, Any]) -> int:
    if state.get("profile") != settings.profile:
        raise RuntimeError(f"Careline is running with the {state.get('profile')} profile: `make down` first")
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    while not state.get("ready"):
        if time.monotonic() > deadline:
            raise RuntimeError("the running supervisor did not get everything healthy; see `make status`")
        print("  the supervisor is still starting ...", flush=True)
        time.sleep(2)
        state = read_state(settings) or {}
        if not state:
            raise RuntimeError("the supervisor that was starting stopped; see var/log/supervisor.log")
    for entry in state.get("services", []):
        port = f" on port {entry['port']}" if entry.get("port") else ""
        print(f"  {entry['name']} is already running{port}")
    print(_addresses(settings))
    return 0


def run_foreground(settings: Settings) -> int:
    """`make run`: the watcher in this terminal; Ctrl-C stops everything."""
    return serve(settings, foreground=True)


# -- down, status, reload ----------------------------------------------------------------------------

def down(settings: Settings) -> int:
    """Stop the watcher first (so it restarts nothing), which stops every process last-started first;
    then stop whatever still has a pid file (a watcher killed with -9 leaves its processes behind)."""
    where = places(settings)
    state = read_state(settings)
    order = [entry["name"] for entry in (state or {}).get("services", [])][::-1]
    found = [path.stem for path in settings.run_dir.glob("*.pid")] if settings.run_dir.exists() else []
    order += stop_order([name for name in found if name not in order])
    running = [name for name in order if processes.read_pid(where, name) is not None]
    if state is not None:
        watcher = int(state["pid"])
        with contextlib.suppress(ProcessLookupError):
            os.kill(watcher, signal.SIGTERM)
        deadline = time.monotonic() + WATCHER_STOP_TIMEOUT_S
        while processes.alive(watcher) and time.monotonic() < deadline:
            time.sleep(0.1)
        if processes.alive(watcher):
            print(f"  the supervisor (pid {watcher}) did not stop in {WATCHER_STOP_TIMEOUT_S:.0f}s, killing it")
            with contextlib.suppress(ProcessLookupError):
                os.kill(watcher, signal.SIGKILL)
    for name in order:
        processes.stop_by_pid_file(where, name)
    _state_path(settings).unlink(missing_ok=True)
    stopped = (["supervisor"] if state else []) + running
    print(f"down: stopped {', '.join(stopped)}" if stopped else "down: nothing was running")
    return 0


def status(settings: Settings) -> int:
    """Each process: healthy or not, pid, port, restarts. Exit code 3 unless all are healthy and watched."""
    where = places(settings)
    state = read_state(settings)
    restarts = {entry["name"]: entry.get("restarts", 0) for entry in (state or {}).get("services", [])}
    code = 0
    if state:
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(state.get("since", 0)))
        print(f"{'supervisor':10} {'watching':22} pid={state['pid']} since {since} ({state.get('profile')} profile)")
    else:
        print(f"{'supervisor':10} {'stopped':22} nothing restarts a process that exits (`make up` starts it)")
        code = 3
    for service in services(settings, model_path(settings.root)):
        pid = processes.read_pid(where, service.name)
        healthy = pid is not None and service.probe()
        label = "healthy" if healthy else ("starting or unhealthy" if pid else "stopped")
        code = code if healthy else 3
        print(f"{service.name:10} {label:22} pid={pid or '-'} port={service.port or '-'} "
              f"restarts={restarts.get(service.name, 0)}")
    return code


def _rasa_api(settings: Settings, port: int, method: str, path: str, body: Optional[dict] = None,
              timeout: float = 10) -> bytes:
    request = urllib.request.Request(f"http://{settings.host}:{port}{path}?token={settings.auth_token}",
                                     method=method, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return bytes(response.read())


def _serving(settings: Settings, port: int) -> str:
    return str(json.loads(_rasa_api(settings, port, "GET", "/status") or b"{}").get("model_file", ""))


def reload(settings: Settings) -> int:
    """Make every running Rasa server serve the model of the current data, one after the other, without a
    restart (each keeps answering with its old model while it loads the new one)."""
    model = model_path(settings.root)
    if not model.exists():
        raise RuntimeError(f"no trained model for the current data ({model.name}): run `make train`")
    backends = rasa_backends(settings)
    label = (lambda name: "") if len(backends) == 1 else (lambda name: f"{name}: ")
    for name, port in backends.items():
        try:
            serving = _serving(settings, port)
        except (urllib.error.URLError, OSError) as error:
            raise RuntimeError(f"the Rasa server {name} at {settings.host}:{port} is not answering ({error}); "
                               "`make up` first") from None
        if Path(serving).name == model.name:
            print(f"reload: {label(name)}already serving {model.name}")
            continue
        started = time.monotonic()
        print(f"reload: {label(name)}loading {model.name} (was {Path(serving).name or 'none'}); "
              "the old model answers meanwhile ...", flush=True)
        _rasa_api(settings, port, "PUT", "/model", {"model_file": str(model)}, timeout=600)
        now = _serving(settings, port)
        if Path(now).name != model.name:
            raise RuntimeError(f"{name} still reports {now!r} after loading {model.name}")
        print(f"reload: {label(name)}now serving {model.name} ({time.monotonic() - started:.0f}s, no restart)")
    return 0


# -- command line ------------------------------------------------------------------------------------

def clean(settings: Settings) -> int:
    """`make clean` (after `make down`): remove what var/ only links to (under root, PostgreSQL's cluster)."""
    if read_state(settings) is not None:
        raise RuntimeError("the system is running: `make down` first")
    removed = postgres.forget(settings)
    if removed is not None:
        print(f"clean: removed the PostgreSQL cluster {removed}")
    return 0


def main(argv: List[str]) -> int:
    command = argv[0] if argv else "run"
    try:
        settings = load_settings()
        if command in ("down", "status", "reload"):
            settings = running_settings(settings)
        secure_var(settings.var_dir, (settings.store_db_url, settings.tracker_db_url))  # every start fixes modes
        if command == "run":
            return run_foreground(settings)
        if command == "watch":
            return serve(settings, foreground=False)
        if command == "up":
            return up(settings)
        if command == "down":
            return down(settings)
        if command == "status":
            return status(settings)
        if command == "reload":
            return reload(settings)
        if command == "clean":
            return clean(settings)
    except (RuntimeError, SettingsError, ServerMissing) as error:
        print(f"{command}: {error}", file=sys.stderr)
        return 1
    print(f"unknown command {command!r}; use run, up, down, status, reload or clean", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
