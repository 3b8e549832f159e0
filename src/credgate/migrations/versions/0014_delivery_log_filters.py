"""The delivery log filtered to one webhook, in its order: those pages read an index too, not a
sort of every row of the webhook; it replaces the index on webhook_id alone, which it leads with

Revision ID: 0014
Revises: 0013
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_webhook_deliveries_webhook_log", ["webhook_id", "created_at", "id"], unique=False
        )
        batch_op.drop_index("ix_webhook_deliveries_webhook_id")


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_webhook_deliveries_webhook_id", ["webhook_id"], unique=False)
        batch_op.drop_index("ix_webhook_deliveries_webhook_log")
