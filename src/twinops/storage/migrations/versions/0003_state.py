"""Telemetry and state: history, current state, message ids, quarantine, data quality.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")


def _value_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("value_num", sa.Float, nullable=True),
        sa.Column("value_json", Json, nullable=True),
        sa.Column("ingest_time", sa.BigInteger, nullable=False),
        sa.Column("source", sa.String(256), nullable=False),
    ]


def upgrade() -> None:
    """Create the telemetry and state tables."""
    op.create_table(
        "telemetry",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("twin_id", sa.String(128), primary_key=True),
        sa.Column("name", sa.String(512), primary_key=True),
        sa.Column("event_time", sa.BigInteger, primary_key=True, autoincrement=False),
        *_value_columns(),
    )
    op.create_table(
        "current_state",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("twin_id", sa.String(128), primary_key=True),
        sa.Column("name", sa.String(512), primary_key=True),
        sa.Column("event_time", sa.BigInteger, nullable=False),
        *_value_columns(),
    )
    op.create_table(
        "message_ids",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("message_id", sa.String(256), primary_key=True),
        sa.Column("seen_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_message_ids_seen", "message_ids", ["tenant", "seen_at"])
    op.create_table(
        "quarantine",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("source", sa.String(256), nullable=False),
        sa.Column("received_at", sa.BigInteger, nullable=False),
        sa.Column("twin_id", sa.String(128), nullable=True),
        sa.Column("name", sa.String(512), nullable=True),
        sa.Column("field", sa.String(256), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("payload", Json, nullable=False),
        sa.Column("replayed_at", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_quarantine_tenant", "quarantine", ["tenant", "id"])
    op.create_table(
        "data_quality",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("twin_id", sa.String(128), primary_key=True),
        sa.Column("source", sa.String(256), primary_key=True),
        sa.Column("accepted", sa.BigInteger, nullable=False),
        sa.Column("duplicates", sa.BigInteger, nullable=False),
        sa.Column("late", sa.BigInteger, nullable=False),
        sa.Column("quarantined", sa.BigInteger, nullable=False),
        sa.Column("last_event_time", sa.BigInteger, nullable=True),
        sa.Column("last_ingest_time", sa.BigInteger, nullable=True),
    )


def downgrade() -> None:
    """Drop the telemetry and state tables."""
    for table in ("data_quality", "quarantine", "message_ids", "current_state", "telemetry"):
        op.drop_table(table)
