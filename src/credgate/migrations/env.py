"""Alembic environment: runs on the connection handed over by :func:`credgate.migrations.migrate`."""

from __future__ import annotations

from alembic import context

from credgate.models import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reached by the alembic command line
    from credgate.core.config import load_settings
    from credgate.core.db import Database

    connection = Database(load_settings().resolved_database_url).engine.connect()

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
