"""What the desk's tests share: a fresh shop store, a clock, and the desk service on both."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from careline.db.engine import make_engine
from careline.desk.service import DeskService
from careline.money.claims import ClaimService
from careline.money.policy import load_policy
from tests.conftest import SEED_DAY, Clock


@pytest.fixture
def engine(fresh_store_url):
    return make_engine(fresh_store_url)


@pytest.fixture
def clock():
    """2026-11-20 10:00 UTC (a module may set another time by defining its own `clock`)."""
    return Clock(datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc))


@pytest.fixture
def desk(engine, clock):
    return DeskService(engine, ClaimService(engine, load_policy(), today=lambda: SEED_DAY), now=clock)
