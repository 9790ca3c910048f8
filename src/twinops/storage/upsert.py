"""INSERT ... ON CONFLICT for both dialects: the one SQL difference the stores need."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table, func
from sqlalchemy.dialects import postgresql, sqlite

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


def add_counts(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Add data-quality counts per (tenant, twin, source), creating rows as needed.

    One statement, so two writers adding to the same new row cannot collide on its key.
    """
    if not rows:
        return
    table = data_quality
    stmt = insert_statement(conn, table)
    greatest = func.greatest if conn.dialect.name == "postgresql" else func.max
    newer = greatest(
        func.coalesce(table.c.last_event_time, stmt.excluded.last_event_time),
        func.coalesce(stmt.excluded.last_event_time, table.c.last_event_time),
    )
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["tenant", "twin_id", "source"],
            set_={
                "accepted": table.c.accepted + stmt.excluded.accepted,
                "duplicates": table.c.duplicates + stmt.excluded.duplicates,
                "late": table.c.late + stmt.excluded.late,
                "quarantined": table.c.quarantined + stmt.excluded.quarantined,
                "very_late": table.c.very_late + stmt.excluded.very_late,
                "last_event_time": newer,
                "last_ingest_time": stmt.excluded.last_ingest_time,
            },
        ),
        list(rows),
    )
