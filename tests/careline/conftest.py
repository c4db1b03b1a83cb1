"""PostgreSQL fixtures for the store tests (see tests/pg.py): one server per session, a fresh
migrated and seeded database per test."""
from __future__ import annotations

import itertools
from typing import Iterator

import pytest

from tests.conftest import SEED_DAY
from tests.pg import TEMPLATE, PostgresServer, PostgresUnavailable, seed_template, start_server, unavailable

_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL cluster with a migrated, seeded template database; stopped at the end."""
    try:
        server = start_server()
    except PostgresUnavailable as error:
        unavailable(str(error))
    try:
        seed_template(server, SEED_DAY)
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> str:
    """URL of a private copy of the seeded PostgreSQL database, for a test that changes it."""
    return pg_server.create_database(f"test_{next(_numbers)}", template=TEMPLATE)
