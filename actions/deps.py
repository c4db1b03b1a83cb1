"""Shared, lazily created dependencies of the actions."""
from __future__ import annotations

from functools import lru_cache

from careline.settings import load_settings
from careline.store import OrderRepository, create_schema, make_engine


@lru_cache(maxsize=1)
def order_repository() -> OrderRepository:
    """The repository over the shop database, created on first use."""
    engine = make_engine(load_settings().store_db_url)
    create_schema(engine)
    return OrderRepository(engine)
