"""The watcher restarts real child processes that exit or are killed with -9, with backoff, and logs each event.

Tiny services (Python's http.server, `python -c` one-liners) and a fast backoff (0.2 s doubling to 0.8 s,
reset after 3 s up) keep each test to seconds; the system's own timings are 1 s, 30 s and 60 s.
"""
from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Callable, Iterator, List

import pytest

from ops import processes
from ops.processes import Places, Service, http_probe
from ops.watch import Backoff, EventLog, StartupFailed, Watcher

FAST = Backoff(first_s=0.2, cap_s=0.8, reset_after_s=3.0)
STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _places(tmp_path: Path) -> Places:
    return Places(cwd=tmp_path, run_dir=tmp_path / "run", log_dir=tmp_path / "log", env=dict(os.environ))


def _http_service(name: str, port: int, before: str = "") -> Service:
    """Python's http.server on `port`; `before` is shell run first (in the same process group)."""
    server = f"exec {sys.executable} -m http.server {port} --bind 127.0.0.1"
    return Service(name=name, port=port, command=["sh", "-c", f"{before}{server}"],
                   probe=http_probe(f"http://127.0.0.1:{port}/", lambda body: True))


def _until(condition: Callable[[], object], timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


class Running:
    """A watcher watching in a thread, as the supervisor's main loop does."""

    def __init__(self, tmp_path: Path, services: List[Service], backoff: Backoff = FAST) -> None:
        self.places = _places(tmp_path)
        self.log_path = tmp_path / "log" / "supervisor.log"
        self.watcher = Watcher(self.places, services, EventLog(self.log_path), backoff, health_timeout_s=20,
                               tick_s=0.05, liveness=(0.2, 5))
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.watcher.watch, args=(self.stop.is_set,), daemon=True)

    def start(self) -> Running:
        self.watcher.start_all()
        self.thread.start()
        return self

    def lines(self) -> List[str]:
        return self.log_path.read_text().splitlines() if self.log_path.exists() else []

    def pid(self, name: str) -> int:
        pid = processes.read_pid(self.places, name)
        assert pid is not None, f"{name} has no live pid file"
        return pid

    def healthy_again(self, name: str, old_pid: int, timeout: float = 15.0) -> int:
        """Wait for a new healthy process of `name` (not `old_pid`); return its pid."""
        def new_pid() -> bool:
            pid = processes.read_pid(self.places, name)
            return bool(pid and pid != old_pid and any(f"{name} is healthy again (pid {pid})" in line
                                                       for line in self.lines()))
        _until(new_pid, timeout=timeout, what=f"{name} healthy again")
        return self.pid(name)

    def finish(self) -> List[str]:
        self.stop.set()
        self.thread.join(10)
        return self.watcher.stop_all()


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Callable[..., Running]]:
    started: List[Running] = []

    def start(services: List[Service], backoff: Backoff = FAST) -> Running:
        run = Running(tmp_path, services, backoff)
        started.append(run)
        return run.start()

    yield start
    for run in started:
        run.finish()


def test_a_process_killed_with_minus_9_comes_back_with_growing_then_reset_backoff(running):
    run = running([_http_service("web", _free_port())])
    expected_delays = ["0.2s", "0.4s", "0.8s", "0.8s"]  # doubling, capped at 0.8 s
    for number, delay in enumerate(expected_delays, start=1):
        pid = run.pid("web")
        killed = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        new_pid = run.healthy_again("web", pid)
        assert time.monotonic() - killed >= float(delay[:-1]), "restarted before its backoff was over"
        assert new_pid != pid
        exit_line = [line for line in run.lines() if f"restart #{number} " in line][-1]
        assert re.fullmatch(rf"{STAMP} web exited \(signal 9\) after \d+\.\ds; restart #{number} in {delay}",
                            exit_line), exit_line
    assert re.fullmatch(rf"{STAMP} web is healthy again \(pid {new_pid}\)", run.lines()[-1]), run.lines()[-1]

    time.sleep(FAST.reset_after_s + 0.2)  # up longer than reset_after_s: the next exit starts again at 0.2 s
    pid = run.pid("web")
    os.kill(pid, signal.SIGKILL)
    run.healthy_again("web", pid)
    assert any(re.search(r"web exited \(signal 9\) after [3-9]\.\ds; restart #5 in 0.2s$", line)
               for line in run.lines()), run.lines()
    assert run.watcher.restarts() == {"web": 5}


