"""Log-structured history: segments per applied batch and per-field blocks replace a row per point.

The points already stored move into blocks (one per field and UTC day, at the top level, so
they are never merged again); the ``telemetry`` table is dropped.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from twinops.storage import history_codec as codec

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

DAY_US = 86_400_000_000
TOP_LEVEL = 3
_ROWS = 500
Json = sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
_OLD = sa.table(
    "telemetry",
    sa.column("tenant", sa.String),
    sa.column("twin_id", sa.String),
    sa.column("name", sa.String),
    sa.column("event_time", sa.BigInteger),
    sa.column("value_num", sa.Float),
    sa.column("value_json", Json),
    sa.column("ingest_time", sa.BigInteger),
    sa.column("source", sa.String),
    sa.column("flags", sa.Integer),
)


def _id_column() -> sa.Column[Any]:
    return sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    )


def upgrade() -> None:
    """Create the segment and block tables, move history into blocks, drop ``telemetry``."""
    op.create_table(
        "telemetry_segments",
        _id_column(),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("first_time", sa.BigInteger, nullable=False),
        sa.Column("last_time", sa.BigInteger, nullable=False),
        sa.Column("points", sa.Integer, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_telemetry_segments_tenant", "telemetry_segments", ["tenant", "id"])
    blocks = op.create_table(
        "telemetry_blocks",
        _id_column(),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("twin_id", sa.String(128), nullable=False),
        sa.Column("name", sa.String(512), nullable=False),
        sa.Column("day", sa.Integer, nullable=False),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("first_time", sa.BigInteger, nullable=False),
        sa.Column("last_time", sa.BigInteger, nullable=False),
        sa.Column("points", sa.Integer, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
    )
    op.create_index(
        "ix_telemetry_blocks_field",
        "telemetry_blocks",
        ["tenant", "twin_id", "name", "day", "first_time"],
    )
    op.create_index("ix_telemetry_blocks_day", "telemetry_blocks", ["tenant", "day", "level"])
    assert blocks is not None
    conn = op.get_bind()
    pending: list[dict[str, Any]] = []
    for row in _old_blocks(conn):
        pending.append(row)
        if len(pending) >= _ROWS:
            conn.execute(sa.insert(blocks), pending)
            pending = []
    if pending:
        conn.execute(sa.insert(blocks), pending)
    op.drop_table("telemetry")


def _old_blocks(conn: sa.Connection) -> Iterator[dict[str, Any]]:
    """The old rows, one block per (tenant, twin, field, day)."""
    order = (_OLD.c.tenant, _OLD.c.twin_id, _OLD.c.name, _OLD.c.event_time)
    result = conn.execute(sa.select(_OLD).order_by(*order).execution_options(yield_per=10_000))
    key: tuple[str, str, str, int] | None = None
    group: list[Any] = []
    for row in result:
        row_key = (row.tenant, row.twin_id, row.name, row.event_time // DAY_US)
        if row_key != key and group:
            assert key is not None
            yield _block(key, group)
            group = []
        key = row_key
        group.append(row)
    if group:
        assert key is not None
        yield _block(key, group)


def _block(key: tuple[str, str, str, int], rows: list[Any]) -> dict[str, Any]:
    columns = codec.build(
        [r.event_time for r in rows],
        [r.value_json if r.value_num is None else r.value_num for r in rows],
        [r.ingest_time for r in rows],
        [r.flags for r in rows],
        [r.source for r in rows],
    )
    tenant, twin_id, name, day = key
    return dict(
        tenant=tenant,
        twin_id=twin_id,
        name=name,
        day=day,
        level=TOP_LEVEL,
        first_time=rows[0].event_time,
        last_time=rows[-1].event_time,
        points=len(rows),
        payload=codec.encode(columns),
    )


def downgrade() -> None:
    """Recreate ``telemetry`` with a row per point from the blocks and segments."""
    table = op.create_table(
        "telemetry",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("twin_id", sa.String(128), primary_key=True),
        sa.Column("name", sa.String(512), primary_key=True),
        sa.Column("event_time", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("value_num", sa.Float, nullable=True),
        sa.Column("value_json", Json, nullable=True),
        sa.Column("ingest_time", sa.BigInteger, nullable=False),
        sa.Column("source", sa.String(256), nullable=False),
        sa.Column("flags", sa.Integer, nullable=False, server_default="0"),
    )
    assert table is not None
    conn = op.get_bind()
    blocks = conn.execute(sa.text("SELECT tenant, twin_id, name, payload FROM telemetry_blocks"))
    for tenant, twin_id, name, payload in blocks.all():
        columns = codec.decode(payload)
        conn.execute(sa.insert(table), _rows(columns, tenant, [(twin_id, name)] * len(columns)))
    segments = conn.execute(sa.text("SELECT tenant, payload FROM telemetry_segments"))
    for tenant, payload in segments.all():
        columns = codec.decode(payload)
        assert columns.stream_idx is not None
        streams = [columns.streams[int(i)] for i in columns.stream_idx]
        conn.execute(sa.insert(table), _rows(columns, tenant, streams))
    op.drop_table("telemetry_blocks")
    op.drop_table("telemetry_segments")


def _rows(
    columns: codec.Columns, tenant: str, streams: list[tuple[str, str]]
) -> list[dict[str, Any]]:
    values = columns.values()
    return [
        dict(
            tenant=tenant,
            twin_id=streams[i][0],
            name=streams[i][1],
            event_time=int(columns.times[i]),
            value_num=None if i in columns.others else float(columns.nums[i]),
            value_json=values[i] if i in columns.others else None,
            ingest_time=int(columns.ingest[i]),
            source=columns.source(i),
            flags=int(columns.flags[i]),
        )
        for i in range(len(columns))
    ]
