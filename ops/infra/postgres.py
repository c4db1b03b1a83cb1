"""The prod profile's PostgreSQL server: Debian's package, on 127.0.0.1 only, its files in var/pg.

- var/pg/data: the cluster, made by initdb on the first start (superuser `postgres`, UTF-8).
- Over TCP (127.0.0.1:CARELINE_PG_PORT) only password logins (scram-sha-256): the role `careline`
  with CARELINE_PG_PASSWORD owns the databases named in the store and tracker URLs (`careline`,
  `careline_tracker`). The superuser has no password: it logs in only through the Unix socket in
  var/pg/run, a folder only the server's account (and root) can enter. The supervisor uses it to
  create the role and the databases when they are missing.
- As root, the server runs as the `postgres` user that the package creates (PostgreSQL refuses
  root), and that user cannot enter var/, which is 700 (careline.shared.private_files). Opening
  var/ to 711 is not enough: every `secure_var` (each start of a command, `make db`) closes it
  again, and PostgreSQL reaches its files by their full path (a checkpoint that cannot open
  global/pg_control stops the server). So under root the cluster lives in the package's own home
  for clusters, /var/lib/postgresql/careline-<hash of the var/ path>/ (owned by postgres, 700),
  and var/pg is a link to it: each var/ folder (the project's, a test's) has a cluster of its own.
  `make clean` (`python -m ops.supervisor clean`) removes the cluster with var/, and the clusters of
  var/ folders that were removed without it go at the next start of any prod profile.
"""
from __future__ import annotations

import glob
import hashlib
import os
import pwd
import shutil
import subprocess
from pathlib import Path
from typing import Any, Callable, List, Optional, Tuple

from careline.shared.settings import Settings
from ops.infra import ServerMissing, chown_to, running_as_root

PG_BIN_ENV = "CARELINE_PG_BIN"
SERVER_ACCOUNT = "postgres"   # the Debian package's user, which the server runs as under root
SUPERUSER = "postgres"        # the cluster's superuser role (Unix socket only)
OWNER_FILE = "var-folder"     # in a cluster kept outside var/ (under root): the var/ folder it belongs to
MAX_CONNECTIONS = 200         # two Rasa servers, the action server, desk, worker, shop page, each with a pool


def find_bin_dir() -> Path:
    """The folder with initdb and postgres: $CARELINE_PG_BIN, else Debian's newest /usr/lib/postgresql/N/bin."""
    candidates: List[str] = [os.environ[PG_BIN_ENV]] if os.environ.get(PG_BIN_ENV) else []
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                         key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0, reverse=True)
    for folder in candidates:
        if all((Path(folder) / tool).is_file() for tool in ("initdb", "postgres")):
            return Path(folder)
    raise ServerMissing("no PostgreSQL server found (looked in $CARELINE_PG_BIN and /usr/lib/postgresql/*/bin); "
                        "`make postgres` installs Debian's postgresql package")


def account() -> Optional[str]:
    """The account the server runs as: `postgres` under root, else the invoking user (None)."""
    return SERVER_ACCOUNT if running_as_root() else None


def link(settings: Settings) -> Path:
    """var/pg: the cluster's folder, or under root a link to it."""
    return settings.var_dir / "pg"


def folder(settings: Settings) -> Path:
    """Where the cluster and its socket live: var/pg, or under root <postgres home>/careline-<hash>."""
    if not running_as_root():
        return link(settings)
    try:
        home = Path(pwd.getpwnam(SERVER_ACCOUNT).pw_dir)
    except KeyError:
        raise ServerMissing(f"running as root and there is no `{SERVER_ACCOUNT}` user to run PostgreSQL as "
                            "(Debian's postgresql package creates it: `make postgres`)") from None
    digest = hashlib.sha256(str(settings.var_dir.resolve()).encode()).hexdigest()[:12]
    return home / f"careline-{digest}"


def data_dir(settings: Settings) -> Path:
    return folder(settings) / "data"


def socket_dir(settings: Settings) -> Path:
    return folder(settings) / "run"


def remove_orphans(home: Path) -> List[Path]:
    """Remove the clusters kept for var/ folders that are gone or no longer link to them (a var/ removed
    without `make clean`: a test's, an emptied one) and whose server is not running; return them."""
    removed = []
    for cluster in home.glob("careline-*"):
        try:
            owner = Path((cluster / OWNER_FILE).read_text().strip())
        except OSError:
            continue  # not ours to judge
        linked = (owner / "pg").is_symlink() and (owner / "pg").resolve() == cluster
        if linked or _server_running(cluster):
            continue
        shutil.rmtree(cluster, ignore_errors=True)
        removed.append(cluster)
    return removed


def _server_running(cluster: Path) -> bool:
    from ops.processes import alive

    try:
        return alive(int((cluster / "data" / "postmaster.pid").read_text().split()[0]))
    except (OSError, ValueError, IndexError):
        return False


