"""The prod profile's servers from Debian packages (PostgreSQL, Redis, nginx), each run by the supervisor
as a process of the system on 127.0.0.1 with its files under var/: one module per server renders its
configuration and says how to start and probe it; `packages` installs what is missing."""
from __future__ import annotations

import os
import pwd
import shutil
from pathlib import Path
from typing import Iterable, Optional


class ServerMissing(RuntimeError):
    """A server program is not installed; the message says how to install it."""


def running_as_root() -> bool:
    return os.geteuid() == 0


def find_program(name: str, folders: Iterable[str] = ("/usr/sbin", "/usr/bin", "/usr/local/sbin",
                                                        "/usr/local/bin")) -> Optional[str]:
    """The program on the PATH or in the usual system folders (/usr/sbin is not on every user's PATH)."""
    found = shutil.which(name)
    if found:
        return found
    for folder in folders:
        candidate = Path(folder) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def chown_to(path: Path, user: Optional[str]) -> None:
    """Give `path` to `user` (as root, for a server that runs as that account)."""
    if user and running_as_root():
        account = pwd.getpwnam(user)
        os.chown(path, account.pw_uid, account.pw_gid)
