"""Database engines and the declarative base every model shares.

SQLite by default (`CARELINE_STORE_DB_URL`); any SQLAlchemy URL works, PostgreSQL included.
The locking rule lives here: SQLite transactions begin IMMEDIATE so that two processes
deciding about the same order are serialised (PostgreSQL: `SELECT ... FOR UPDATE`).
"""
from __future__ import annotations

import logging
import os
import sqlite3
import urllib.parse
from datetime import datetime
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.orm import declarative_base

from careline.shared import as_utc

Base = declarative_base()
logger = logging.getLogger(__name__)


class UTCDateTime(sa.types.TypeDecorator):
    """A point in time stored as UTC and read back timezone-aware (UTC), in any database.

    The column stays a plain DATETIME (no migration); a naive value handed in is taken as UTC.
    """

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: Optional[datetime], dialect: Dialect) -> Optional[datetime]:
        return None if value is None else as_utc(value).replace(tzinfo=None)

    def process_result_value(self, value: Optional[datetime], dialect: Dialect) -> Optional[datetime]:
        return None if value is None else as_utc(value)


def make_engine(url: str, *, read_only: bool = False) -> Engine:
    """An engine for `url` (`read_only=True`: `make_readonly_engine`).

    SQLite files get foreign keys, WAL journaling and `BEGIN IMMEDIATE` transactions, so that
    two processes deciding about the same order are serialised (PostgreSQL gets the same
    from `SELECT ... FOR UPDATE`).
    """
    if read_only:
        return make_readonly_engine(url)
    if not url.startswith("sqlite"):
        return sa.create_engine(url, future=True, pool_pre_ping=True)
    engine = sa.create_engine(url, future=True, connect_args={"timeout": 30})

    def _on_connect(connection: sqlite3.Connection, _record: Any) -> None:
        connection.isolation_level = None  # SQLAlchemy issues BEGIN itself (below)
        cursor = connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    sa.event.listen(engine, "connect", _on_connect)
    sa.event.listen(engine, "begin", _on_begin)
    return engine


def make_readonly_engine(url: str) -> Engine:
    """An engine that can only read, for a database another program writes (Rasa's tracker store).

    SQLite: the file is opened with `mode=ro` (no journal-mode change, no `BEGIN IMMEDIATE`, so it
    takes no write lock and holds no lock between statements) and `PRAGMA query_only`; a file
    that does not exist yet reads as an empty database. PostgreSQL and MySQL: every transaction
    of the session is READ ONLY. Other databases are opened normally (with a warning).
    """
    parsed = sa.engine.make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise ValueError("a read-only SQLite engine needs a database file")
        path = os.path.abspath(parsed.database)

        def connect() -> sqlite3.Connection:
            if not os.path.exists(path):
                connection = sqlite3.connect(":memory:", check_same_thread=False)
            else:
                connection = sqlite3.connect(f"file:{urllib.parse.quote(path)}?mode=ro", uri=True,
                                             timeout=30, check_same_thread=False)
            connection.execute("PRAGMA query_only=ON")
            return connection

        return sa.create_engine("sqlite://", creator=connect, poolclass=sa.pool.NullPool, future=True)
    engine = sa.create_engine(url, future=True, pool_pre_ping=True)
    statement = {"postgresql": "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
                 "mysql": "SET SESSION TRANSACTION READ ONLY",
                 "mariadb": "SET SESSION TRANSACTION READ ONLY"}.get(backend)
    if statement is None:
        logger.warning("no read-only mode for %s databases: %s is opened read-write", backend,
                       parsed.render_as_string(hide_password=True))
        return engine

    def _read_only(connection: Any, _record: Any) -> None:  # a DB-API connection of the backend's driver
        cursor = connection.cursor()
        cursor.execute(statement)
        cursor.close()
        connection.commit()

    sa.event.listen(engine, "connect", _read_only)
    return engine
