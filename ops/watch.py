"""The watcher: starts the services in order, waits until each is healthy, then restarts any that exits.

A process that exits (any exit code, or killed by a signal) is started again after a backoff that
doubles with every exit in a row (1 s, 2 s, 4 s ... at most 30 s) and starts over at 1 s once the
process had stayed up 60 s. Each event is one line in var/log/supervisor.log:

    2026-12-03T06:01:02Z actions exited (signal 9) after 41.2s; restart #1 in 1s
    2026-12-03T06:01:05Z actions is healthy again (pid 1234)

The watcher never blocks on one process: the loop polls every process, starts those whose backoff
is over and probes those that are starting, and probes the healthy ones every 5 s: one that
fails 6 checks in a row (30 s: hung, stopped, deadlocked) is killed and started again. A Rasa server
or PostgreSQL that does not answer because it is working through a queue (it keeps using the CPU) is
busy, not hung: it is left to work for its `busy_grace_s` (5 minutes).
`stop_all` stops them in reverse start order.
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, TextIO, Tuple

from ops import processes
from ops.processes import Places, Service


#: A healthy process is probed this often; this many failed probes in a row (30 s) and it is restarted.
LIVENESS_EVERY_S = 5.0
LIVENESS_FAILURES = 6
#: A process with a busy grace (Service.busy_grace_s) that misses its health checks while it (and its
#: workers) use at least this share of a core is busy, not hung: its failed checks do not count, for up to
#: its grace (then it is restarted: a loop that spins).
BUSY_CPU_SHARE = 0.2


def _answers(service: Service) -> bool:
    """The service's probe; one that raises counts as not answering (the watch loop must never stop)."""
    try:
        return bool(service.probe())
    except Exception:  # noqa: BLE001 - any probe error is a failed check
        return False


class StartupFailed(RuntimeError):
    """A service did not become healthy while the system started; the message says why and how to look."""


@dataclass(frozen=True)
class Backoff:
    """How long to wait before restart number `streak` of a run of quick exits."""

    first_s: float = 1.0
    cap_s: float = 30.0
    reset_after_s: float = 60.0  # a process that stayed up this long starts its next run of exits afresh

    def delay(self, streak: int) -> float:
        return float(min(self.first_s * 2 ** max(streak - 1, 0), self.cap_s))


def utc_stamp(now: Optional[float] = None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if now is None else now))


