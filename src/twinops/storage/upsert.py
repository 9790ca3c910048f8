"""INSERT ... ON CONFLICT for both dialects: the one SQL difference the stores need."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

from twinops.storage.bulk import Statement, render_rows
from twinops.storage.schema import data_quality


def insert_statement(conn: Connection, table: Table) -> Any:
    """An INSERT of the connection's dialect, which has ``on_conflict_do_*``."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def insert_ignoring_conflicts(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]]
) -> None:
    """Insert rows; a row whose key already exists is left as it is."""
    if rows:
        conn.execute(insert_statement(conn, table).on_conflict_do_nothing(), list(rows))


_COUNTS = ("accepted", "duplicates", "late", "quarantined", "very_late")
QUALITY_COLUMNS = (
    "tenant",
    "twin_id",
    "source",
    *_COUNTS,
    "last_event_time",
    "last_ingest_time",
)


def render_counts(dialect: str, rows: Sequence[tuple[Any, ...]]) -> list[Statement]:
    """Statements adding data-quality counts per (tenant, twin, source), creating rows as
    needed, for rows in ``QUALITY_COLUMNS`` order.

    One statement a chunk, so two writers adding to the same new row cannot collide on its key.
    """
    if not rows:
        return []
    greatest = "greatest" if dialect == "postgresql" else "max"
    table = data_quality.name
    added = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in _COUNTS)
    tail = (
        f" ON CONFLICT (tenant, twin_id, source) DO UPDATE SET {added},"
        f" last_event_time = {greatest}("
        f"coalesce({table}.last_event_time, excluded.last_event_time),"
        f" coalesce(excluded.last_event_time, {table}.last_event_time)),"
        " last_ingest_time = excluded.last_ingest_time"
    )
    return render_rows(dialect, data_quality, QUALITY_COLUMNS, rows, tail=tail)
