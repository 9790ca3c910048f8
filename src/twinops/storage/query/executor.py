"""Running a query: parse or check, compile, page with a keyset, shape items as ADT does."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from twinops.errors import InvalidInput
from twinops.storage.query.compiler import Output, Plan, compile_query
from twinops.storage.query.dialect import dialect_for
from twinops.twins.entities import Relationship, Twin
from twinops.twins.query.ast import CountAll, Query, Star
from twinops.twins.query.checks import QueryLimits, check_query
from twinops.twins.query.parser import parse_query
from twinops.twins.query.render import render
from twinops.twins.representation import relationship_to_json, twin_to_json

_TOKEN_VERSION = 1
_MISSING = object()


@dataclass(frozen=True)
class QueryResult:
    """One page of results and the token for the next page (None on the last page)."""

    items: list[dict[str, Any]]
    continuation: str | None


def prepare(
    text_or_ast: str | Query,
    *,
    max_joins: int | None = None,
    limits: QueryLimits | None = None,
) -> Query:
    """Parse text, or check a ready-made tree, under ``limits`` (``max_joins`` overrides)."""
    limits = limits or QueryLimits()
    if max_joins is not None:
        limits = replace(limits, max_joins=max_joins)
    if isinstance(text_or_ast, str):
        return parse_query(text_or_ast, limits=limits)
    check_query(text_or_ast, limits)
    return text_or_ast


def run_query(
    conn: Connection,
    tenant: str,
    text_or_ast: str | Query,
    *,
    page_size: int = 1000,
    continuation: str | None = None,
    max_joins: int | None = None,
    limits: QueryLimits | None = None,
) -> QueryResult:
    """Run a query for ``tenant`` and return one page of ADT-shaped items."""
    if page_size < 1:
        raise InvalidInput.single("page_size", "range", "page_size must be at least 1", page_size)
    limits = limits or QueryLimits()
    query = prepare(text_or_ast, max_joins=max_joins, limits=limits)
    dialect = dialect_for(conn.dialect.name)
    plan = compile_query(query, tenant, dialect)
    if isinstance(query.projection, CountAll):
        with dialect.time_limit(conn, limits.timeout_ms):
            count = conn.execute(plan.count()).scalar_one()
        return QueryResult([{"COUNT": int(count)}], None)
    fingerprint = _fingerprint(tenant, query)
    after, returned = (
        _decode_token(continuation, fingerprint, len(plan.key))
        if continuation is not None
        else (None, 0)
    )
    limit = page_size
    if query.top is not None:
        limit = min(limit, query.top - returned)
        if limit <= 0:
            return QueryResult([], None)
    statement = plan.rows()
    if after is not None:
        statement = statement.where(sa.tuple_(*plan.key) > sa.tuple_(*after))
    # One extra row tells whether another page exists without a second query.
    statement = statement.order_by(*plan.key).limit(limit + 1)
    with dialect.time_limit(conn, limits.timeout_ms):
        rows = conn.execute(statement).mappings().all()
    page, more = rows[:limit], len(rows) > limit
    items = [_item(query, plan, row) for row in page]
    returned += len(page)
    if query.top is not None and returned >= query.top:
        more = False
    token = None
    if more and page:
        last = [page[-1][f"k{i}"] for i in range(len(plan.key))]
        token = _encode_token(fingerprint, last, returned)
    return QueryResult(items, token)


def explain(text_or_ast: str | Query, *, dialect: str = "sqlite", tenant: str = "tenant") -> str:
    """The SQL a query runs as on ``dialect``, constants inlined, for debugging."""
    query = prepare(text_or_ast)
    plan = compile_query(query, tenant, dialect)
    if isinstance(query.projection, CountAll):
        statement = plan.count()
    else:
        statement = plan.rows().order_by(*plan.key)
    url = "postgresql+psycopg://" if dialect == "postgresql" else "sqlite://"
    # A mock engine gives the dialect's compiler without connecting to anything.
    target = sa.create_mock_engine(url, lambda *_args, **_kwargs: None).dialect
    compiled = statement.compile(dialect=target, compile_kwargs={"literal_binds": True})
    return str(compiled)


# -- result shaping ---------------------------------------------------------------------


def _item(query: Query, plan: Plan, row: Mapping[Any, Any]) -> dict[str, Any]:
    entities = {o.alias: _entity(o, index, row) for index, o in enumerate(plan.outputs)}
    if isinstance(query.projection, Star):
        if len(plan.outputs) == 1:
            return entities[query.alias]
        return {str(alias): value for alias, value in entities.items()}
    projection = query.projection
    if not isinstance(projection, tuple):  # pragma: no cover - COUNT() is answered earlier
        return {}
    if (
        len(projection) == 1
        and not projection[0].path.segments
        and projection[0].name is None
        and not query.joins
    ):
        return entities[projection[0].path.alias]
    item: dict[str, Any] = {}
    for select in projection:
        value = _walk(entities[select.path.alias], select.path.segments)
        # ADT leaves an undefined property out of the item rather than writing null.
        if value is not _MISSING:
            item[select.key] = value
    return item


def _entity(output: Output, index: int, row: Mapping[Any, Any]) -> dict[str, Any]:
    prefix = f"a{index}_"
    values = {name[len(prefix) :]: v for name, v in row.items() if name.startswith(prefix)}
    values.pop("tenant", None)
    tenant = str(row.get(f"{prefix}tenant", ""))
    if output.kind == "twin":
        return twin_to_json(Twin(tenant=tenant, **values))
    return relationship_to_json(Relationship(tenant=tenant, **values))


def _walk(value: Any, segments: Sequence[str]) -> Any:
    for name in segments:
        if not isinstance(value, dict) or name not in value:
            return _MISSING
        value = value[name]
    return value


# -- continuation tokens ----------------------------------------------------------------


def _fingerprint(tenant: str, query: Query) -> str:
    # Ties a token to the query and tenant it was issued for.
    digest = hashlib.sha256(f"{tenant}\x00{render(query)}".encode()).hexdigest()
    return digest[:24]


def _encode_token(fingerprint: str, key: list[Any], returned: int) -> str:
    body = {"v": _TOKEN_VERSION, "q": fingerprint, "k": key, "n": returned}
    raw = json.dumps(body, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode_token(token: str, fingerprint: str, key_length: int) -> tuple[list[str], int]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        body = json.loads(raw)
        key, returned = body["k"], body["n"]
        valid = (
            body["v"] == _TOKEN_VERSION
            and isinstance(key, list)
            and len(key) == key_length
            and all(isinstance(k, str) for k in key)
            and isinstance(returned, int)
            and returned >= 0
        )
    except (ValueError, binascii.Error, KeyError, TypeError, UnicodeDecodeError):
        valid = False
    if not valid:
        raise InvalidInput.single(
            "continuation", "invalidContinuation", "the continuation token is not valid"
        )
    if body["q"] != fingerprint:
        raise InvalidInput.single(
            "continuation",
            "continuationMismatch",
            "the continuation token belongs to a different query",
        )
    return key, returned
