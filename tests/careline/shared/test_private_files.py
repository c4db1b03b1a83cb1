"""var/ holds personal data and password hashes: folders 700 and files 600, when they are created and
fixed at every start (the entry points that create them: seed, migrate, the supervisor)."""
from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from careline.shared.private_files import secure_var
from careline.shared.settings import PROJECT_ROOT


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def umask_022():
    """Start from the usual umask (files 644, folders 755) and give the test process its own back."""
    before = os.umask(0o022)
    yield
    os.umask(before)


def _old_install(var: Path) -> None:
    """What an install before the fix left: readable by everyone."""
    for folder in (var, var / "run", var / "log"):
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o755)
    for name in ("careline.db", "careline.db-wal", "tracker.db", "run/rasa.pid", "log/rasa.log"):
        (var / name).write_text("x")
        (var / name).chmod(0o644)


def _assert_private(var: Path) -> None:
    for folder in (var, var / "run", var / "log"):
        assert _mode(folder) == 0o700, f"{folder} is {oct(_mode(folder))}"
    files = [p for folder in (var, var / "run", var / "log") for p in folder.iterdir() if p.is_file()]
    assert files
    for path in files:
        assert _mode(path) & 0o077 == 0, f"{path} is {oct(_mode(path))}"


def test_secure_var_fixes_an_old_install_and_new_files_are_private(tmp_path):
    var = tmp_path / "var"
    _old_install(var)
    outside = tmp_path / "elsewhere" / "tracker.db"
    outside.parent.mkdir()
    sqlite3.connect(outside).execute("CREATE TABLE t (x)").connection.commit()
    outside.chmod(0o644)
    secure_var(var, [f"sqlite:///{outside}", "postgresql://u@127.0.0.1/x"])
    _assert_private(var)
    assert _mode(outside) == 0o600
    sqlite3.connect(var / "new.db").execute("CREATE TABLE t (x)").connection.commit()
    (var / "log" / "new.log").write_text("new")
    assert _mode(var / "new.db") == 0o600 and _mode(var / "log" / "new.log") == 0o600


def _run(module_args, var: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, CARELINE_VAR_DIR=str(var))
    for key in ("CARELINE_STORE_DB_URL", "CARELINE_TRACKER_DB_URL"):
        env.pop(key, None)
    result = subprocess.run([sys.executable, "-m", *module_args], cwd=PROJECT_ROOT, env=env, capture_output=True,
                            text=True, timeout=timeout)
    return result


def test_make_db_creates_a_private_database_in_a_private_folder(tmp_path):
    var = tmp_path / "var"
    result = _run(["careline.demo"], var)
    assert result.returncode == 0, result.stderr
    assert _mode(var) == 0o700 and _mode(var / "careline.db") == 0o600
    _assert_private(var)


def test_make_migrate_creates_a_private_database(tmp_path):
    var = tmp_path / "var"
    result = _run(["careline.db.migrate"], var)
    assert result.returncode == 0, result.stderr
    assert _mode(var) == 0o700 and _mode(var / "careline.db") == 0o600


def test_every_supervisor_start_fixes_what_an_older_install_left(tmp_path):
    var = tmp_path / "var"
    _old_install(var)
    _run(["ops.supervisor", "status"], var)  # any command; `up` and `run` start the processes under umask 077
    _assert_private(var)
