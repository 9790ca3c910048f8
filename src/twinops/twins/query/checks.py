"""Semantic checks and abuse limits, applied to every query before it is compiled."""

from __future__ import annotations

import math
from dataclasses import dataclass

from twinops.errors import InvalidInput
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
    SelectItem,
    StringMatch,
    TypeCheck,
)

_FIELD = "query"
_INT64 = (-(2**63), 2**63 - 1)
TWIN_SYSTEM_PATHS = {("$dtId",), ("$etag",), ("$metadata", "$model")}
RELATIONSHIP_SYSTEM_PATHS = {
    ("$relationshipId",),
    ("$sourceId",),
    ("$targetId",),
    ("$relationshipName",),
    ("$etag",),
}
_ORDERED_OPS = {CompareOp.LT, CompareOp.LE, CompareOp.GT, CompareOp.GE}


@dataclass(frozen=True)
class QueryLimits:
    """Bounds that keep one query from monopolising the database."""

    max_length: int = 8000
    max_joins: int = 20
    max_in_values: int = 500
    max_depth: int = 32
    # SQLite refuses expression trees deeper than 1000; each condition costs a few levels.
    max_conditions: int = 200
    # Stops a runaway plan (e.g. on tables PostgreSQL has not analysed yet).
    timeout_ms: int = 30_000


@dataclass(frozen=True)
class Scope:
    """The aliases a query declares: twins (FROM and JOIN) and relationships."""

    implicit: bool
    twins: tuple[str, ...]
    relationships: tuple[str, ...]

    def kind(self, alias: str | None) -> str | None:
        """``"twin"``, ``"relationship"`` or None for an alias this query does not declare."""
        if alias is None:
            return "twin" if self.implicit else None
        if alias in self.twins:
            return "twin"
        if alias in self.relationships:
            return "relationship"
        return None


def _error(rule: str, message: str, value: object = None) -> InvalidInput:
    if value is None:
        return InvalidInput.single(_FIELD, rule, message)
    return InvalidInput.single(_FIELD, rule, message, value)


def scope_of(query: Query) -> Scope:
    """Check the FROM and JOIN aliases and return them."""
    declared: list[str] = [] if query.alias is None else [query.alias]
    twins = list(declared)
    relationships: list[str] = []
    for join in query.joins:
        if join.source not in twins:
            rule = "notATwinAlias" if join.source in relationships else "unknownAlias"
            raise _error(
                rule,
                f"JOIN {join.alias} RELATED {join.source}.{join.relationship}: "
                f"'{join.source}' is not a twin alias declared before this JOIN",
                join.source,
            )
        for alias in (join.alias, join.relationship_alias):
            if alias is None:
                continue
            if alias in declared:
                raise _error("duplicateAlias", f"the alias '{alias}' is declared twice", alias)
            declared.append(alias)
        twins.append(join.alias)
        if join.relationship_alias is not None:
            relationships.append(join.relationship_alias)
    return Scope(query.alias is None, tuple(twins), tuple(relationships))


def check_query(query: Query, limits: QueryLimits) -> Scope:
    """Raise InvalidInput when the query breaks a rule or a limit; return its aliases."""
    check_size(query, limits)
    scope = scope_of(query)
    if query.top is not None and query.top < 1:
        raise _error("topOutOfRange", "TOP takes a whole number of at least 1", query.top)
    if isinstance(query.projection, CountAll) and query.top is not None:
        raise _error("topWithCount", "COUNT() counts every match and cannot be combined with TOP")
    if isinstance(query.projection, tuple):
        _check_projection(query.projection, scope)
    if query.where is not None:
        for condition in _conditions(query.where, limits):
            _check_condition(condition, scope, limits)
    return scope


def _check_projection(items: tuple[SelectItem, ...], scope: Scope) -> None:
    if not items:
        raise _error("emptyProjection", "SELECT needs at least one item")
    keys: set[str] = set()
    for item in items:
        path = item.path
        kind = _check_alias(path, scope)
        if not path.segments and path.alias is None:
            raise _error("propertyRequired", "a SELECT item needs an alias or a property")
        if path.segments:
            _check_system(path, kind, projection=True)
        if item.key in keys:
            raise _error(
                "duplicateProjection",
                f"two SELECT items are both named '{item.key}'; rename one with AS",
                item.key,
            )
        keys.add(item.key)


def _check_alias(path: PropertyPath, scope: Scope) -> str:
    kind = scope.kind(path.alias)
    if kind is None:
        if path.alias is None:
            raise _error("unknownAlias", "a property path must start with a declared alias")
        raise _error(
            "unknownAlias",
            f"'{path.alias}' is not an alias declared in FROM or JOIN",
            path.alias,
        )
    return kind


