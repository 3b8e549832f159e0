"""Migration 0003 creates exactly the platform tables the models describe."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from credgate.core.db import Database
from credgate.migrations import migrate
from credgate.models import metadata

PLATFORM_TABLES = {"platform_definitions", "platform_requests", "platform_inventory"}


def test_migrations_match_the_platform_models(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        migrate(db)
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diff = compare_metadata(context, metadata)
        assert diff == []
        with db.engine.connect() as connection:
            tables = set(db.engine.dialect.get_table_names(connection))
        assert tables >= PLATFORM_TABLES
    finally:
        db.dispose()
