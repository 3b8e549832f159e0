"""connector credential secrets: the destination each one is sealed for

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing rows keep "": sealed without a destination until `credgate init` seals them again.
    with op.batch_alter_table("connector_credential_secrets") as batch:
        batch.add_column(
            sa.Column("destination", sa.String(length=64), server_default="", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("connector_credential_secrets") as batch:
        batch.drop_column("destination")
