"""Syntax tree to query text: the canonical form, which parses back to the same tree."""

from __future__ import annotations

from twinops.twins.query.ast import (
    And,
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
    Star,
    StringMatch,
    TypeCheck,
)


def render(query: Query) -> str:
    """The query as canonical text (upper-case keywords, single-quoted strings)."""
    parts = ["SELECT"]
    if query.top is not None:
        parts.append(f"TOP({query.top})")
    projection = query.projection
    if isinstance(projection, Star):
        parts.append("*")
    elif isinstance(projection, CountAll):
        parts.append("COUNT()")
    else:
        parts.append(", ".join(_item(i) for i in projection))
    parts.append("FROM DIGITALTWINS")
    if query.alias is not None:
        parts.append(query.alias)
    for join in query.joins:
        parts.append(f"JOIN {join.alias} RELATED {join.source}.{join.relationship}")
        if join.relationship_alias is not None:
            parts.append(join.relationship_alias)
    if query.where is not None:
        parts.append("WHERE " + render_expr(query.where))
    return " ".join(parts)


def render_expr(expr: Expr) -> str:
    """One condition as text; nested AND/OR/NOT operands are parenthesised."""
    match expr:
        case Comparison(path, op, value):
            return f"{_path(path)} {op.value} {render_literal(value)}"
        case InList(path, values, negated):
            listed = ", ".join(render_literal(v) for v in values)
            return f"{_path(path)} {'NIN' if negated else 'IN'} [{listed}]"
        case IsOfModel(alias, model, exact):
            args = ([alias] if alias is not None else []) + [_string(model)]
            if exact:
                args.append("exact")
            return f"IS_OF_MODEL({', '.join(args)})"
        case TypeCheck(function, path):
            return f"{function.value}({_path(path)})"
        case StringMatch(function, path, value):
            return f"{function.value}({_path(path)}, {_string(value)})"
        case And(operands):
            return " AND ".join(_operand(o) for o in operands)
        case Or(operands):
            return " OR ".join(_operand(o) for o in operands)
        case Not(operand):
            return f"NOT {_operand(operand)}"
    raise TypeError(f"not a query expression: {expr!r}")  # pragma: no cover


def render_literal(literal: Literal) -> str:
    """A constant as the grammar spells it."""
    value = literal.value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return _string(value)


def _operand(expr: Expr) -> str:
    text = render_expr(expr)
    return f"({text})" if isinstance(expr, And | Or | Not) else text


def _item(item: SelectItem) -> str:
    text = _path(item.path)
    return f"{text} AS {item.name}" if item.name is not None else text


def _path(path: PropertyPath) -> str:
    names = [path.alias, *path.segments] if path.alias is not None else list(path.segments)
    return ".".join(names)


def _string(value: str) -> str:
    out = []
    for char in value:
        if char in "\\'":
            out.append("\\" + char)
        elif char < " " or char == "\x7f":
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return "'" + "".join(out) + "'"
