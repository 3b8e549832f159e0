"""admin API tokens: every token expires, names are unique per administrator

Tokens created before this revision had no expiry. They keep working for
``LEGACY_TOKEN_DAYS`` from the moment of the upgrade, then stop: long enough to replace them,
short enough that a forgotten or leaked one does not live forever. Two tokens of one
administrator with the same name are told apart by appending their id.

Revision ID: 0008_admin_tokens
Revises: 0007
"""

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0008_admin_tokens"
down_revision = "0007"
branch_labels = None
depends_on = None

#: The default lifetime of a new admin API token (``CREDGATE_ADMIN_TOKEN_DEFAULT_DAYS``).
LEGACY_TOKEN_DAYS = 30

_tokens = sa.table(
    "admin_tokens",
    sa.column("id", sa.Integer()),
    sa.column("admin_id", sa.Integer()),
    sa.column("name", sa.String(200)),
    sa.column("expires_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(_tokens.c.id, _tokens.c.admin_id, _tokens.c.name).order_by(_tokens.c.id)
    ).all()
    taken = {(admin_id, name) for _id, admin_id, name in rows}
    kept: set[tuple[int, str]] = set()
    for token_id, admin_id, name in rows:
        if (admin_id, name) in kept:
            base, attempt = name, 1
            while (admin_id, name) in taken:
                suffix = f" ({token_id})" if attempt == 1 else f" ({token_id}-{attempt})"
                name, attempt = base[: 200 - len(suffix)] + suffix, attempt + 1
            taken.add((admin_id, name))
            connection.execute(sa.update(_tokens).where(_tokens.c.id == token_id).values(name=name))
        kept.add((admin_id, name))
    expiry = dt.datetime.now(dt.UTC) + dt.timedelta(days=LEGACY_TOKEN_DAYS)
    connection.execute(
        sa.update(_tokens).where(_tokens.c.expires_at.is_(None)).values(expires_at=expiry)
    )
    # SQLite rebuilds the table here, with AUTOINCREMENT: a revoked token's id is never reused.
    with op.batch_alter_table(
        "admin_tokens", schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.alter_column(
            "expires_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_admin_tokens_admin_id"), ["admin_id", "name"]
        )


def downgrade() -> None:
    with op.batch_alter_table("admin_tokens", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_admin_tokens_admin_id"), type_="unique")
        batch_op.alter_column("expires_at", existing_type=sa.DateTime(timezone=True), nullable=True)
