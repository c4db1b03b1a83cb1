"""A throwaway Redis server for tests: a temporary folder, a free 127.0.0.1 port, nothing saved to disk.

    server = start_redis()        # raises RedisUnavailable when there is no redis-server to run
    try:
        ... server.url ...        # redis://127.0.0.1:<port>/0
        server.stop()             # the port now refuses connections (Redis "down")
        server.restart()          # a fresh, empty Redis on the same port and URL
        server.pause()            # SIGSTOP: connections are accepted but never answered (a hung Redis)
        server.resume()           # SIGCONT
    finally:
        server.close()            # stopped and its folder removed (also when it is stopped already)

The server is Debian's `redis-server` package (`make redis` installs it), or $CARELINE_REDIS_SERVER.
Where it is missing, tests call `unavailable(reason)`: skipped locally, failed under CI (`CI=true`).
A fixture is one line: `with running_redis() as server: yield server` (it does both).
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, List, Optional

import pytest

REDIS_SERVER_ENV = "CARELINE_REDIS_SERVER"
START_TIMEOUT_S = 10.0


class RedisUnavailable(RuntimeError):
    """No redis-server on this machine, or it would not start."""


def find_redis_server() -> str:
    """The redis-server binary: $CARELINE_REDIS_SERVER, /usr/bin/redis-server or the PATH."""
    for candidate in (os.environ.get(REDIS_SERVER_ENV, ""), "/usr/bin/redis-server", shutil.which("redis-server")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise RedisUnavailable(f"no redis-server found (looked at ${REDIS_SERVER_ENV}, /usr/bin/redis-server and the "
                           "PATH); `make redis` installs Debian's package")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(port: int) -> bool:
    """True when a Redis on `port` answers PING."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class RedisServer:
    """One redis-server process; `url` stays the same across `restart()`."""

    binary: str
    root: Path
    port: int = 0
    _process: Optional[subprocess.Popen[bytes]] = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log_file(self) -> Path:
        return self.root / "redis.log"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _command(self) -> List[str]:
        return [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", str(self.root), "--logfile", str(self.log_file), "--daemonize", "no",
                "--protected-mode", "yes"]

    def _launch(self) -> None:
        self._process = subprocess.Popen(self._command(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.PIPE)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            if _answers(self.port):
                return
            time.sleep(0.02)
        self.stop()
        log = self.log_file.read_text(errors="replace")[-2000:] if self.log_file.exists() else ""
        raise RedisUnavailable(f"redis-server did not answer on 127.0.0.1:{self.port} within {START_TIMEOUT_S:.0f}s"
                               f":\n{log}")

    def start(self) -> RedisServer:
        """Start on a free port (another one if that port was taken meanwhile)."""
        for attempt in range(3):
            self.port = _free_port()
            try:
                self._launch()
                return self
            except RedisUnavailable:
                if attempt == 2:
                    raise
        return self

    def stop(self) -> None:
        """Stop the process (its port refuses connections afterwards); the folder stays for `restart()`."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)  # a paused server must be able to exit
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if process.stderr is not None:
            process.stderr.close()

    def restart(self) -> None:
        """Stop if running, then start a fresh, empty Redis on the same port."""
        self.stop()
        self._launch()

    def pause(self) -> None:
        """Freeze the process (SIGSTOP): it accepts connections but answers nothing until `resume()`."""
        assert self._process is not None, "the server is not running"
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self._process is not None, "the server is not running"
        self._process.send_signal(signal.SIGCONT)

    def close(self) -> None:
        """Stop and remove the folder."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def start_redis() -> RedisServer:
    """Start a fresh Redis in a new temporary folder (the caller closes it)."""
    binary = find_redis_server()
    server = RedisServer(binary, Path(tempfile.mkdtemp(prefix="careline-redis-")))
    try:
        return server.start()
    except BaseException:
        server.close()
        raise


def unavailable(reason: str) -> None:
    """Skip, or under CI (which must run these tests) fail loudly."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"Redis is required under CI but could not be started: {reason}", pytrace=False)
    pytest.skip(f"Redis tests skipped: {reason}")


@contextmanager
def running_redis() -> Iterator[RedisServer]:
    """A started Redis for a fixture (`unavailable()` when it cannot start), closed at the end."""
    try:
        server = start_redis()
    except RedisUnavailable as error:
        unavailable(str(error))
        raise  # unavailable() skips or fails; this keeps type checkers and readers sure
    try:
        yield server
    finally:
        server.close()
