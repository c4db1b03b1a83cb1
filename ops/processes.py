"""One supervised process: what it is (`Service`), how to start it, find it again and stop it.

Every process starts in a session of its own (a Ctrl-C in the terminal reaches only the supervisor,
which then stops them in order), logs to var/log/<name>.log and has its pid file var/run/<name>.pid:
JSON with its pid, port, start time and how it wants to be stopped, so `down` can stop it even when
the supervisor that started it is gone.
"""
from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import smtplib
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Tuple

STOP_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class Service:
    """A long-running process of the system and how to tell that it works.

    Attributes:
        name: its name in logs, pid files and `make status` (var/log/<name>.log, var/run/<name>.pid).
        command: the argument vector (never a secret on it: secrets travel in the environment).
        probe: True once it serves (an HTTP health route, an SMTP NOOP, a PING ...).
        port: the TCP port it listens on, checked to be free before it starts.
        port_setting: the variable that chooses that port (default CARELINE_<NAME>_PORT), for messages.
        env: variables added to the system's environment for this process only.
        user: the account it runs as when the supervisor runs as root (PostgreSQL refuses root).
        prepare: called before every start (folders, rendered configuration, initdb).
        setup: called once after its first healthy start, with a function that prints progress
            (PostgreSQL: roles, databases, migrations and demo data).
        stop_signal: what asks it to stop (PostgreSQL: SIGINT, its "fast" shutdown).
        signal_group: send stop_signal to its whole process group; False for servers that stop
            their own workers and would take a signal to a worker as something else.
        wait: wait until it is healthy before the next service starts (False: the next one starts
            at once and both are waited for together, e.g. the Rasa servers load their models side by side).
        foreign: a server that is not Careline's (PostgreSQL, Redis, nginx): it gets a bare environment
            (PATH, locale, time zone) and `env`, never the system's secrets.
        busy_grace_s: how long it is left to work when it misses its health checks while it uses the CPU
            (a Rasa server with more messages queued than it can take: a restart would drop them all);
            0: such a process is restarted as a hung one (a loop that spins is the likelier cause).
    """

    name: str
    command: List[str]
    probe: Callable[[], bool]
    port: Optional[int] = None
    port_setting: str = ""
    env: Mapping[str, str] = field(default_factory=dict)
    user: Optional[str] = None
    prepare: Optional[Callable[[], None]] = None
    setup: Optional[Callable[[Callable[[str], None]], None]] = None
    stop_signal: int = signal.SIGTERM
    signal_group: bool = True
    wait: bool = True
    foreign: bool = False
    busy_grace_s: float = 0.0


#: What a foreign server inherits of the supervisor's environment.
BARE_ENV = ("PATH", "LANG", "LC_ALL", "TZ")


def environment(places: Places, service: Service) -> Dict[str, str]:
    """The environment `service` starts with."""
    if service.foreign:
        return {**{key: places.env[key] for key in BARE_ENV if key in places.env}, **service.env}
    return {**places.env, **service.env}


@dataclass(frozen=True)
class Places:
    """Where processes run, log and leave pid files, and the environment they all get."""

    cwd: Path
    run_dir: Path
    log_dir: Path
    env: Mapping[str, str]

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def pid_path(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"


# -- probes -------------------------------------------------------------------------------------------

def http_probe(url: str, check: Callable[[bytes], bool], timeout_s: float = 3.0) -> Callable[[], bool]:
    """Healthy when GET `url` answers 200 (within `timeout_s`) and `check(body)` holds."""
    def probe() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as response:
                return bool(response.status == 200 and check(response.read()))
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException):
            return False  # HTTPException: e.g. the server died half-way through its answer

    return probe


def heartbeat_probe(path: Path, max_age_s: float = 10.0) -> Callable[[], bool]:
    """Healthy while `path` was touched within the last `max_age_s` seconds."""
    def probe() -> bool:
        try:
            return time.time() - path.stat().st_mtime < max_age_s
        except OSError:
            return False

    return probe


def smtp_probe(host: str, port: int) -> Callable[[], bool]:
    """Healthy when the SMTP server at host:port answers NOOP."""
    def probe() -> bool:
        try:
            with smtplib.SMTP(host, port, timeout=3) as client:
                return bool(client.noop()[0] == 250)
        except (smtplib.SMTPException, OSError):
            return False

    return probe


# -- pid files ----------------------------------------------------------------------------------------

