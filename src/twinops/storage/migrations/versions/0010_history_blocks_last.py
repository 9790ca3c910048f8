"""An index on where history blocks end, so late live points skip block lookups.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Index telemetry_blocks by (tenant, last_time)."""
    op.create_index("ix_telemetry_blocks_last", "telemetry_blocks", ["tenant", "last_time"])


def downgrade() -> None:
    """Drop the index."""
    op.drop_index("ix_telemetry_blocks_last", "telemetry_blocks")
