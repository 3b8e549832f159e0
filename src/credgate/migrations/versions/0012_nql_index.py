"""NQL in the database: typed, indexed inventory values; export jobs found by state

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

from credgate.platform.nql.index import KEY_CHARS, entries, object_row

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_BATCH = 2000


# Text compares by code point on PostgreSQL as on SQLite (see credgate.platform.models).
_KEY = sa.String(length=KEY_CHARS).with_variant(
    sa.String(length=KEY_CHARS, collation="C"), "postgresql"
)
_TEXT = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")


def upgrade() -> None:
    values = op.create_table(
        "platform_inventory_values",
        sa.Column("object_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=300), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("object", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=6), nullable=False),
        sa.Column("num", sa.Float(), nullable=True),
        sa.Column("key", _KEY, nullable=True),
        sa.Column("text", _TEXT, nullable=True),
        sa.Column("folded", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["object_id"],
            ["platform_inventory.id"],
            name=op.f("fk_platform_inventory_values_object_id_platform_inventory"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "object_id", "field", "position", name=op.f("pk_platform_inventory_values")
        ),
    )
    inventory = sa.table(
        "platform_inventory",
        sa.column("id", sa.Integer()),
        sa.column("object", sa.String()),
        sa.column("uid", sa.String()),
        sa.column("name", sa.String()),
        sa.column("sid", sa.String()),
        sa.column("upn", sa.String()),
        sa.column("fields", sa.JSON()),
    )
    bind = op.get_bind()
    last = 0
    while True:
        batch = bind.execute(
            sa.select(inventory).where(inventory.c.id > last).order_by(inventory.c.id).limit(_BATCH)
        ).all()
        if not batch:
            break
        rows: list[dict[str, object]] = []
        for found in batch:
            ident = {"name": found.name, "sid": found.sid, "upn": found.upn}
            rows.extend(entries(found.id, found.object, object_row(found.uid, ident, found.fields)))
        if rows:
            bind.execute(sa.insert(values), rows)
        last = batch[-1].id
    # Indexes after the copy: one sort each instead of a btree insert per row.
    op.create_index(
        "ix_platform_inventory_values_num",
        "platform_inventory_values",
        ["object", "field", "kind", "num", "position", "object_id"],
    )
    op.create_index(
        "ix_platform_inventory_values_key",
        "platform_inventory_values",
        ["object", "field", "kind", "key", "position", "object_id"],
    )
    if bind.dialect.name == "postgresql":
        # Which kinds a field holds is far from independent of the field: without these
        # statistics the planner expects thousands of integer "name" values and scans the
        # table for the first of none.
        op.execute(
            "CREATE STATISTICS st_platform_inventory_values_kinds (mcv, dependencies)"
            " ON object, field, kind FROM platform_inventory_values"
        )
    op.create_index("ix_platform_requests_kind_state", "platform_requests", ["kind", "state"])
    op.create_index(
        "ix_platform_requests_kind_client_id_created_at",
        "platform_requests",
        ["kind", "client_id", "created_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_platform_requests_kind_client_id_created_at", "platform_requests")
    op.drop_index("ix_platform_requests_kind_state", "platform_requests")
    op.drop_table("platform_inventory_values")
