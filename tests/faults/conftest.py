"""Fault tests run against a whole prod-profile system (tests/prod.py): PostgreSQL, Redis, two Rasa servers
behind nginx, all watched by the supervisor. One system serves the session; each test uses senders of
its own, and a test that kills a process waits until the supervisor has it healthy again, so the next
test finds the whole system up. After every test the customer messages stored in PostgreSQL are exactly
the messages answered with 200: none lost, none doubled, none stored for a refused request."""
from __future__ import annotations

from typing import Iterator

import pytest

from tests.prod import ProdSystem, start_prod_system

#: Tests send many messages quickly from 127.0.0.1 and as few senders; a hung action server is given up on
#: after 3 s (the default is 20 s).
PROD_ENV = {"CARELINE_RATE_PER_SENDER": "600", "CARELINE_ACTION_TIMEOUT_S": "3"}


@pytest.fixture(scope="session")
def prod_system() -> Iterator[ProdSystem]:
    """`make up PROFILE=prod` once for the session, `make down` (and the cluster removed) at its end."""
    system = start_prod_system(PROD_ENV)
    try:
        yield system
    finally:
        system.stop()


@pytest.fixture(autouse=True)
def stored_equals_answered(request: pytest.FixtureRequest) -> Iterator[None]:
    """After the test: for every sender it talked as, the stored messages are the ones answered with 200."""
    if "prod_system" not in request.fixturenames:
        yield
        return
    system: ProdSystem = request.getfixturevalue("prod_system")
    before = {sender: len(texts) for sender, texts in system.answered.items()}
    yield
    for sender, texts in list(system.answered.items()):
        if len(texts) != before.get(sender, 0):
            assert system.stored_messages(sender) == texts, f"{sender}: stored messages differ from those answered"

