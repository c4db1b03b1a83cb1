"""The prod profile's PostgreSQL and Redis as the supervisor runs them: real servers from Debian's packages,
started, bootstrapped (role, databases, migrations, demo data), probed, restarted after kill -9 and stopped."""
from __future__ import annotations

import os
import secrets
import signal
import socket
import time
from pathlib import Path
from typing import Iterator, Tuple

import pytest
import redis as redis_client
import sqlalchemy as sa

from careline.shared.private_files import secure_var
from careline.shared.settings import PROJECT_ROOT, Settings, load_settings
from ops import processes
from ops.infra import ServerMissing, postgres, redis
from ops.services import places, postgres_server, redis_server
from ops.watch import Backoff, EventLog, Watcher
from tests.e2e.conftest import free_port
from tests.pg import unavailable


def _prod_settings(var_dir: Path) -> Settings:
    return load_settings(environ={
        "CARELINE_VAR_DIR": str(var_dir), "CARELINE_PROFILE": "prod", "PATH": os.environ["PATH"],
        "CARELINE_PG_PORT": str(free_port()), "CARELINE_REDIS_PORT": str(free_port()),
        "CARELINE_PG_PASSWORD": secrets.token_urlsafe(24), "RASA_AUTH_TOKEN": secrets.token_urlsafe(32),
    }, root=PROJECT_ROOT)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tuple[Settings, Watcher]]:
    try:
        postgres.find_bin_dir()
        redis.find_server()
    except ServerMissing as missing:
        unavailable(str(missing))
    settings = _prod_settings(tmp_path_factory.mktemp("var"))
    secure_var(settings.var_dir)
    watcher = Watcher(places(settings), [postgres_server(settings), redis_server(settings)],
                      EventLog(settings.log_dir / "supervisor.log"), Backoff(first_s=0.2), tick_s=0.05)
    try:
        watcher.start_all()
        yield settings, watcher
    finally:
        watcher.stop_all()
        postgres.forget(settings)


def _careline(settings: Settings, database: str = "careline", password: str = "") -> sa.engine.Engine:
    url = sa.engine.make_url(settings.pg_url(database))
    if password:
        url = url.set(password=password)
    return sa.create_engine(url, poolclass=sa.pool.NullPool)


def test_postgres_serves_the_migrated_and_seeded_shop_to_the_careline_role_only(servers):
    settings, _ = servers
    with _careline(settings).connect() as db:
        assert db.exec_driver_sql("SELECT count(*) FROM orders").scalar() > 0
        assert db.exec_driver_sql("SHOW listen_addresses").scalar() == "127.0.0.1"
        assert db.exec_driver_sql("SELECT rolsuper FROM pg_roles WHERE rolname = 'careline'").scalar() is False
        owners = dict(db.exec_driver_sql("SELECT datname, pg_get_userbyid(datdba) FROM pg_database "
                                         "WHERE datname IN ('careline', 'careline_tracker')").fetchall())
    assert owners == {"careline": "careline", "careline_tracker": "careline"}
    with _careline(settings, "careline_tracker").begin() as db:  # the tracker store's database is usable
        db.exec_driver_sql("CREATE TABLE probe_table (x int)")
    for engine in (_careline(settings, password="wrong-password"),
                   sa.create_engine(f"postgresql+psycopg2://postgres@127.0.0.1:{settings.pg_port}/postgres")):
        with pytest.raises(sa.exc.OperationalError, match="password"):
            engine.connect()


def test_postgres_runs_as_its_own_account_in_a_private_cluster(servers):
    settings, _ = servers
    pid = processes.read_pid(places(settings), "postgres")
    uid = int(Path(f"/proc/{pid}/status").read_text().split("Uid:")[1].split()[0])
    data = postgres.data_dir(settings)
    assert (data.stat().st_mode & 0o777) == 0o700 and data.stat().st_uid == uid
    if os.geteuid() == 0:
        import pwd

        assert uid == pwd.getpwnam("postgres").pw_uid
        assert postgres.link(settings).is_symlink()  # var/ stays 700: the cluster lives in postgres's home
        assert (settings.var_dir.stat().st_mode & 0o777) == 0o700


def test_redis_answers_on_loopback_without_persistence(servers):
    settings, _ = servers
    client = redis_client.Redis.from_url(settings.redis_url)
    assert client.ping()
    assert client.config_get("bind")["bind"] == "127.0.0.1"
    assert client.config_get("protected-mode")["protected-mode"] == "yes"
    assert client.config_get("save")["save"] == "" and client.config_get("appendonly")["appendonly"] == "no"
    client.close()


def _state(watcher: Watcher, name: str) -> str:
    return next(item.state for item in watcher.watched if item.service.name == name)


def test_killed_servers_come_back_and_postgres_keeps_its_data(servers):
    settings, watcher = servers
    with _careline(settings).begin() as db:
        db.exec_driver_sql("CREATE TABLE survives (x int)")
        db.exec_driver_sql("INSERT INTO survives VALUES (42)")
    for name in ("postgres", "redis"):
        pid = processes.read_pid(places(settings), name)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while True:
            watcher.tick()
            new = processes.read_pid(places(settings), name)
            if new and new != pid and _state(watcher, name) == "healthy":
                break
            assert time.monotonic() < deadline, f"{name} did not come back"
            time.sleep(0.1)
    lines = (settings.log_dir / "supervisor.log").read_text()
    assert "postgres exited (signal 9)" in lines and "redis exited (signal 9)" in lines
    with _careline(settings).connect() as db:
        assert db.exec_driver_sql("SELECT x FROM survives").scalar() == 42
    with socket.create_connection(("127.0.0.1", settings.redis_port), timeout=5) as connection:
        connection.sendall(b"PING\r\n")
        assert connection.recv(16).startswith(b"-NOAUTH"), "no command without the password"
    assert redis.probe(settings)() and redis_client.Redis.from_url(settings.redis_url).ping()


def test_clusters_of_removed_var_folders_are_removed_and_no_other(tmp_path):
    """Under root a cluster lives outside var/ (ops/infra/postgres.py); one whose var/ is gone must not pile up."""
    home, live_var = tmp_path / "home", tmp_path / "live-var"
    clusters = {name: home / f"careline-{name}" for name in ("gone", "linked", "running", "unknown")}
    for name, cluster in clusters.items():
        (cluster / "data").mkdir(parents=True)
        if name != "unknown":
            owner = live_var if name == "linked" else tmp_path / f"removed-{name}"
            (cluster / postgres.OWNER_FILE).write_text(f"{owner}\n")
    live_var.mkdir()
    (live_var / "pg").symlink_to(clusters["linked"])
    (clusters["running"] / "data" / "postmaster.pid").write_text(f"{os.getpid()}\n/somewhere\n")
    assert postgres.remove_orphans(home) == [clusters["gone"]]
    assert sorted(path.name for path in home.iterdir()) == ["careline-linked", "careline-running", "careline-unknown"]


def test_the_foreign_servers_get_none_of_the_systems_secrets(servers):
    """PostgreSQL runs as another account and Redis and nginx are not Careline's: a bare environment each."""
    settings, _ = servers
    for name in ("postgres", "redis"):
        pid = processes.read_pid(places(settings), name)
        assert pid is not None
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        names = {entry.split(b"=", 1)[0].decode() for entry in environ if entry}
        assert names <= {"PATH", "LANG", "LC_ALL", "TZ"}, (name, names)
