"""A throwaway PostgreSQL server for tests: initdb into a temporary folder, start it on a free
127.0.0.1 port, hand out fresh databases copied from a migrated and seeded template, stop it at the end.

The server comes from Debian's `postgresql` package (`make postgres` installs it). Where it is
missing the tests that need it are skipped locally, and fail under CI (`CI=true`), which must run them.
As root (initdb refuses root) the server runs as the `postgres` user the package creates.
"""
from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import List, Optional

import pytest
import sqlalchemy as sa

PG_BIN_ENV = "CARELINE_PG_BIN"
TEMPLATE = "careline_seeded"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries (or no way to run them) on this machine."""


def find_bin_dir() -> Path:
    """The folder with initdb, pg_ctl and postgres: $CARELINE_PG_BIN, Debian's newest, or the PATH."""
    candidates: List[str] = []
    if os.environ.get(PG_BIN_ENV):
        candidates.append(os.environ[PG_BIN_ENV])
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
                         if Path(p).parent.name.isdigit() else 0, reverse=True)
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(str(Path(on_path).resolve().parent))
    for folder in candidates:
        if all((Path(folder) / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return Path(folder)
    raise PostgresUnavailable("no PostgreSQL server found (looked in $CARELINE_PG_BIN, /usr/lib/postgresql/*/bin "
                              "and the PATH); `make postgres` installs Debian's package")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class PostgresServer:
    """One running cluster; `url(name)` is the SQLAlchemy URL of a database on it."""

    bin_dir: Path
    root: Path
    port: int = 0
    password: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    user: str = "careline"
    _runas: List[str] = field(default_factory=list)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        command = [*self._runas, *args]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                                env=dict(os.environ, LC_ALL="C.UTF-8", LANG="C.UTF-8"))
        if result.returncode != 0:
            log = self.log_file.read_text(errors="replace")[-3000:] if self.log_file.exists() else ""
            raise PostgresUnavailable(f"{' '.join(args[:2])} failed ({result.returncode}):\n{result.stdout}\n"
                                      f"{result.stderr}\n{log}")
        return result

    def start(self) -> PostgresServer:
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresUnavailable("running as root and there is no `postgres` user to run the server "
                                          "as (Debian's postgresql package creates it)") from None
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            self._runas = ["runuser", "-u", "postgres", "--"]
        password_file = self.root / "pwfile"
        password_file.write_text(self.password + "\n")
        if self._runas:
            os.chown(password_file, pwd.getpwnam("postgres").pw_uid, -1)
        self._run(str(self.bin_dir / "initdb"), "-D", str(self.data_dir), "-U", self.user, "-E", "UTF8",
                  "--locale=C", "--auth=scram-sha-256", f"--pwfile={password_file}", "--no-sync")
        password_file.unlink()
        options = " ".join([
            "-c listen_addresses=127.0.0.1", f"-c unix_socket_directories={self.root}",
            "-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off", "-c max_connections=60",
        ])
        for attempt in range(3):
            self.port = _free_port()
            try:
                self._run(str(self.bin_dir / "pg_ctl"), "start", "-w", "-t", "60", "-D", str(self.data_dir),
                          "-l", str(self.log_file), "-o", f"-p {self.port} {options}")
                return self
            except PostgresUnavailable:
                if attempt == 2:
                    raise
        return self

    def stop(self) -> None:
        if self.data_dir.exists():
            subprocess.run([*self._runas, str(self.bin_dir / "pg_ctl"), "stop", "-m", "immediate", "-w",
                            "-D", str(self.data_dir)], capture_output=True, timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg2://{self.user}:{self.password}@127.0.0.1:{self.port}/{database}"

    def admin(self) -> sa.engine.Engine:
        return sa.create_engine(self.url(), future=True, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)

    def create_database(self, name: str, template: Optional[str] = None) -> str:
        engine = self.admin()
        try:
            with engine.connect() as db:
                db.exec_driver_sql(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        finally:
            engine.dispose()
        return self.url(name)


def start_server() -> PostgresServer:
    """Start a fresh cluster in a new temporary folder (the caller stops it)."""
    bin_dir = find_bin_dir()
    root = Path(tempfile.mkdtemp(prefix="careline-pg-"))
    server = PostgresServer(bin_dir, root)
    try:
        return server.start()
    except BaseException:
        server.stop()
        raise


def unavailable(reason: str) -> None:
    """Skip, or under CI (which must run these tests) fail loudly."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"PostgreSQL is required under CI but could not be started: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL tests skipped: {reason}")


def seed_template(server: PostgresServer, today: date) -> None:
    """Create the template database: Alembic migrations (careline.db.migrate) and the demo data."""
    from careline.db.engine import make_engine
    from careline.db.seed import seed

    engine = make_engine(server.create_database(TEMPLATE))
    try:
        seed(engine, today=today)
    finally:
        engine.dispose()