def forget(settings: Settings) -> Optional[Path]:
    """`make clean`: remove a cluster kept outside var/ (under root) and the link to it; return where it was."""
    place = link(settings)
    if not place.is_symlink():
        return None
    target = place.resolve()
    if running_as_root() and target == folder(settings) and target.is_dir():
        shutil.rmtree(target)
    place.unlink()
    return target


def _run_as_server(command: List[str], log: Path) -> None:
    user = account()
    group = pwd.getpwnam(user).pw_gid if user else None
    with log.open("ab") as output:
        result = subprocess.run(command, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=dict(os.environ, LC_ALL="C.UTF-8", LANG="C.UTF-8"), cwd="/", timeout=300,
                                user=user, group=group, extra_groups=[] if user else None)
    if result.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        raise RuntimeError(f"{Path(command[0]).name} failed with code {result.returncode}:\n{tail}")


def prepare(settings: Settings) -> None:
    """Before every start: the cluster's folders for the server's account; initdb on the first start."""
    bin_dir = find_bin_dir()
    user = account()
    home = folder(settings)
    if home != link(settings):
        if not home.parent.is_dir():
            raise ServerMissing(f"{home.parent} (the `{SERVER_ACCOUNT}` user's home) is missing: reinstall "
                                "Debian's postgresql package (`make postgres`)")
        if link(settings).exists() and not link(settings).is_symlink():
            raise RuntimeError(f"{link(settings)} is a folder (a cluster made without root?) but as root the cluster "
                               f"lives in {home}: move it there or remove it (`make clean` removes var/)")
        remove_orphans(home.parent)
        if not link(settings).is_symlink():
            link(settings).symlink_to(home, target_is_directory=True)
    for path in (home, socket_dir(settings)):
        path.mkdir(mode=0o700, exist_ok=True)
        chown_to(path, user)
    if home != link(settings):
        (home / OWNER_FILE).write_text(f"{settings.var_dir.resolve()}\n")  # whose cluster, for remove_orphans
    if (data_dir(settings) / "PG_VERSION").exists():
        return
    _run_as_server([str(bin_dir / "initdb"), "-D", str(data_dir(settings)), "-U", SUPERUSER, "-E", "UTF8",
                    "--locale=C", "--auth-local=trust", "--auth-host=scram-sha-256"],
                   settings.log_dir / "postgres.log")


def command(settings: Settings) -> List[str]:
    """The server in the foreground, on 127.0.0.1:pg_port only, its socket in var/pg/run, its log on stderr."""
    return [str(find_bin_dir() / "postgres"), "-D", str(data_dir(settings)), "-p", str(settings.pg_port),
            "-c", f"listen_addresses={settings.host}", "-c", f"unix_socket_directories={socket_dir(settings)}",
            "-c", f"max_connections={MAX_CONNECTIONS}", "-c", "password_encryption=scram-sha-256"]


def _admin(settings: Settings) -> Any:
    import psycopg2  # type: ignore[import-untyped]

    connection = psycopg2.connect(host=str(socket_dir(settings)), port=settings.pg_port, user=SUPERUSER,
                                  dbname="postgres", connect_timeout=3)
    connection.autocommit = True
    return connection


def probe(settings: Settings) -> Callable[[], bool]:
    """Healthy when the superuser logs in through the socket and TCP port answers."""
    def check() -> bool:
        from ops.processes import port_in_use

        try:
            _admin(settings).close()
        except Exception:  # noqa: BLE001 - not up yet
            return False
        return port_in_use(settings.host, settings.pg_port)

    return check


def databases(settings: Settings) -> List[Tuple[str, str, str]]:
    """(database, role, password) of every store/tracker URL that points at this server."""
    from sqlalchemy.engine import make_url

    found = []
    for url in (settings.store_db_url, settings.tracker_db_url):
        parsed = make_url(url)
        if (parsed.get_backend_name() == "postgresql" and parsed.host in (settings.host, "localhost")
                and (parsed.port or 5432) == settings.pg_port and parsed.database and parsed.username):
            found.append((parsed.database, parsed.username, parsed.password or ""))
    return found


def bootstrap(settings: Settings) -> List[str]:
    """Create (or update the password of) each role and create each missing database; return what was created."""
    from psycopg2 import sql

    created = []
    connection = _admin(settings)
    try:
        with connection.cursor() as cursor:
            for role, password in dict((role, password) for _, role, password in databases(settings)).items():
                cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
                verb = "ALTER" if cursor.fetchone() else "CREATE"
                cursor.execute(sql.SQL(verb + " ROLE {} WITH LOGIN NOSUPERUSER NOCREATEROLE PASSWORD %s")
                               .format(sql.Identifier(role)), (password,))
                if verb == "CREATE":
                    created.append(f"role {role}")
            for database, role, _ in databases(settings):
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
                if not cursor.fetchone():
                    cursor.execute(sql.SQL("CREATE DATABASE {} OWNER {} ENCODING 'UTF8'")
                                   .format(sql.Identifier(database), sql.Identifier(role)))
                    created.append(f"database {database}")
    finally:
        connection.close()
    return created
