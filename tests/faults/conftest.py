"""Fault tests run against a whole prod-profile system (tests/prod.py): PostgreSQL, Redis, two Rasa servers
behind nginx, all watched by the supervisor. One system serves the session; each test uses senders of
its own, and a test that kills a process waits until the supervisor has it healthy again, so the next
test finds the whole system up."""
from __future__ import annotations

from typing import Iterator

import pytest

from tests.prod import ProdSystem, start_prod_system

#: Tests send many messages quickly from 127.0.0.1 and as few senders.
PROD_ENV = {"CARELINE_RATE_PER_SENDER": "600"}


@pytest.fixture(scope="session")
def prod_system() -> Iterator[ProdSystem]:
    """`make up PROFILE=prod` once for the session, `make down` (and the cluster removed) at its end."""
    system = start_prod_system(PROD_ENV)
    try:
        yield system
    finally:
        system.stop()
