"""The prod profile's Redis server (Debian's redis-server): lock store and rate limits, nothing to keep.

Its configuration is rendered to var/redis/redis.conf (mode 600) at every start: 127.0.0.1:CARELINE_REDIS_PORT
only, protected mode, a password (CARELINE_REDIS_PASSWORD: other local users cannot take locks or spend
budgets), no snapshots and no append-only file (locks and rate-limit buckets are worth
nothing after a restart), log on stdout (var/log/redis.log), working folder var/redis.
"""
from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Callable, List

from careline.shared.settings import Settings
from ops.infra import ServerMissing, find_program

MAX_MEMORY = "256mb"  # locks and buckets are tiny; past this Redis refuses writes instead of growing


def find_server() -> str:
    """$CARELINE_REDIS_SERVER (as the Makefile's `redis` target), else redis-server on the PATH or in /usr/bin."""
    found = os.environ.get("CARELINE_REDIS_SERVER") or find_program("redis-server")
    if not found:
        raise ServerMissing("redis-server is not installed; `make redis` installs Debian's redis-server package")
    return found


def folder(settings: Settings) -> Path:
    return settings.var_dir / "redis"


def config_path(settings: Settings) -> Path:
    return folder(settings) / "redis.conf"


def config_text(settings: Settings) -> str:
    return "\n".join([
        "# Rendered by ops/infra/redis.py at every start of the prod profile: change that file, not this one.",
        f"bind {settings.host}",
        f"port {settings.redis_port}",
        "protected-mode yes",
        *([f"requirepass {settings.redis_password}"] if settings.redis_password else []),
        "daemonize no",
        'save ""',
        "appendonly no",
        f"dir {folder(settings)}",
        'logfile ""',
        f"maxmemory {MAX_MEMORY}",
        "maxmemory-policy noeviction",
        "",
    ])


def prepare(settings: Settings) -> None:
    folder(settings).mkdir(mode=0o700, exist_ok=True)
    config_path(settings).write_text(config_text(settings))
    config_path(settings).chmod(0o600)


def command(settings: Settings) -> List[str]:
    return [find_server(), str(config_path(settings))]


def probe(settings: Settings) -> Callable[[], bool]:
    """Healthy when PING (after AUTH with the password) answers +PONG."""
    def check() -> bool:
        auth = f"AUTH {settings.redis_password}\r\n".encode() if settings.redis_password else b""
        try:
            with socket.create_connection((settings.host, settings.redis_port), timeout=2) as connection:
                connection.sendall(auth + b"PING\r\n")
                answer = b""
                while b"PONG" not in answer and b"-" not in answer and len(answer) < 256:
                    chunk = connection.recv(64)
                    if not chunk:
                        break
                    answer += chunk
                return answer.endswith(b"+PONG\r\n")
        except OSError:
            return False

    return check
