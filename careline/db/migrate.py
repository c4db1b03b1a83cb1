"""Bring the shop database's schema up to date with the Alembic migrations.

Usage: python -m careline.db.migrate   (uses CARELINE_STORE_DB_URL or var/careline.db)
"""
from __future__ import annotations

import sys

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect
from sqlalchemy.engine import Engine

from careline.db.engine import make_engine
from careline.shared import PROJECT_ROOT, load_settings, secure_var


def alembic_config() -> Config:
    return Config(str(PROJECT_ROOT / "alembic.ini"))


class UnversionedDatabase(RuntimeError):
    """The database has tables but no Alembic version: it predates the migrations."""


def migrate(engine: Engine) -> None:
    """Upgrade the database behind `engine` to the newest revision."""
    tables = set(inspect(engine).get_table_names())
    if tables and "alembic_version" not in tables:
        raise UnversionedDatabase(
            f"{engine.url.render_as_string(hide_password=True)} has tables but no migration history "
            "(it was created before migrations existed); recreate it with `make reseed`"
        )
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def main() -> int:
    settings = load_settings()
    secure_var(settings.var_dir, (settings.store_db_url, settings.tracker_db_url))
    try:
        migrate(make_engine(settings.store_db_url))
    except UnversionedDatabase as error:
        print(f"migrate: {error}", file=sys.stderr)
        return 1
    print("migrate: database schema is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
