"""Query text to syntax tree: lark (LALR) for the grammar, then alias binding and checks."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from twinops.errors import InvalidInput, MalformedInput, Violation
from twinops.twins.query.ast import (
    And,
    CompareOp,
    Comparison,
    CountAll,
    Expr,
    InList,
    IsOfModel,
    Join,
    Literal,
    Not,
    Or,
    Projection,
    PropertyPath,
    Query,
    SelectItem,
    Star,
    StringFunction,
    StringMatch,
    TypeCheck,
    TypeFunction,
)
from twinops.twins.query.checks import QueryLimits, check_query, check_size

_FIELD = "query"
_ESCAPES = {
    "\\": "\\",
    "'": "'",
    '"': '"',
    "/": "/",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
}
_HEX4 = re.compile(r"[0-9A-Fa-f]{4}")
# The contextual lexer reads a keyword as a name where no keyword fits (so `T.contains`
# works); aliases and path heads must still not be keywords, or `SELECT FROM X` misleads.
RESERVED = frozenset({
    "select", "top", "count", "as", "from", "digitaltwins", "join", "related", "where",
    "and", "or", "not", "in", "nin", "is_of_model", "exact", "true", "false", "null",
    "is_defined", "is_null", "is_bool", "is_number", "is_string", "is_object",
    "is_primitive", "startswith", "endswith", "contains",
})  # fmt: skip

# How each terminal reads in "expected ..." messages.
_TERMINAL_NAMES = {
    "LPAR": "'('",
    "RPAR": "')'",
    "LSQB": "'['",
    "RSQB": "']'",
    "COMMA": "','",
    "DOT": "'.'",
    "STAR": "'*'",
    "NAME": "a name",
    "SYSTEM_NAME": "a $-property",
    "STRING": "a string",
    "NUMBER": "a number",
    "COMPARE": "a comparison operator",
    "TYPE_FUNCTION": "IS_DEFINED/IS_NULL/IS_BOOL/IS_NUMBER/IS_STRING/IS_OBJECT/IS_PRIMITIVE",
    "STRING_FUNCTION": "STARTSWITH/ENDSWITH/CONTAINS",
    "$END": "the end of the query",
}


def parse_query(text: str, *, limits: QueryLimits | None = None) -> Query:
    """Parse and check a query; MalformedInput for bad syntax, InvalidInput for bad meaning."""
    limits = limits or QueryLimits()
    if len(text) > limits.max_length:
        raise InvalidInput.single(
            _FIELD,
            "maxLength",
            f"the query is {len(text)} characters long; the limit is {limits.max_length}",
        )
    try:
        raw = _parser().parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(exc, text) from None
    if not isinstance(raw, Query):  # pragma: no cover - the grammar's start rule builds a Query
        raise _malformed("syntax", "the text is not a query", text)
    check_size(raw, limits)
    query = _bind_aliases(raw)
    check_query(query, limits)
    return query


@cache
def _parser() -> Lark:
    grammar = (Path(__file__).parent / "grammar.lark").read_text(encoding="utf-8")
    # The builder runs while LALR reduces, so deep nesting never recurses in Python.
    return Lark(grammar, parser="lalr", transformer=_Builder(), maybe_placeholders=False)


def _syntax_error(exc: UnexpectedInput, text: str) -> MalformedInput:
    line, column = exc.line, exc.column
    if isinstance(exc, UnexpectedEOF) or (
        isinstance(exc, UnexpectedToken) and exc.token.type == "$END"
    ):
        # Lark places the end at the last token; the reader wants where the text stops.
        line = text.count("\n") + 1
        column = len(text) - (text.rfind("\n") + 1) + 1
    if isinstance(exc, UnexpectedCharacters):
        found = f"unexpected character {exc.char!r}"
        expected = _describe(exc.allowed or set())
        value: str = exc.char
    elif isinstance(exc, UnexpectedToken):
        token = exc.token
        if token.type == "$END":
            found, value = "unexpected end of the query", ""
        else:
            found, value = f"unexpected {str(token)!r}", str(token)
        expected = _describe(exc.expected)
    elif isinstance(exc, UnexpectedEOF):
        found, value = "unexpected end of the query", ""
        expected = _describe(set(exc.expected))
    else:  # pragma: no cover - lark raises only the three kinds above
        found, value, expected = "syntax error", "", ""
    message = f"line {line}, column {column}: {found}" + (
        f"; expected {expected}" if expected else ""
    )
    return _malformed("syntax", message, value)


def _describe(terminals: set[str] | frozenset[str]) -> str:
    names = sorted({_TERMINAL_NAMES.get(t, t.lstrip("_")) for t in terminals})
    return ", ".join(names)


def _bind_aliases(query: Query) -> Query:
    """Read each path's first name as its alias, but only when FROM declares one."""
    if query.alias is None:
        return query

    def bind(path: PropertyPath) -> PropertyPath:
        head, *rest = path.segments
        return PropertyPath(head, tuple(rest))

    projection: Projection = query.projection
    if isinstance(projection, tuple):
        projection = tuple(SelectItem(bind(i.path), i.name) for i in projection)
    where = _map_paths(query.where, bind) if query.where is not None else None
    return Query(projection, query.alias, query.joins, where, query.top)


