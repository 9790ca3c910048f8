"""Compactions stage their blocks unseen and publish them at once, under a lease.

A compaction inserted a few thousand block rows (each with four index entries) in the
transaction that deleted their segments: some 45 ms holding the write lock, which every
ingest batch arriving meanwhile waited out. Blocks are now staged in small transactions and
stay unseen until one short transaction publishes them (``published``: the newest visible
block id of the tenant) and deletes the segments. A lease (``holder``, ``lease_until``) keeps a
tenant's block writers to one at a time across processes; the next holder removes the staged
blocks of one that died.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create history_compactions (no row: every block of the tenant is visible)."""
    op.create_table(
        "history_compactions",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("published", sa.BigInteger, nullable=False),
        sa.Column("holder", sa.String(128), nullable=True),
        sa.Column("lease_until", sa.BigInteger, nullable=True),
    )


def downgrade() -> None:
    """Drop history_compactions (staged blocks, if any, would then show as history)."""
    op.drop_table("history_compactions")
