"""Shared, lazily created dependencies of the actions."""
from __future__ import annotations

from functools import lru_cache

from careline.settings import load_settings
from careline.store import OrderRepository, make_engine


@lru_cache(maxsize=1)
def order_repository() -> OrderRepository:
    """The repository over the shop database, created on first use."""
    return OrderRepository(make_engine(load_settings().store_db_url))