class EventLog:
    """One line per event in the supervisor's log (with a UTC time), echoed to a terminal when there is one."""

    def __init__(self, path: Path, echo: Optional[TextIO] = None) -> None:
        self.path = path
        self.echo = echo

    def _write(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as log:
            log.write(f"{utc_stamp()} {line}\n")

    def note(self, text: str) -> None:
        """Only in the log (the supervisor's own comings and goings)."""
        self._write(text)

    def progress(self, text: str) -> None:
        """A start-up step: as it is on the terminal, with a time in the log."""
        self._write(text.strip())
        if self.echo is not None:
            print(text, file=self.echo, flush=True)

    def event(self, text: str) -> None:
        """Something that happened while watching: the same time-stamped line in the log and on the terminal."""
        self._write(text)
        if self.echo is not None:
            print(f"{utc_stamp()} {text}", file=self.echo, flush=True)


@dataclass
class Watched:
    """A service and the state of its process."""

    service: Service
    process: Optional[subprocess.Popen] = None  # None when adopted from an earlier supervisor (pid only)
    pid: Optional[int] = None
    started: float = 0.0             # monotonic time of the current start
    state: str = "stopped"           # starting, healthy, waiting (for its restart), stopped
    restarts: int = 0
    streak: int = 0                  # exits in a row, each within reset_after_s of its start
    restart_at: float = 0.0
    next_check: float = 0.0          # when a healthy process is probed next
    failed_checks: int = 0           # probes in a row it did not answer while it was running
    cpu_seen: Optional[Tuple[int, float, float]] = None  # (pid, monotonic time, CPU s) at the last failed probe
    busy_since: Optional[float] = None  # when it began to miss probes while using the CPU

    def forget_checks(self) -> None:
        """Start the liveness record afresh (it answered, it was stopped, or a new process starts)."""
        self.failed_checks, self.cpu_seen, self.busy_since = 0, None, None

    def exit_code(self) -> Optional[int]:
        """The exit status once it exited (None while it runs, or for an adopted process)."""
        return self.process.poll() if self.process is not None else None

    def exited(self) -> bool:
        if self.pid is None:
            return False
        if self.process is not None:
            return self.process.poll() is not None
        return not processes.alive(self.pid)


class Watcher:
    """Starts, watches and stops a list of services (in that order; stopped in reverse)."""

    def __init__(self, places: Places, services: List[Service], log: EventLog, backoff: Backoff = Backoff(),
                 health_timeout_s: float = 240.0, tick_s: float = 0.25, host: str = "127.0.0.1",
                 refresh: Optional[Callable[[str], Optional[Service]]] = None,
                 on_change: Optional[Callable[[Watcher], None]] = None,
                 liveness: Tuple[float, int] = (LIVENESS_EVERY_S, LIVENESS_FAILURES)) -> None:
        self.places = places
        #: A healthy process is probed every liveness[0] s; one that fails liveness[1] probes in a row
        #: (hung: stopped, deadlocked, out of file handles) is stopped and started again.
        self.liveness = liveness
        self.watched = [Watched(service) for service in services]
        self.log = log
        self.backoff = backoff
        self.health_timeout_s = health_timeout_s
        self.tick_s = tick_s
        self.host = host
        self.refresh = refresh  # the service as it should start now (e.g. with the newest model)
        self.on_change = on_change  # called after every change of state (the supervisor's state file)
        self.ready = False

    # -- start-up --------------------------------------------------------------------------------------

    def start_all(self, should_stop: Callable[[], bool] = lambda: False) -> None:
        """Start every service in order and wait until it is healthy; raise StartupFailed (having
        stopped what it started) when one is not. A service whose process still runs and is healthy
        (left by a supervisor that died) is adopted: watched by its pid, without an exit status."""
        pending: List[Watched] = []
        spawned: List[Watched] = []
        try:
            for item in self.watched:
                if should_stop():
                    raise StartupFailed("stopped while starting")
                service = item.service
                pid = processes.read_pid(self.places, service.name)
                if pid is not None and _answers(service):  # left running by a supervisor that died: adopt it
                    record = processes.read_pid_file(self.places.pid_path(service.name)) or {}
                    up_s = max(time.time() - float(str(record.get("started", time.time()))), 0.0)
                    item.pid, item.started, item.state = pid, time.monotonic() - up_s, "healthy"
                    self.log.progress(f"  {service.name} is already running"
                                      + (f" on port {service.port}" if service.port else ""))
                    self._changed()
                else:
                    if service.port and processes.port_in_use(self.host, service.port):
                        setting = service.port_setting or f"CARELINE_{service.name.upper()}_PORT"
                        raise StartupFailed(f"port {service.port} ({service.name}) is taken by another program; "
                                            f"stop it or choose another port with {setting}")
                    where = f" on {self.host}:{service.port}" if service.port else ""
                    self.log.progress(f"  starting {service.name}{where}")
                    spawned.append(item)
                    self._spawn(item)
                    pending.append(item)
                if service.wait:
                    for waiting in pending:
                        self._wait_healthy(waiting, should_stop)
                    pending = []
            for waiting in pending:
                self._wait_healthy(waiting, should_stop)
        except BaseException:
            for item in reversed(spawned):  # what this start started; adopted processes keep running
                self._stop(item)
            self._changed()
            raise
        self.ready = True
        self._changed()

    def _wait_healthy(self, item: Watched, should_stop: Callable[[], bool]) -> None:
        service = item.service
        started = time.monotonic()
        last_note = started
        while not _answers(service):
            if should_stop():
                raise StartupFailed("stopped while starting")
            if item.exited():
                raise StartupFailed(
                    f"{service.name} exited with {processes.describe_exit(item.exit_code())} while starting; "
                    f"last lines of var/log/{service.name}.log:\n{processes.log_tail(self.places, service.name)}")
            now = time.monotonic()
            if now - started > self.health_timeout_s:
                raise StartupFailed(
                    f"{service.name} was not healthy after {self.health_timeout_s:.0f}s; last log lines:\n"
                    f"{processes.log_tail(self.places, service.name)}")
            if now - last_note >= 5:
                self.log.progress(f"  waiting for {service.name} ... {now - started:.0f}s")
                last_note = now
            time.sleep(0.25)
        item.state = "healthy"
        self.log.progress(f"  {service.name} is healthy ({time.monotonic() - started:.1f}s)")
        if service.setup is not None:
            service.setup(self.log.progress)
        self._changed()

    def _spawn(self, item: Watched) -> None:
        item.forget_checks()  # a new process starts afresh
        process = processes.start(self.places, item.service)
        item.process, item.pid, item.started, item.state = process, process.pid, time.monotonic(), "starting"
        self._changed()

    # -- watching --------------------------------------------------------------------------------------

    def watch(self, should_stop: Callable[[], bool]) -> None:
        """Keep every service running until `should_stop()`: restart what exits, with backoff."""
        while not should_stop():
            self.tick()
            time.sleep(self.tick_s)

    def tick(self) -> None:
        """One round: notice exits, start what is due, probe what is starting."""
        now = time.monotonic()
        for item in self.watched:
            if item.state in ("starting", "healthy") and item.exited():
                self._on_exit(item, now)
            elif item.state == "waiting" and now >= item.restart_at:
                self._restart(item)
            elif item.state == "healthy" and now >= item.next_check:
                self._check_alive(item, now)
            elif item.state == "starting":
                if _answers(item.service):
                    item.state = "healthy"
                    self.log.event(f"{item.service.name} is healthy again (pid {item.pid})")
                    self._changed()
                elif now - item.started > self.health_timeout_s:
                    self.log.event(f"{item.service.name} was not healthy {now - item.started:.0f}s after its start; "
                                   "stopping it to start it again")
                    self._stop(item)
                    self._on_exit(item, now)

    def _check_alive(self, item: Watched, now: float) -> None:
        every, failures = self.liveness
        item.next_check = now + every
        if _answers(item.service):
            if item.busy_since is not None:
                self.log.event(f"{item.service.name} answers its health check again (it was busy for "
                               f"{time.monotonic() - item.busy_since:.0f}s)")
            item.forget_checks()
            return
        if self._busy(item):
            busy_s = time.monotonic() - item.busy_since if item.busy_since is not None else 0.0
            if busy_s < item.service.busy_grace_s:
                return
            why = f"for {busy_s:.0f}s while it used the CPU (a loop that does not end?)"
        else:
            item.failed_checks += 1
            if item.failed_checks < failures:
                return
            why = f"{item.failed_checks} times in a row ({item.failed_checks * every:.0f}s)"
        self.log.event(f"{item.service.name} did not answer its health check {why}; stopping it to start it again")
        item.forget_checks()
        self._kill_hung(item)
        self._on_exit(item, time.monotonic(), how="hung")

    def _busy(self, item: Watched) -> bool:
        """After a failed probe of a service with a busy grace: whether the process and its workers used at
        least BUSY_CPU_SHARE of a core since the previous failed probe of the same process (unknown at the
        first one: not busy). Notes when it starts being busy."""
        if item.service.busy_grace_s <= 0 or item.pid is None:
            return False
        now = time.monotonic()
        cpu = processes.tree_cpu_seconds(item.pid)
        before, item.cpu_seen = item.cpu_seen, (item.pid, now, cpu) if cpu is not None else None
        share = 0.0
        if before is not None and cpu is not None and before[0] == item.pid and now > before[1]:
            share = (cpu - before[2]) / (now - before[1])
        if share < BUSY_CPU_SHARE:
            return False  # counts as a failed check; `busy_since` stays for the log line when it answers again
        if item.busy_since is None:
            item.busy_since = now
            self.log.event(f"{item.service.name} does not answer its health check but is working (it uses "
                           f"{share:.0%} of a core): left to work, at most {item.service.busy_grace_s:.0f}s")
        return True

    def _kill_hung(self, item: Watched) -> None:
        """SIGKILL at once: a hung process would not act on SIGTERM (a stopped one not even see it)."""
        if item.pid is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if item.service.signal_group:
                os.killpg(item.pid, signal.SIGKILL)
            else:
                os.kill(item.pid, signal.SIGKILL)
        if item.process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                item.process.wait(timeout=10)

    def _on_exit(self, item: Watched, now: float, how: str = "") -> None:
        uptime = now - item.started
        how = how or processes.describe_exit(item.exit_code())
        if item.pid is not None:
            processes.kill_leftovers(item.pid)
        item.streak = 1 if uptime >= self.backoff.reset_after_s else item.streak + 1
        delay = self.backoff.delay(item.streak)
        item.restarts += 1
        item.state, item.restart_at, item.process, item.pid = "waiting", now + delay, None, None
        self.places.pid_path(item.service.name).unlink(missing_ok=True)
        self.log.event(f"{item.service.name} exited ({how}) after {uptime:.1f}s; "
                       f"restart #{item.restarts} in {delay:g}s")
        self._changed()

    def _restart(self, item: Watched) -> None:
        if self.refresh is not None:
            item.service = self.refresh(item.service.name) or item.service
        try:
            self._spawn(item)
        except Exception as error:  # noqa: BLE001 - a failed start counts as one more quick exit
            item.started = time.monotonic()
            self._on_exit(item, item.started, how=f"could not start: {error}")
            return
        self.log.event(f"{item.service.name} restarted (restart #{item.restarts}, pid {item.pid})")

    # -- stopping --------------------------------------------------------------------------------------

    def _stop(self, item: Watched) -> bool:
        running = item.pid is not None and not item.exited()
        if running and item.pid is not None:
            processes.stop_pid(item.pid, item.service.name, item.service.stop_signal, item.service.signal_group,
                               process=item.process, say=self.log.progress)
        self.places.pid_path(item.service.name).unlink(missing_ok=True)
        item.state = "stopped"
        return running

    def stop_all(self, quiet: bool = False) -> List[str]:
        """Stop every service, last started first; return the names of those that were running."""
        stopped = []
        for item in reversed(self.watched):
            if self._stop(item):
                stopped.append(item.service.name)
                if not quiet:
                    self.log.event(f"{item.service.name} stopped")
        self.ready = False
        self._changed()
        return stopped

    # -- state -----------------------------------------------------------------------------------------

    def restarts(self) -> Dict[str, int]:
        return {item.service.name: item.restarts for item in self.watched}

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self)
