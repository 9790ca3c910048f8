"""Jobs keep the W3C trace context of their submit, so any runner continues the trace.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add jobs.traceparent (empty for the jobs already there)."""
    op.add_column("jobs", sa.Column("traceparent", sa.String(64), nullable=True))


def downgrade() -> None:
    """Drop jobs.traceparent."""
    op.drop_column("jobs", "traceparent")
