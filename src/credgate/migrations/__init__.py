"""The schema's history (Alembic): every feature's tables, so it sits above the features."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import text

from credgate.core.db import Database

__all__ = ["downgrade", "migrate"]

_MIGRATION_LOCK_ID = 0x63726564  # "cred": the PostgreSQL advisory-lock key for migrations


def _config() -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent))
    return config


def migrate(database: Database, revision: str = "head") -> None:
    """Bring the schema to ``revision`` with Alembic."""
    from alembic import command

    config = _config()
    with database.engine.begin() as connection:
        if database.is_postgresql:
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK_ID})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(database: Database, revision: str) -> None:
    """Take the schema back to ``revision`` (upgrade tests start from an older schema)."""
    from alembic import command

    config = _config()
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
