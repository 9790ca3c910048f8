"""Multi-row INSERT ... ON CONFLICT statements at the driver level, for ingest's hot path.

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

# SQL text and its positional parameters, ready for the driver.
Statement = tuple[str, tuple[Any, ...]]


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
    tail = f" ON CONFLICT DO NOTHING RETURNING {', '.join(returning)}"
    inserted: list[tuple[Any, ...]] = []
    for sql, params in render_rows(
        conn.dialect.name, table, columns, rows, json_columns=json_columns, tail=tail
    ):
        inserted.extend(tuple(r) for r in conn.exec_driver_sql(sql, params))
    return inserted


def insert_rows(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    json_columns: frozenset[str] = frozenset(),
    tail: str = "",
) -> None:
    """Insert ``rows`` (tuples in ``columns`` order) in VALUES order, ``tail`` appended."""
    execute_statements(
        conn,
        render_rows(conn.dialect.name, table, columns, rows, json_columns=json_columns, tail=tail),
    )


def render_upsert_newer(
    dialect: str,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    keys: Sequence[str],
    newer: str,
    json_columns: frozenset[str] = frozenset(),
) -> list[Statement]:
    """Insert ``rows``, or update a stored row only where ``newer`` grows (as statements)."""
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in keys)
    tail = (
        f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
        f" WHERE {table.name}.{newer} < excluded.{newer}"
    )
    return render_rows(dialect, table, columns, rows, json_columns=json_columns, tail=tail)


def execute_statements(conn: Connection, statements: Sequence[Statement]) -> None:
    """Run statements rendered by the ``render_*`` functions, in order."""
    for sql, params in statements:
        conn.exec_driver_sql(sql, params)


def select_where_in(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    *,
    tenant: str,
    column: str,
    values: Sequence[Any],
) -> list[tuple[Any, ...]]:
    """``columns`` of the tenant's rows whose ``column`` is one of ``values``."""
    marker = sql_marker(conn)
    found: list[tuple[Any, ...]] = []
    per_chunk = 500
    for start in range(0, len(values), per_chunk):
        chunk = values[start : start + per_chunk]
        sql = (
            f"SELECT {', '.join(columns)} FROM {table.name} WHERE tenant = {marker}"
            f" AND {column} IN ({', '.join([marker] * len(chunk))})"
        )
        # Straight on the DB-API cursor: the rows need no result processing, and SQLAlchemy's
        # per-row fetch cost more than the query (thousands of rows a batch).
        cursor = conn.connection.cursor()
        try:
            cursor.execute(sql, (tenant, *chunk))
            found.extend(cursor.fetchall())
        finally:
            cursor.close()
    return found


def sql_marker(conn: Connection) -> str:
    """The DB-API parameter marker of the connection's driver."""
    return marker_of(conn.dialect.name)


def marker_of(dialect: str) -> str:
    """The DB-API parameter marker of a dialect's driver."""
    return "%s" if dialect == "postgresql" else "?"


def render_rows(
    dialect: str,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    json_columns: frozenset[str] = frozenset(),
    tail: str = "",
) -> list[Statement]:
    """``INSERT ... VALUES (...), (...) <tail>`` per chunk of rows, with its parameters.

    Rendering needs no connection, so a writer can do it before taking the write lock.
    """
    if not rows:
        return []
    marker = marker_of(dialect)
    postgres = dialect == "postgresql"
    cell = [
        f"CAST({marker} AS JSONB)" if postgres and name in json_columns else marker
        for name in columns
    ]
    row_sql = "(" + ", ".join(cell) + ")"
    json_at = [i for i, name in enumerate(columns) if name in json_columns]
    head = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES "
    per_chunk = max(1, _MAX_PARAMS // len(columns))
    statements: list[Statement] = []
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
        statements.append((head + ", ".join([row_sql] * len(chunk)) + tail, tuple(params)))
    return statements


def _json_text(value: Any) -> str:
    """JSON text of a value; the standard library takes the integers beyond 64 bits."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
