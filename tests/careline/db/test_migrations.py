"""The Alembic migrations build exactly the schema that careline.db describes."""
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from careline.db.engine import Base, make_engine
from careline.db.migrate import UnversionedDatabase, migrate


def test_migrations_create_every_table_and_match_the_models(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'shop.db'}")
    migrate(engine)
    migrate(engine)  # a second run is a no-op
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) | {"alembic_version"} == tables
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_a_database_from_before_migrations_gets_a_clear_message(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    Base.metadata.tables["customers"].create(engine)
    with pytest.raises(UnversionedDatabase, match="make reseed"):
        migrate(engine)
