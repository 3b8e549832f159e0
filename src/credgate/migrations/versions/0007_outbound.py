"""outbound container: token renewal leases and pending consents

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "connector_consents",
        sa.Column("credential_id", sa.String(length=36), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["credential_id"],
            ["connector_credentials.id"],
            name=op.f("fk_connector_consents_credential_id_connector_credentials"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("credential_id", name=op.f("pk_connector_consents")),
    )
    op.create_table(
        "connector_token_leases",
        sa.Column("credential_id", sa.String(length=36), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["credential_id"],
            ["connector_credentials.id"],
            name=op.f("fk_connector_token_leases_credential_id_connector_credentials"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("credential_id", name=op.f("pk_connector_token_leases")),
    )


def downgrade() -> None:
    op.drop_table("connector_token_leases")
    op.drop_table("connector_consents")
