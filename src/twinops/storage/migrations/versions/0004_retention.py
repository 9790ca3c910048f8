"""Very-late flags on history and in data quality; retention policies.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the point flags and very-late counts, and create the retention policy table."""
    # A server default fills the existing rows: nothing stored before was flagged.
    op.add_column("telemetry", sa.Column("flags", sa.Integer, nullable=False, server_default="0"))
    op.add_column(
        "data_quality",
        sa.Column("very_late", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.create_table(
        "retention_policies",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("model", sa.String(2048), primary_key=True),
        sa.Column("field", sa.String(512), primary_key=True),
        sa.Column("keep_seconds", sa.BigInteger, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    """Drop the retention policies and the flag columns."""
    op.drop_table("retention_policies")
    with op.batch_alter_table("data_quality") as batch:
        batch.drop_column("very_late")
    with op.batch_alter_table("telemetry") as batch:
        batch.drop_column("flags")