def _map_paths(expr: Expr, bind: Any) -> Expr:
    # Depth is bounded later by check_query; the grammar keeps AND/OR chains flat.
    match expr:
        case Comparison(path, op, value):
            return Comparison(bind(path), op, value)
        case InList(path, values, negated):
            return InList(bind(path), values, negated)
        case TypeCheck(function, path):
            return TypeCheck(function, bind(path))
        case StringMatch(function, path, value):
            return StringMatch(function, bind(path), value)
        case And(operands):
            return And(tuple(_map_paths(o, bind) for o in operands))
        case Or(operands):
            return Or(tuple(_map_paths(o, bind) for o in operands))
        case Not(operand):
            return Not(_map_paths(operand, bind))
        case _:
            return expr


def _decode_string(token: Token) -> str:
    body = str(token)[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char != "\\":
            out.append(char)
            i += 1
            continue
        escape = body[i + 1]
        if escape in _ESCAPES:
            out.append(_ESCAPES[escape])
            i += 2
        elif escape == "u" and _HEX4.fullmatch(body[i + 2 : i + 6]):
            code = int(body[i + 2 : i + 6], 16)
            if 0xD800 <= code <= 0xDFFF:
                raise _token_error(token, "invalidEscape", "surrogate escapes are not allowed")
            out.append(chr(code))
            i += 6
        else:
            raise _token_error(token, "invalidEscape", f"unknown escape '\\{escape}' in string")
    return "".join(out)


def _token_error(token: Token, rule: str, message: str) -> MalformedInput:
    return _malformed(rule, f"line {token.line}, column {token.column}: {message}", str(token))


def _malformed(rule: str, message: str, value: str) -> MalformedInput:
    # InvalidInput.single is typed to return the base class, so build the subclass directly.
    return MalformedInput(f"{_FIELD}: {message}", [Violation(_FIELD, rule, message, value)])


def _not_reserved(token: Token) -> str:
    if str(token).lower() in RESERVED:
        raise _malformed(
            "reservedWord",
            f"line {token.line}, column {token.column}: '{token}' is a reserved word; "
            "it cannot name an alias or start a property path",
            str(token),
        )
    return str(token)


def _number(token: Token) -> int | float:
    text = str(token)
    if any(c in text for c in ".eE"):
        return float(text)
    return int(text)


class _Builder(Transformer[Token, Any]):
    """Turns parse-tree nodes into AST values as the parser reduces them."""

    def start(self, children: list[Any]) -> Query:
        (projection, top), alias, *rest = children
        joins = tuple(c for c in rest if isinstance(c, Join))
        where = next((c for c in rest if not isinstance(c, Join)), None)
        return Query(projection, alias, joins, where, top)

    def select_clause(self, children: list[Any]) -> tuple[Projection, int | None]:
        if len(children) == 2:
            return children[1], children[0]
        return children[0], None

    def top_clause(self, children: list[Token]) -> int:
        value = _number(children[0])
        if not isinstance(value, int) or value < 1:
            raise InvalidInput.single(
                _FIELD, "topOutOfRange", "TOP takes a whole number of at least 1", str(children[0])
            )
        return value

    def star(self, _children: list[Any]) -> Star:
        return Star()

    def count(self, _children: list[Any]) -> CountAll:
        return CountAll()

    def items(self, children: list[SelectItem]) -> tuple[SelectItem, ...]:
        return tuple(children)

    def select_item(self, children: list[Any]) -> SelectItem:
        name = str(children[1]) if len(children) > 1 else None
        return SelectItem(children[0], name)

    def from_clause(self, children: list[Token]) -> str | None:
        return _not_reserved(children[0]) if children else None

    def join_clause(self, children: list[Token]) -> Join:
        alias, source, relationship, *rel_alias = children
        return Join(
            _not_reserved(alias),
            str(source),
            str(relationship),
            _not_reserved(rel_alias[0]) if rel_alias else None,
        )

    def where_clause(self, children: list[Expr]) -> Expr:
        return children[0]

    def or_expr(self, children: list[Expr]) -> Or:
        return Or(tuple(children))

    def and_expr(self, children: list[Expr]) -> And:
        return And(tuple(children))

    def negation(self, children: list[Expr]) -> Not:
        return Not(children[0])

    def comparison(self, children: list[Any]) -> Comparison:
        left, op_token, right = children
        op = CompareOp.NE if str(op_token) == "<>" else CompareOp(str(op_token))
        if isinstance(left, PropertyPath) and isinstance(right, Literal):
            return Comparison(left, op, right)
        if isinstance(left, Literal) and isinstance(right, PropertyPath):
            return Comparison(right, op.flipped(), left)
        raise InvalidInput.single(
            _FIELD,
            "unsupportedComparison",
            f"line {op_token.line}, column {op_token.column}: "
            "a comparison needs one property and one constant",
        )

    def in_list(self, children: list[Any]) -> InList:
        return InList(children[0], children[1], negated=False)

    def nin_list(self, children: list[Any]) -> InList:
        return InList(children[0], children[1], negated=True)

    def value_list(self, children: list[Literal]) -> tuple[Literal, ...]:
        return tuple(children)

    def is_of_model(self, children: list[Token]) -> IsOfModel:
        alias = _not_reserved(children[0]) if children[0].type == "NAME" else None
        model_token = next(c for c in children if c.type == "STRING")
        exact = children[-1].type == "EXACT"
        return IsOfModel(alias, _decode_string(model_token), exact)

    def type_check(self, children: list[Any]) -> TypeCheck:
        return TypeCheck(TypeFunction(str(children[0]).upper()), children[1])

    def string_match(self, children: list[Any]) -> StringMatch:
        function = StringFunction(str(children[0]).upper())
        return StringMatch(function, children[1], _decode_string(children[2]))

    def path(self, children: list[Token]) -> PropertyPath:
        # Aliases are bound later, once the FROM clause is known.
        head, *rest = children
        return PropertyPath(None, (_not_reserved(head), *(str(c) for c in rest)))

    def literal(self, children: list[Token]) -> Literal:
        token = children[0]
        match token.type:
            case "STRING":
                return Literal(_decode_string(token))
            case "NUMBER":
                return Literal(_number(token))
            case "TRUE":
                return Literal(True)
            case "FALSE":
                return Literal(False)
            case _:
                return Literal(None)
