"""Multi-row INSERT ... ON CONFLICT DO NOTHING RETURNING at the driver level, for ingest.

SQLAlchemy builds parameters row by row (some 25 µs a row), which dominated ingest; this
renders one multi-row statement per chunk with positional parameters and hands it to the
driver. Only the hot path uses it; everything else stays on SQLAlchemy Core.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, Table

# Rows per statement: SQLite binds at most 32,766 parameters, PostgreSQL 65,535.
_MAX_PARAMS = 30_000


def insert_new_rows(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    returning: Sequence[str],
    json_columns: frozenset[str] = frozenset(),
) -> list[tuple[Any, ...]]:
    """Insert ``rows`` (tuples in ``columns`` order), skipping existing keys; the inserted keys."""
    if not rows:
        return []
    postgres = conn.dialect.name == "postgresql"
    marker = "%s" if postgres else "?"
    cell = [
        f"CAST({marker} AS JSONB)" if postgres and name in json_columns else marker
        for name in columns
    ]
    row_sql = "(" + ", ".join(cell) + ")"
    json_at = [i for i, name in enumerate(columns) if name in json_columns]
    head = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES "
    tail = f" ON CONFLICT DO NOTHING RETURNING {', '.join(returning)}"
    per_chunk = max(1, _MAX_PARAMS // len(columns))
    inserted: list[tuple[Any, ...]] = []
    for start in range(0, len(rows), per_chunk):
        chunk = rows[start : start + per_chunk]
        params: list[Any] = []
        for row in chunk:
            if json_at:
                row = list(row)
                for i in json_at:
                    if row[i] is not None:
                        row[i] = _json_text(row[i])
            params.extend(row)
        sql = head + ", ".join([row_sql] * len(chunk)) + tail
        inserted.extend(tuple(r) for r in conn.exec_driver_sql(sql, tuple(params)))
    return inserted


def _json_text(value: Any) -> str:
    """JSON text of a value; the standard library takes the integers beyond 64 bits."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
