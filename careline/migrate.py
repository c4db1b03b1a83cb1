"""Bring the shop database's schema up to date with the Alembic migrations.

Usage: python -m careline.migrate   (uses CARELINE_STORE_DB_URL or var/careline.db)
"""
from __future__ import annotations

import sys

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

from careline.settings import PROJECT_ROOT, load_settings
from careline.store import make_engine


def alembic_config() -> Config:
    return Config(str(PROJECT_ROOT / "alembic.ini"))


def migrate(engine: Engine) -> None:
    """Upgrade the database behind `engine` to the newest revision."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def main() -> int:
    settings = load_settings()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    migrate(make_engine(settings.store_db_url))
    print("migrate: database schema is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
