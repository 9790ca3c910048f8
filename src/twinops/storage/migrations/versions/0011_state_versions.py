"""A version per tenant's current state, so a process can trust its cache of it.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create state_versions (no row: a tenant's version starts at 0)."""
    op.create_table(
        "state_versions",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    """Drop state_versions."""
    op.drop_table("state_versions")
