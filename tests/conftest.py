"""Shared fixtures: a real, seeded SQLite shop database in a temporary folder."""
from __future__ import annotations

import os
import shutil
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

from careline.db.engine import make_engine  # noqa: E402
from careline.db.orders import OrderRepository  # noqa: E402
from careline.db.seed import seed  # noqa: E402

SEED_DAY = date(2026, 11, 23)


@pytest.fixture(scope="session")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """URL of a SQLite file seeded once per test session with the demo data."""
    path: Path = tmp_path_factory.mktemp("store") / "careline.db"
    url = f"sqlite:///{path}"
    seed(make_engine(url), today=SEED_DAY)
    return url


@pytest.fixture(scope="session")
def repository(store_url: str) -> OrderRepository:
    return OrderRepository(make_engine(store_url))


@pytest.fixture
def fresh_store_url(store_url: str, tmp_path: Path) -> str:
    """A private copy of the seeded database, for tests that change it."""
    source = Path(store_url[len("sqlite:///"):])
    target = tmp_path / "careline.db"
    shutil.copyfile(source, target)
    return f"sqlite:///{target}"


class Clock:
    """A settable clock for services that take `now`."""

    def __init__(self, start: datetime = datetime(2026, 11, 23, 15, 0, tzinfo=timezone.utc)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now