def alive(pid: int) -> bool:
    """True while a process with this pid runs (also one of another user); an exited one that nobody
    reaped yet (a zombie: a process adopted from a supervisor that died) is not alive."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def read_pid_file(path: Path) -> Optional[Dict[str, object]]:
    """The record of a pid file whose process still runs, else None."""
    try:
        record = json.loads(path.read_text())
        pid = int(record["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return record if alive(pid) else None


def read_pid(places: Places, name: str) -> Optional[int]:
    """The pid of the running process `name` (from its pid file), else None."""
    record = read_pid_file(places.pid_path(name))
    return int(str(record["pid"])) if record else None


def write_pid_file(places: Places, service: Service, pid: int) -> None:
    places.pid_path(service.name).write_text(json.dumps({
        "pid": pid, "port": service.port, "started": time.time(),
        "stop_signal": int(service.stop_signal), "signal_group": service.signal_group,
    }))


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def log_tail(places: Places, name: str, lines: int = 25) -> str:
    """The last lines of var/log/<name>.log, for error messages."""
    path = places.log_path(name)
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


# -- start and stop -----------------------------------------------------------------------------------

def start(places: Places, service: Service) -> subprocess.Popen:
    """Start `service` in a session of its own, its output appended to its log; write its pid file."""
    places.log_dir.mkdir(parents=True, exist_ok=True)
    places.run_dir.mkdir(parents=True, exist_ok=True)
    if service.prepare is not None:
        service.prepare()
    user: Optional[str] = None  # as root, a server that refuses root runs as its own account
    group: Optional[int] = None
    extra_groups: Optional[List[int]] = None
    if service.user and os.geteuid() == 0:
        user, group, extra_groups = service.user, _primary_group(service.user), []
    with places.log_path(service.name).open("ab") as log:
        process = subprocess.Popen(
            service.command, cwd=places.cwd, env=environment(places, service), stdout=log,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            user=user, group=group, extra_groups=extra_groups,
        )
    write_pid_file(places, service, process.pid)
    return process


def _primary_group(user: str) -> int:
    import pwd

    return pwd.getpwnam(user).pw_gid


def describe_exit(returncode: Optional[int]) -> str:
    """'code 1', 'signal 9' or 'exit status unknown' (a process this supervisor did not start)."""
    if returncode is None:
        return "exit status unknown: not started by this supervisor"
    if returncode < 0:
        return f"signal {-returncode}"
    return f"code {returncode}"


def tree_cpu_seconds(pid: int) -> Optional[float]:
    """CPU time (user + system, in seconds) used so far by `pid`, the rest of its process group (every
    service leads its own: a server and its workers) and its descendants (PostgreSQL's backends each start
    a session of their own); None where /proc cannot tell (not Linux, or the process is gone)."""
    tick = float(os.sysconf("SC_CLK_TCK")) if hasattr(os, "sysconf") else 100.0
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    table: Dict[int, Tuple[int, int, float]] = {}   # pid: (parent, group, CPU s)
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            table[int(entry)] = (int(fields[1]), int(fields[2]), (int(fields[11]) + int(fields[12])) / tick)
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
    if pid not in table:
        return None
    members = {other for other, (_, group, _) in table.items() if group == pid} | {pid}
    grown = True
    while grown:
        found = {other for other, (parent, _, _) in table.items() if parent in members} - members
        members |= found
        grown = bool(found)
    return sum(table[member][2] for member in members)


def kill_leftovers(pid: int) -> None:
    """Kill what is left of a finished process's group (its workers), so a restart finds its port free."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def stop_pid(pid: int, name: str, stop_signal: int = signal.SIGTERM, signal_group: bool = True,
             process: Optional[subprocess.Popen] = None, timeout_s: float = STOP_TIMEOUT_S,
             say: Callable[[str], None] = print) -> None:
    """Ask a process to stop, wait up to `timeout_s`, then kill its whole group."""
    try:
        if signal_group:
            os.killpg(pid, stop_signal)
        else:
            os.kill(pid, stop_signal)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None:
            finished = process.poll() is not None
        else:
            try:
                finished = os.waitpid(pid, os.WNOHANG)[0] == pid
            except ChildProcessError:  # not our child: it is gone when kill(0) says so
                finished = not alive(pid)
        if finished:
            kill_leftovers(pid)
            return
        time.sleep(0.1)
    say(f"  {name} did not stop in {timeout_s:.0f}s, killing it")
    kill_leftovers(pid)
    if process is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(5)


def stop_by_pid_file(places: Places, name: str, say: Callable[[str], None] = print) -> bool:
    """Stop the process of var/run/<name>.pid the way its record says; remove the file. True if one ran."""
    path = places.pid_path(name)
    record = read_pid_file(path)
    if record is not None:
        stop_pid(int(str(record["pid"])), name, int(str(record.get("stop_signal", int(signal.SIGTERM)))),
                 bool(record.get("signal_group", True)), say=say)
    path.unlink(missing_ok=True)
    return record is not None