def test_a_process_that_exits_by_itself_is_restarted_and_its_exit_code_logged(running):
    port = _free_port()
    # Serves, then exits with code 3 after 0.6 s, every time it is started.
    crashing = Service(
        name="flaky", port=port,
        command=[sys.executable, "-c",
                 "import http.server, threading, time, os\n"
                 f"s = http.server.HTTPServer(('127.0.0.1', {port}), http.server.SimpleHTTPRequestHandler)\n"
                 "threading.Thread(target=s.serve_forever, daemon=True).start()\n"
                 "time.sleep(0.6); os._exit(3)"],
        probe=http_probe(f"http://127.0.0.1:{port}/", lambda body: True))
    run = running([crashing])
    _until(lambda: sum("flaky exited" in line for line in run.lines()) >= 3, what="three exits")
    exits = [line for line in run.lines() if "flaky exited" in line]
    assert re.fullmatch(rf"{STAMP} flaky exited \(code 3\) after 0\.\ds; restart #1 in 0.2s", exits[0]), exits
    assert exits[1].endswith("restart #2 in 0.4s") and exits[2].endswith("restart #3 in 0.8s"), exits


def test_what_a_killed_process_left_in_its_group_is_killed_before_the_restart(running, tmp_path):
    """A server's worker that outlives its master would keep the port: the restart finds it free."""
    child_file = tmp_path / "child.pid"
    run = running([_http_service("web", _free_port(), before=f"sleep 300 & echo $! > {child_file}; ")])
    child = int(child_file.read_text())
    assert processes.alive(child)
    pid = run.pid("web")
    os.kill(pid, signal.SIGKILL)
    run.healthy_again("web", pid)
    _until(lambda: not processes.alive(child) or _zombie(child), what="the left-over child to die")


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


def test_stop_all_stops_in_reverse_order_and_nothing_restarts_afterwards(running, tmp_path):
    run = running([_http_service("first", _free_port()), _http_service("second", _free_port())])
    pids = {name: run.pid(name) for name in ("first", "second")}
    assert run.finish() == ["second", "first"]
    for name, pid in pids.items():
        assert not processes.alive(pid)
        assert not (tmp_path / "run" / f"{name}.pid").exists()
    run.watcher.tick()
    time.sleep(FAST.first_s * 2)
    run.watcher.tick()
    assert [item.state for item in run.watcher.watched] == ["stopped", "stopped"]
    stopped = [line for line in run.lines() if line.endswith(" stopped")]
    assert [line.split()[1] for line in stopped] == ["second", "first"]


def test_a_service_that_dies_while_starting_fails_the_start_and_stops_the_others(tmp_path):
    first = _http_service("first", _free_port())
    broken = Service(name="broken", command=[sys.executable, "-c", "print('no config here'); raise SystemExit(2)"],
                     probe=lambda: False)
    watcher = Watcher(_places(tmp_path), [first, broken], EventLog(tmp_path / "log" / "supervisor.log"), FAST)
    with pytest.raises(StartupFailed) as failure:
        watcher.start_all()
    assert "broken exited with code 2 while starting" in str(failure.value)
    assert "no config here" in str(failure.value)  # the log's tail says why
    assert processes.read_pid(_places(tmp_path), "first") is None
    assert not (tmp_path / "run" / "first.pid").exists()


