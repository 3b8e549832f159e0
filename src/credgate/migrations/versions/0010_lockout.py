"""sign-in lock-out: networks each account has signed in from

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "familiar_networks",
        sa.Column("account", sa.String(length=200), nullable=False),
        sa.Column("network", sa.String(length=64), nullable=False),
        sa.Column("last_success", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account", "network", name=op.f("pk_familiar_networks")),
    )
    with op.batch_alter_table("familiar_networks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_familiar_networks_last_success"), ["last_success"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("familiar_networks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_familiar_networks_last_success"))
    op.drop_table("familiar_networks")
