"""The (tenant, day, level) index on history blocks also holds twin and field.

After each compaction, the merge step groups a day's blocks of one level by field to find
those with enough blocks to merge. With twin and field in the index that is a walk of the
index in order; before, it read every block row of the day and sorted them (0.2 to 0.6 s per
compaction on a 1,000-twin fleet, growing through the day).

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Rebuild ix_telemetry_blocks_day as (tenant, day, level, twin_id, name)."""
    op.drop_index("ix_telemetry_blocks_day", "telemetry_blocks")
    op.create_index(
        "ix_telemetry_blocks_day",
        "telemetry_blocks",
        ["tenant", "day", "level", "twin_id", "name"],
    )


def downgrade() -> None:
    """Back to (tenant, day, level)."""
    op.drop_index("ix_telemetry_blocks_day", "telemetry_blocks")
    op.create_index("ix_telemetry_blocks_day", "telemetry_blocks", ["tenant", "day", "level"])
