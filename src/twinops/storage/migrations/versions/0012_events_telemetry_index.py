"""Telemetry events indexed by seq bucket before subject, so ingest stops rewriting the index.

Ingest writes one ``TelemetryApplied`` event per twin per batch. Under (tenant, subject, seq)
each of those lands on a different leaf page once the index is large: a 1,000-twin batch
dirtied about 1,000 pages (4 MB of WAL), and inserting its events grew from 3 to 30 ms as
history piled up. Telemetry events are now indexed by (tenant, seq >> 14, subject, seq), so a
batch touches the leaves of one bucket; every other event keeps the exact subject index.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_TELEMETRY = sa.text("type = 'TelemetryApplied'")
_OTHER = sa.text("type <> 'TelemetryApplied'")


def upgrade() -> None:
    """Split ix_events_subject into a partial subject index and a bucketed telemetry one."""
    op.drop_index("ix_events_subject", "events")
    op.create_index(
        "ix_events_subject",
        "events",
        ["tenant", "subject", "seq"],
        sqlite_where=_OTHER,
        postgresql_where=_OTHER,
    )
    op.create_index(
        "ix_events_telemetry_subject",
        "events",
        ["tenant", sa.text("(seq >> 14)"), "subject", "seq"],
        sqlite_where=_TELEMETRY,
        postgresql_where=_TELEMETRY,
    )


def downgrade() -> None:
    """Back to one (tenant, subject, seq) index over every event."""
    op.drop_index("ix_events_telemetry_subject", "events")
    op.drop_index("ix_events_subject", "events")
    op.create_index("ix_events_subject", "events", ["tenant", "subject", "seq"])
