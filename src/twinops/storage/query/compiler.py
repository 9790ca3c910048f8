"""Syntax tree to SQLAlchemy Core: one SELECT over twins and relationships, tenant-scoped."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import FromClause
from sqlalchemy.sql.elements import ColumnElement

from twinops.storage.query.dialect import JsonKind, SqlDialect, dialect_for
from twinops.storage.schema import model_ancestors, relationships, twins
from twinops.twins.query.ast import (
    And,
    CompareOp,
    Comparison,
    CountAll,
    Expr,
    InList,
    IsOfModel,
    Literal,
    Not,
    Or,
    PropertyPath,
    Query,
    Star,
    StringFunction,
    StringMatch,
    TypeCheck,
    TypeFunction,
)
from twinops.twins.query.checks import Scope, scope_of

Sql = ColumnElement[Any]

_TWIN_COLUMNS: dict[tuple[str, ...], str] = {
    ("$dtId",): "twin_id",
    ("$etag",): "etag",
    ("$metadata", "$model"): "model",
}
_RELATIONSHIP_COLUMNS: dict[tuple[str, ...], str] = {
    ("$relationshipId",): "relationship_id",
    ("$sourceId",): "source_id",
    ("$targetId",): "target_id",
    ("$relationshipName",): "name",
    ("$etag",): "etag",
}
_TYPE_KINDS = {
    TypeFunction.IS_NULL: (JsonKind.NULL,),
    TypeFunction.IS_BOOL: (JsonKind.BOOLEAN,),
    TypeFunction.IS_NUMBER: (JsonKind.NUMBER,),
    TypeFunction.IS_STRING: (JsonKind.STRING,),
    TypeFunction.IS_OBJECT: (JsonKind.OBJECT,),
    TypeFunction.IS_PRIMITIVE: (JsonKind.STRING, JsonKind.NUMBER, JsonKind.BOOLEAN, JsonKind.NULL),
}
# What a system column (always a defined, non-null string) answers to each type check.
_COLUMN_TYPE_CHECK = {
    TypeFunction.IS_DEFINED: True,
    TypeFunction.IS_STRING: True,
    TypeFunction.IS_PRIMITIVE: True,
}
_UNDEFINED: Sql = sa.cast(sa.null(), sa.Boolean())
_ORDERING = {CompareOp.LT, CompareOp.LE, CompareOp.GT, CompareOp.GE}


@dataclass(frozen=True)
class Output:
    """One alias whose rows the statement returns: ``kind`` is ``twin`` or ``relationship``."""

    alias: str | None
    kind: str
    table: FromClause


@dataclass(frozen=True)
class Plan:
    """A compiled query: the joined tables, the filter, the paging key and what to return."""

    query: Query
    source: FromClause
    where: Sql
    key: tuple[Sql, ...]
    outputs: tuple[Output, ...]

    def rows(self) -> sa.Select[Any]:
        """Every match, with the columns of each output and the key as ``k0``, ``k1``, ..."""
        columns: list[Sql] = []
        for index, output in enumerate(self.outputs):
            columns.extend(
                column.label(f"a{index}_{column.name}") for column in output.table.columns
            )
        columns.extend(expr.label(f"k{i}") for i, expr in enumerate(self.key))
        return sa.select(*columns).select_from(self.source).where(self.where)

    def count(self) -> sa.Select[Any]:
        """The number of matches."""
        return sa.select(sa.func.count()).select_from(self.source).where(self.where)


def compile_query(query: Query, tenant: str, dialect: str | SqlDialect) -> Plan:
    """Compile a checked query for ``tenant``; every table it reads is filtered by tenant."""
    sql = dialect_for(dialect) if isinstance(dialect, str) else dialect
    return _Compiler(query, tenant, sql).plan()


class _Compiler:
    def __init__(self, query: Query, tenant: str, dialect: SqlDialect) -> None:
        self.query = query
        self.tenant = tenant
        self.dialect = dialect
        self.scope: Scope = scope_of(query)
        self.twin_tables: dict[str | None, FromClause] = {}
        self.relationship_tables: dict[str, FromClause] = {}

    def plan(self) -> Plan:
        query, tenant = self.query, self.tenant
        root = twins.alias("t0")
        self.twin_tables[query.alias] = root
        source: FromClause = root
        hops: list[FromClause] = []
        for index, join in enumerate(query.joins, start=1):
            edge = relationships.alias(f"r{index}")
            target = twins.alias(f"t{index}")
            origin = self.twin_tables[join.source]
            source = source.join(
                edge,
                sa.and_(
                    edge.c.tenant == tenant,
                    edge.c.source_id == origin.c.twin_id,
                    edge.c.name == join.relationship,
                ),
            ).join(target, sa.and_(target.c.tenant == tenant, target.c.twin_id == edge.c.target_id))
            self.twin_tables[join.alias] = target
            if join.relationship_alias is not None:
                self.relationship_tables[join.relationship_alias] = edge
            hops.append(edge)
        where: Sql = root.c.tenant == tenant
        if query.where is not None:
            where = sa.and_(where, self.expr(query.where))
        outputs = self.outputs()
        # Projected twins first so pages read in their order; the rest makes each row unique.
        key: list[Sql] = [o.table.c.twin_id for o in outputs if o.kind == "twin"]
        key.extend([root.c.twin_id, *(edge.c.relationship_id for edge in hops)])
        unique_key = tuple({id(k): k for k in key}.values())
        return Plan(query, source, where, unique_key, outputs)

    def outputs(self) -> tuple[Output, ...]:
        projection = self.query.projection
        if isinstance(projection, CountAll):
            return ()
        if isinstance(projection, Star):
            aliases: list[str | None] = [self.query.alias]
            for join in self.query.joins:
                aliases.append(join.alias)
                if join.relationship_alias is not None:
                    aliases.append(join.relationship_alias)
        else:
            aliases = list(dict.fromkeys(item.path.alias for item in projection))
        return tuple(self.output(alias) for alias in aliases)

    def output(self, alias: str | None) -> Output:
        if alias in self.twin_tables:
            return Output(alias, "twin", self.twin_tables[alias])
        if alias is None:  # pragma: no cover - check_query rejects undeclared aliases
            raise KeyError(alias)
        return Output(alias, "relationship", self.relationship_tables[alias])

    # -- conditions ---------------------------------------------------------------------

    def expr(self, expr: Expr) -> Sql:
        match expr:
            case And(operands):
                return sa.and_(*(self.expr(o) for o in operands))
            case Or(operands):
                return sa.or_(*(self.expr(o) for o in operands))
            case Not(operand):
                return sa.not_(self.expr(operand))
            case Comparison(path, op, value):
                return self.comparison(path, op, value)
            case InList(path, values, negated):
                matched = self.in_list(path, values)
                return sa.not_(matched) if negated else matched
            case IsOfModel(alias, model, exact):
                return self.is_of_model(alias, model, exact)
            case TypeCheck(function, path):
                return self.type_check(function, path)
            case StringMatch(function, path, value):
                return self.string_match(function, path, value)
        raise TypeError(f"not a query expression: {expr!r}")  # pragma: no cover

    def column(self, path: PropertyPath) -> Sql | None:
        """The table column a system property maps to, or None for a JSON property."""
        if path.alias in self.twin_tables:
            name = _TWIN_COLUMNS.get(path.segments)
            return self.twin_tables[path.alias].c[name] if name else None
        name = _RELATIONSHIP_COLUMNS.get(path.segments)
        return self.relationship_tables[str(path.alias)].c[name] if name else None

    def document(self, path: PropertyPath) -> Sql:
        if path.alias in self.twin_tables:
            return self.twin_tables[path.alias].c.contents
        return self.relationship_tables[str(path.alias)].c.properties

    def comparison(self, path: PropertyPath, op: CompareOp, literal: Literal) -> Sql:
        value = literal.value
        column = self.column(path)
        if value is None:
            is_null = (
                sa.false()
                if column is not None
                else self.dialect.type_in(self.document(path), path.segments, [JsonKind.NULL])
            )
            return is_null if op is CompareOp.EQ else sa.not_(is_null)
        if column is not None:
            if not isinstance(value, str):
                return _UNDEFINED
            return _compare(self._text(column, op), op, sa.literal(value))
        doc, segments = self.document(path), path.segments
        if isinstance(value, bool):
            stored = self.dialect.value(doc, segments, JsonKind.BOOLEAN)
            return _compare(stored, op, sa.literal("true" if value else "false"))
        if isinstance(value, int | float):
            stored = self.dialect.value(doc, segments, JsonKind.NUMBER)
            return _compare(stored, op, self.dialect.number(value))
        stored = self._text(self.dialect.value(doc, segments, JsonKind.STRING), op)
        return _compare(stored, op, sa.literal(value))

    def _text(self, expr: Sql, op: CompareOp) -> Sql:
        # Collation only matters for ordering; leaving `=` alone keeps indexes usable.
        return self.dialect.ordered_text(expr) if op in _ORDERING else expr

    def in_list(self, path: PropertyPath, literals: tuple[Literal, ...]) -> Sql:
        """Matches any listed value; NULL (undefined) only when the property is missing."""
        strings = [v.value for v in literals if isinstance(v.value, str)]
        numbers = [
            v.value for v in literals if isinstance(v.value, int | float) and not _is_bool(v)
        ]
        booleans = ["true" if v.value else "false" for v in literals if _is_bool(v)]
        has_null = any(v.value is None for v in literals)
        column = self.column(path)
        if column is not None:
            return column.in_(strings) if strings else sa.false()
        doc, segments = self.document(path), path.segments
        dialect = self.dialect
        options: list[Sql] = []
        if strings:
            options.append(dialect.value(doc, segments, JsonKind.STRING).in_(strings))
        if numbers:
            stored = dialect.value(doc, segments, JsonKind.NUMBER)
            options.append(stored.in_([dialect.number(n) for n in numbers]))
        if booleans:
            options.append(dialect.value(doc, segments, JsonKind.BOOLEAN).in_(booleans))
        if has_null:
            options.append(dialect.type_in(doc, segments, [JsonKind.NULL]))
        matched = sa.func.coalesce(sa.or_(*options), sa.false()) if options else sa.false()
        defined = dialect.type_of(doc, segments).is_not(None)
        return sa.case((defined, matched), else_=_UNDEFINED)

    def is_of_model(self, alias: str | None, model: str, exact: bool) -> Sql:
        # Without an alias, check_query has made sure there is exactly one twin alias.
        table = self.twin_tables[alias] if alias is not None else self.only_twin_table()
        if exact:
            return table.c.model == model
        ancestors = model_ancestors.alias()
        subtypes = sa.select(ancestors.c.dtmi).where(
            ancestors.c.tenant == self.tenant, ancestors.c.ancestor == model
        )
        return table.c.model.in_(subtypes)

    def only_twin_table(self) -> FromClause:
        return next(iter(self.twin_tables.values()))

    def type_check(self, function: TypeFunction, path: PropertyPath) -> Sql:
        """Always true or false, never undefined, so NOT IS_DEFINED(x) finds missing x."""
        if self.column(path) is not None:
            return sa.true() if _COLUMN_TYPE_CHECK.get(function, False) else sa.false()
        doc, segments = self.document(path), path.segments
        if function is TypeFunction.IS_DEFINED:
            return self.dialect.type_of(doc, segments).is_not(None)
        matched = self.dialect.type_in(doc, segments, _TYPE_KINDS[function])
        return sa.func.coalesce(matched, sa.false())

    def string_match(self, function: StringFunction, path: PropertyPath, value: str) -> Sql:
        column = self.column(path)
        text = (
            column
            if column is not None
            else self.dialect.value(self.document(path), path.segments, JsonKind.STRING)
        )
        match function:
            case StringFunction.STARTSWITH:
                return self.dialect.starts_with(text, value)
            case StringFunction.ENDSWITH:
                return self.dialect.ends_with(text, value)
            case StringFunction.CONTAINS:
                return self.dialect.contains(text, value)


def _is_bool(literal: Literal) -> bool:
    return isinstance(literal.value, bool)


def _compare(left: Sql, op: CompareOp, right: Sql) -> Sql:
    match op:
        case CompareOp.EQ:
            return left == right
        case CompareOp.NE:
            return left != right
        case CompareOp.LT:
            return left < right
        case CompareOp.LE:
            return left <= right
        case CompareOp.GT:
            return left > right
        case CompareOp.GE:
            return left >= right
