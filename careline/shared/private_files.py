"""Careline's run-time files hold personal data, password hashes and tokens: only the account that
runs it may read them. var/ and its folders run/ and log/ are 700, the files in them 600.

`secure_var` sets the umask of the calling process (and so of every process it starts: the
Rasa server creates the tracker database with it) to 077, creates the folders private and takes
group and other permissions off what is already there, so an older install is fixed at every start.
"""
from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from typing import Iterable, List

from sqlalchemy.engine import make_url

PRIVATE_UMASK = 0o077
FOLDERS = ("run", "log")
SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")


def sqlite_files(urls: Iterable[str]) -> List[Path]:
    """The files of the SQLite databases among `urls` (with their WAL, shared-memory and journal files)."""
    paths = []
    for url in urls:
        try:
            parsed = make_url(url)
        except Exception:  # noqa: BLE001 - not a database URL: nothing to protect here
            continue
        if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
            base = os.path.abspath(parsed.database)
            paths += [Path(base + suffix) for suffix in SQLITE_COMPANIONS]
    return paths


def _private(path: Path, mode: int) -> None:
    try:
        current = stat.S_IMODE(path.lstat().st_mode)
        if not path.is_symlink() and current & 0o077:
            path.chmod(current & mode)
    except FileNotFoundError:
        return
    except PermissionError as error:
        print(f"careline: cannot make {path} private ({error}); fix its owner or mode", file=sys.stderr)


def secure_var(var_dir: Path, database_urls: Iterable[str] = ()) -> None:
    """Private umask for this process and its children; var/, var/run, var/log 700, their files 600."""
    os.umask(PRIVATE_UMASK)
    folders = [var_dir, *(var_dir / name for name in FOLDERS)]
    for folder in folders:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        _private(folder, 0o700)
    for folder in folders:
        for path in folder.iterdir():
            if path.is_file():
                _private(path, 0o600)
    for path in sqlite_files(database_urls):
        _private(path, 0o600)
