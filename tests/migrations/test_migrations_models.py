"""The Alembic migrations produce exactly the schema the models describe, on both back ends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from credgate.core.db import Database
from credgate.migrations import migrate
from credgate.models import metadata


def test_migrations_match_models(database_url: str) -> None:
    db = Database(database_url)
    try:
        migrate(db)
        migrate(db)  # idempotent
        with db.engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), metadata
            )
        assert diff == []
    finally:
        db.dispose()