def test_a_process_left_by_a_supervisor_that_died_is_adopted_then_restarted_when_it_exits(running, tmp_path):
    """`make up` after a supervisor was killed -9 keeps what still runs and watches it by its pid."""
    web = _http_service("web", _free_port())
    orphan = processes.start(_places(tmp_path), web)  # as a supervisor that is gone left it
    _until(web.probe, what="the orphan to serve")
    run = running([web])
    assert any(line.endswith("web is already running on port " + str(web.port)) for line in run.lines())
    assert run.pid("web") == orphan.pid
    os.kill(orphan.pid, signal.SIGKILL)
    new_pid = run.healthy_again("web", orphan.pid)
    assert any(re.search(r"web exited \(exit status unknown: not started by this supervisor\) after \d+\.\ds; "
                         r"restart #1 in 0.2s$", line) for line in run.lines()), run.lines()
    assert new_pid != orphan.pid
    orphan.wait(5)


def test_a_process_that_hangs_is_stopped_and_started_again(running):
    """kill -STOP: the process lives on but answers nothing; after 5 failed health checks it is restarted."""
    port = _free_port()
    run = running([_http_service("hangs", port)])
    old = run.pid("hangs")
    os.kill(old, signal.SIGSTOP)
    try:
        new = run.healthy_again("hangs", old, timeout=40)  # 5 probes of up to 3 s each
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(old, signal.SIGCONT)
    assert new != old and not processes.alive(old)
    assert any(re.fullmatch(rf"{STAMP} hangs did not answer its health check 5 times in a row \(1s\); stopping it "
                            r"to start it again", line) for line in run.lines()), run.lines()
    assert any(re.fullmatch(rf"{STAMP} hangs exited \(hung\) after [\d.]+s; restart #1 in 0.2s", line)
               for line in run.lines()), run.lines()


