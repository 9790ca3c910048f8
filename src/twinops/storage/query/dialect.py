"""The JSON and text expressions that differ between SQLite and PostgreSQL, and nothing else.

Every ``value``/``type_in`` expression is SQL NULL when the property is missing, and ``value``
is also NULL when the stored JSON type is not the one asked for: SQL's three-valued logic
then gives ADT's "comparing different types is undefined" for free.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.exc import OperationalError
from sqlalchemy.sql.elements import ColumnElement

from twinops.errors import InvalidInput

Expr = ColumnElement[Any]


class JsonKind(StrEnum):
    """A JSON value's type, named as PostgreSQL's ``jsonb_typeof`` names it."""

    STRING = "string"
    NUMBER = "number"
    BOOLEAN = "boolean"
    NULL = "null"
    OBJECT = "object"
    ARRAY = "array"


def _timed_out(limit_ms: int) -> InvalidInput:
    return InvalidInput.single(
        "query",
        "queryTimeout",
        f"the query ran longer than {limit_ms} ms; "
        "filter the first alias more narrowly or use fewer JOINs",
    )


class SqlDialect:
    """JSON access and text matching for one database; subclasses fill in the differences."""

    name = ""

    @contextmanager
    def time_limit(self, conn: Connection, limit_ms: int) -> Iterator[None]:
        """Abort statements on ``conn`` that run longer than ``limit_ms`` (InvalidInput)."""
        raise NotImplementedError
        yield  # pragma: no cover

    def type_of(self, doc: Expr, path: Sequence[str]) -> Expr:
        """The dialect's own type name of ``doc`` at ``path``; NULL when missing."""
        raise NotImplementedError

    def type_names(self, kind: JsonKind) -> tuple[str, ...]:
        """The names ``type_of`` gives values of ``kind``."""
        raise NotImplementedError

    def value(self, doc: Expr, path: Sequence[str], kind: JsonKind) -> Expr:
        """The value at ``path`` as SQL text/number when it has ``kind``, else NULL.

        Booleans come back as the text ``'true'``/``'false'`` on both dialects.
        """
        raise NotImplementedError

    def number(self, value: int | float) -> Expr:
        """A numeric constant comparable with ``value(..., NUMBER)``."""
        return sa.literal(value)

    def ordered_text(self, expr: Expr) -> Expr:
        """``expr`` compared code point by code point, whatever the database's locale."""
        return expr

    def contains(self, text: Expr, needle: str) -> Expr:
        """True when ``needle`` occurs in ``text`` (case-sensitive)."""
        raise NotImplementedError

    def type_in(self, doc: Expr, path: Sequence[str], kinds: Iterable[JsonKind]) -> Expr:
        """Whether the value at ``path`` has one of ``kinds``; NULL when it is missing."""
        names = [name for kind in kinds for name in self.type_names(kind)]
        return self.type_of(doc, path).in_(names)

    def starts_with(self, text: Expr, prefix: str) -> Expr:
        """True when ``text`` begins with ``prefix`` (case-sensitive, unlike LIKE on SQLite)."""
        return sa.func.substr(text, 1, len(prefix)) == prefix

    def ends_with(self, text: Expr, suffix: str) -> Expr:
        """True when ``text`` ends with ``suffix`` (case-sensitive)."""
        length = sa.func.length(text)
        return sa.and_(
            length >= len(suffix),
            sa.func.substr(text, length - len(suffix) + 1) == suffix,
        )


