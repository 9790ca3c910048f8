"""Late points list their blocks by end time from an index alone; retention trims counted.

A batch that arrives after newer ones looks up every point it holds in the history blocks
(duplicate or conflict?). Listing a field-day's blocks through the field index walked every
block of the day starting before the point, and read each one's row for its end time: with a
few thousand fields, most of the lookup's time, growing through the day. The new index holds
a field-day's blocks by end time, with their start and size: the blocks ending after a late
point are the few newest, read from the index alone. ``history_trims`` counts each tenant's
retention deletes, so a process caching decoded blocks by row id drops them when a deleted
block's id may be given to a new one (SQLite reuses the largest rowid once it is deleted).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ix_telemetry_blocks_field_end and history_trims."""
    op.create_index(
        "ix_telemetry_blocks_field_end",
        "telemetry_blocks",
        ["tenant", "twin_id", "name", "day", "last_time", "first_time", "points"],
    )
    op.create_table(
        "history_trims",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    """Drop history_trims and ix_telemetry_blocks_field_end."""
    op.drop_table("history_trims")
    op.drop_index("ix_telemetry_blocks_field_end", "telemetry_blocks")