#: A one-thread HTTP server whose GET /work keeps the CPU busy for argv[2] seconds: meanwhile it answers
#: nothing, as a Rasa server with more messages queued than it can take.
_WORKER = """
import http.server, sys, time
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/work":
            end = time.monotonic() + float(sys.argv[2])
            while time.monotonic() < end:
                pass
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


def _working_service(name: str, port: int, work_s: float, busy_grace_s: float = 300.0) -> Service:
    return Service(name=name, port=port, command=[sys.executable, "-c", _WORKER, str(port), str(work_s)],
                   probe=http_probe(f"http://127.0.0.1:{port}/", lambda body: True, timeout_s=0.3),
                   busy_grace_s=busy_grace_s)


def _start_work(port: int) -> threading.Thread:
    def work() -> None:
        with contextlib.suppress(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/work", timeout=60).read()
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def _restarted_while_working(running: Callable[..., Running], name: str, busy_grace_s: float):
    """A service set to work without end, and its process restarted by the watcher: (run, old pid, new pid)."""
    port = _free_port()
    run = running([_working_service(name, port, work_s=120.0, busy_grace_s=busy_grace_s)])
    old = run.pid(name)
    _start_work(port)
    new = run.healthy_again(name, old, timeout=30)
    assert new != old
    return run, old, new


def test_a_process_that_misses_its_checks_while_it_works_is_left_to_work(running):
    """Busy is not hung: 5 s without answering (more than 5 failed checks) while using the CPU, and the
    process is kept (a restart would drop every message it holds); once it answers again, that is logged."""
    port = _free_port()
    run = running([_working_service("busy", port, work_s=5.0)])
    pid = run.pid("busy")
    _start_work(port).join(30)
    _until(lambda: any("busy answers its health check again" in line for line in run.lines()), timeout=15,
           what="the process to answer again")
    assert run.pid("busy") == pid and run.watcher.restarts() == {"busy": 0}, run.lines()
    assert any(re.fullmatch(rf"{STAMP} busy does not answer its health check but is working \(it uses \d+% of a "
                            r"core\): left to work, at most 300s", line) for line in run.lines()), run.lines()
    assert any(re.fullmatch(rf"{STAMP} busy answers its health check again \(it was busy for [3-9]s\)", line)
               for line in run.lines()), run.lines()
    assert not any("stopping it" in line for line in run.lines()), run.lines()


def test_a_process_that_works_without_end_is_restarted_after_the_busy_limit(running):
    """A loop that never ends is not mistaken for work for ever: past the busy limit it is restarted."""
    run, old, _ = _restarted_while_working(running, "spins", busy_grace_s=2.0)
    assert not processes.alive(old)
    assert any(re.fullmatch(rf"{STAMP} spins did not answer its health check for [2-4]s while it used the CPU "
                            r"\(a loop that does not end\?\); stopping it to start it again", line)
               for line in run.lines()), run.lines()
    assert any(re.fullmatch(rf"{STAMP} spins exited \(hung\) after [\d.]+s; restart #1 in 0.2s", line)
               for line in run.lines()), run.lines()


def test_without_a_busy_grace_a_process_that_misses_its_checks_is_restarted_even_while_it_works(running):
    """The action server, the web server ...: a loop that spins is the likelier cause, restarted after 5 checks."""
    run, _, _ = _restarted_while_working(running, "worker", busy_grace_s=0.0)
    assert not any("is working" in line for line in run.lines()), run.lines()
    assert any(re.fullmatch(rf"{STAMP} worker did not answer its health check 5 times in a row \(1s\); stopping it "
                            r"to start it again", line) for line in run.lines()), run.lines()


def test_a_restarted_process_starts_with_no_failed_checks_of_the_one_before(tmp_path):
    """Failed checks and CPU samples belong to one process: its successor is not judged by them."""
    from ops.watch import Watched

    watcher = Watcher(_places(tmp_path), [], EventLog(tmp_path / "log" / "supervisor.log"))
    item = Watched(_http_service("web", _free_port()), failed_checks=5, cpu_seen=(1, 1.0, 100.0), busy_since=1.0)
    watcher._spawn(item)
    try:
        assert (item.failed_checks, item.cpu_seen, item.busy_since) == (0, None, None)
    finally:
        watcher._stop(item)


def test_the_cpu_of_a_process_counts_its_workers_also_those_in_a_session_of_their_own():
    """PostgreSQL's backends each start their own session: counted by parentage, not only by process group."""
    worker = "import os, time\nos.setsid()\nend = time.monotonic() + 2\nwhile time.monotonic() < end: pass"
    leader = f"import subprocess, sys, time\nsubprocess.run([sys.executable, '-c', {worker!r}])"
    started = subprocess.Popen([sys.executable, "-c", leader], start_new_session=True)
    try:
        time.sleep(0.3)
        first = processes.tree_cpu_seconds(started.pid)
        time.sleep(1.0)
        second = processes.tree_cpu_seconds(started.pid)
    finally:
        started.wait(10)
    assert first is not None and second is not None and second - first >= 0.5, (first, second)
    assert processes.tree_cpu_seconds(started.pid) is None, "gone: nothing to tell"


def test_a_probe_that_raises_is_a_failed_check_and_the_watcher_goes_on(running, tmp_path):
    """A server that dies half-way through its answer makes http.client raise IncompleteRead: the watcher
    counts a failed check, never stops watching."""
    import http.client

    broken = tmp_path / "broken"

    def probe() -> bool:
        if broken.exists():
            raise http.client.IncompleteRead(b"", 363)
        return True

    sleeper = Service(name="sleeper", command=[sys.executable, "-c", "import time; time.sleep(600)"], probe=probe)
    run = running([sleeper])
    old = run.pid("sleeper")
    broken.touch()
    _until(lambda: any("sleeper did not answer its health check 5 times" in line for line in run.lines()),
           what="the raising probe to count as failed checks")
    broken.unlink()
    assert run.healthy_again("sleeper", old) != old and run.thread.is_alive()