class SqliteDialect(SqlDialect):
    """SQLite: JSON stored as text, read with ``json_type`` / ``json_extract``."""

    name = "sqlite"
    _TYPES: ClassVar[dict[JsonKind, tuple[str, ...]]] = {
        JsonKind.STRING: ("text",),
        JsonKind.NUMBER: ("integer", "real"),
        JsonKind.BOOLEAN: ("true", "false"),
        JsonKind.NULL: ("null",),
        JsonKind.OBJECT: ("object",),
        JsonKind.ARRAY: ("array",),
    }

    @staticmethod
    def _path(path: Sequence[str]) -> Expr:
        # Quoted labels keep names like `a-b` from being read as path syntax.
        quoted = "".join('."' + name.replace('"', '\\"') + '"' for name in path)
        return sa.literal("$" + quoted)

    def type_of(self, doc: Expr, path: Sequence[str]) -> Expr:
        """``json_type(doc, '$."a"."b"')``."""
        return sa.func.json_type(doc, self._path(path))

    def type_names(self, kind: JsonKind) -> tuple[str, ...]:
        """SQLite's ``json_type`` names."""
        return self._TYPES[kind]

    def value(self, doc: Expr, path: Sequence[str], kind: JsonKind) -> Expr:
        """``CASE WHEN json_type(...) IN (...) THEN json_extract(...) END``."""
        type_ = self.type_of(doc, path)
        if kind is JsonKind.BOOLEAN:
            return sa.case((type_.in_(self._TYPES[kind]), type_))
        extracted = sa.func.json_extract(doc, self._path(path))
        return sa.case((type_.in_(self._TYPES[kind]), extracted))

    def contains(self, text: Expr, needle: str) -> Expr:
        """``instr(text, needle) > 0``."""
        return sa.func.instr(text, needle) > 0

    @contextmanager
    def time_limit(self, conn: Connection, limit_ms: int) -> Iterator[None]:
        """A progress handler that interrupts the statement once the deadline passes."""
        raw: Any = conn.connection.dbapi_connection
        deadline = time.monotonic() + limit_ms / 1000
        raw.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        try:
            yield
        except OperationalError as exc:
            if "interrupted" in str(exc.orig) and time.monotonic() > deadline:
                raise _timed_out(limit_ms) from None
            raise
        finally:
            raw.set_progress_handler(None, 0)


class PostgresDialect(SqlDialect):
    """PostgreSQL: JSONB read with ``#>`` / ``#>>`` and ``jsonb_typeof``."""

    name = "postgresql"

    @staticmethod
    def _path(path: Sequence[str]) -> Expr:
        return sa.literal(list(path), ARRAY(sa.Text()))

    def type_of(self, doc: Expr, path: Sequence[str]) -> Expr:
        """``jsonb_typeof(doc #> '{a,b}')``."""
        return sa.func.jsonb_typeof(doc.op("#>", return_type=JSONB())(self._path(path)))

    def type_names(self, kind: JsonKind) -> tuple[str, ...]:
        """``jsonb_typeof`` names are the kinds' own names."""
        return (kind.value,)

    def value(self, doc: Expr, path: Sequence[str], kind: JsonKind) -> Expr:
        """``CASE WHEN jsonb_typeof(...) = kind THEN (doc #>> path)[::numeric] END``."""
        text: Expr = doc.op("#>>", return_type=sa.Text())(self._path(path))
        if kind is JsonKind.NUMBER:
            text = sa.cast(text, sa.Numeric())
        return sa.case((self.type_of(doc, path) == kind.value, text))

    def number(self, value: int | float) -> Expr:
        """The constant's decimal text cast to numeric, so 0.1 stays exactly 0.1."""
        return sa.cast(sa.literal(repr(value)), sa.Numeric())

    def ordered_text(self, expr: Expr) -> Expr:
        """``expr COLLATE "C"``: byte order, as SQLite compares."""
        return sa.collate(expr, "C")

    def contains(self, text: Expr, needle: str) -> Expr:
        """``strpos(text, needle) > 0``."""
        return sa.func.strpos(text, needle) > 0

    @contextmanager
    def time_limit(self, conn: Connection, limit_ms: int) -> Iterator[None]:
        """``statement_timeout`` for this transaction only, restored afterwards."""
        setting = sa.text("SELECT set_config('statement_timeout', :value, true)")
        previous = conn.execute(sa.text("SELECT current_setting('statement_timeout')")).scalar()
        conn.execute(setting, {"value": f"{limit_ms}ms"})
        try:
            yield
        except OperationalError as exc:
            # 57014 is query_canceled; the transaction is aborted, so nothing to restore.
            if getattr(exc.orig, "sqlstate", None) == "57014":
                raise _timed_out(limit_ms) from None
            raise
        conn.execute(setting, {"value": previous})


def dialect_for(name: str) -> SqlDialect:
    """The expressions for SQLAlchemy dialect ``name`` (``sqlite`` or ``postgresql``)."""
    if name == "sqlite":
        return SqliteDialect()
    if name == "postgresql":
        return PostgresDialect()
    raise ValueError(f"the twin query language does not support the {name!r} dialect")