def _display(path: PropertyPath) -> str:
    return ".".join([path.alias, *path.segments] if path.alias else path.segments)


def _check_system(path: PropertyPath, kind: str, *, projection: bool = False) -> None:
    segments = path.segments
    if not any(s.startswith("$") for s in segments):
        return
    allowed = TWIN_SYSTEM_PATHS if kind == "twin" else RELATIONSHIP_SYSTEM_PATHS
    if segments in allowed:
        return
    # A projection may return the whole metadata object or any part of it.
    if projection and kind == "twin" and segments[0] == "$metadata":
        return
    names = ", ".join(".".join(p) for p in sorted(allowed))
    raise _error(
        "unknownSystemProperty",
        f"'{_display(path)}' is not a property the query language knows; use {names}",
        _display(path),
    )


def _check_property(path: PropertyPath, scope: Scope) -> None:
    kind = _check_alias(path, scope)
    if not path.segments:
        raise _error(
            "propertyRequired",
            f"'{_display(path) or path.alias}' is an alias; name one of its properties",
            path.alias,
        )
    _check_system(path, kind)


def _check_literal(literal: Literal) -> None:
    value = literal.value
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int):
        if not _INT64[0] <= value <= _INT64[1]:
            raise _error("numberOutOfRange", "integers must fit in 64 bits", value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise _error("numberOutOfRange", "numbers must be finite", str(value))
    else:
        _check_text(value)


def _check_text(value: str) -> None:
    # PostgreSQL text cannot hold NUL, and no twin property can contain one either.
    if "\x00" in value:
        raise _error("invalidString", "strings cannot contain the NUL character")


def check_size(query: Query, limits: QueryLimits) -> None:
    """Bound JOINs, nesting and conditions; iterative, so it is safe before any recursion."""
    if len(query.joins) > limits.max_joins:
        raise _error(
            "maxJoins",
            f"the query has {len(query.joins)} JOINs; the limit is {limits.max_joins}",
            len(query.joins),
        )
    if query.where is not None:
        _conditions(query.where, limits)


def _conditions(root: Expr, limits: QueryLimits) -> list[Expr]:
    stack: list[tuple[Expr, int]] = [(root, 1)]
    leaves: list[Expr] = []
    while stack:
        expr, depth = stack.pop()
        if depth > limits.max_depth:
            raise _error(
                "maxDepth", f"the WHERE clause nests deeper than {limits.max_depth} levels"
            )
        match expr:
            case And(operands) | Or(operands):
                stack.extend((o, depth + 1) for o in operands)
            case Not(operand):
                stack.append((operand, depth + 1))
            case _:
                leaves.append(expr)
                if len(leaves) > limits.max_conditions:
                    raise _error(
                        "maxConditions",
                        f"the WHERE clause has more than {limits.max_conditions} conditions",
                    )
    return leaves


def _check_condition(expr: Expr, scope: Scope, limits: QueryLimits) -> None:
    match expr:
        case Comparison(path, op, value):
            _check_property(path, scope)
            _check_literal(value)
            if op in _ORDERED_OPS and (isinstance(value.value, bool) or value.value is None):
                raise _error(
                    "unsupportedComparison",
                    f"'{op.value}' orders numbers and strings; it cannot compare with "
                    f"{'null' if value.value is None else 'true/false'}",
                )
        case InList(path, values):
            _check_property(path, scope)
            if len(values) > limits.max_in_values:
                raise _error(
                    "maxInValues",
                    f"the IN list has {len(values)} values; the limit is {limits.max_in_values}",
                    len(values),
                )
            for literal in values:
                _check_literal(literal)
        case TypeCheck(_, path):
            _check_property(path, scope)
        case StringMatch(_, path, value):
            _check_property(path, scope)
            _check_text(value)
        case IsOfModel(alias, model, _):
            _check_text(model)
            if alias is None:
                if len(scope.twins) + (1 if scope.implicit else 0) != 1:
                    raise _error(
                        "ambiguousAlias",
                        "IS_OF_MODEL without an alias needs a query with exactly one twin "
                        "alias; name the alias: IS_OF_MODEL(T, '...')",
                    )
            elif scope.kind(alias) != "twin":
                rule = "notATwinAlias" if scope.kind(alias) == "relationship" else "unknownAlias"
                raise _error(
                    rule, f"IS_OF_MODEL: '{alias}' is not a twin alias of this query", alias
                )
