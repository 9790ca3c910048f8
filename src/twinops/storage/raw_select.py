"""A SELECT compiled once and run straight on the DB-API connection, for the hottest reads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Select

from twinops.storage.database import Database


class RawSelect:
    """A statement compiled once for the database's dialect, answering its first row.

    For primary-key reads on the request path (``GET /v1/twins/{id}``): SQLAlchemy's
    per-call execution machinery costs several times the indexed read itself. Values pass
    through the result processors SQLAlchemy would apply (JSON text decoded on SQLite;
    psycopg decodes JSONB on its own), so rows equal what ``Connection.execute`` gives.
    """

    def __init__(self, db: Database, statement: Select[Any]) -> None:
        dialect = db.engine.dialect
        compiled = statement.compile(dialect=dialect)
        self._db = db
        self._sql = compiled.string
        # qmark and format paramstyles bind by position, pyformat (psycopg) by name.
        self._positions = compiled.positiontup
        self.columns = tuple(column.name for column in statement.selected_columns)
        self._processors: list[Callable[[Any], Any] | None] = [
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in statement.selected_columns
        ]

    def first(self, **params: Any) -> dict[str, Any] | None:
        """The first row, by column name, for ``params`` (named as the bind parameters)."""
        args: Any = params if self._positions is None else [params[n] for n in self._positions]
        connection = self._db.engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(self._sql, args)
                row = cursor.fetchone()
            finally:
                cursor.close()
        finally:
            connection.close()  # back to the pool, which rolls the read transaction back
        if row is None:
            return None
        return {
            name: value if process is None or value is None else process(value)
            for name, value, process in zip(self.columns, row, self._processors, strict=True)
        }
