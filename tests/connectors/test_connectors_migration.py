"""Revision 0002 builds exactly the connector tables the models describe, on both back ends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from credgate.container import Container
from credgate.models import metadata


def test_migrations_match_the_models(container: Container) -> None:
    with container.db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
        assert context.get_current_revision() is not None
    assert differences == []
    tables = set(inspect(container.db.engine).get_table_names())
    assert {"connector_credentials", "connector_credential_secrets", "connectors"} <= tables
    foreign = inspect(container.db.engine).get_foreign_keys("connectors")
    assert [(f["referred_table"], f["options"].get("ondelete")) for f in foreign] == [
        ("connector_credentials", "SET NULL")
    ]
