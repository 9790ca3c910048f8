"""Small helpers the routers share: pagination parameters and page bodies."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import Query, Response

from twinops.timeutil import parse_time

T = TypeVar("T")

Limit = Annotated[int, Query(ge=1, le=1000, description="page size")]
Cursor = Annotated[str | None, Query(max_length=2048, description="`next` from the previous page")]


def json_response(
    content: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A JSON response encoded by orjson, skipping FastAPI's generic encoder on hot paths."""
    return Response(
        orjson.dumps(content),
        status_code=status_code,
        headers=headers,
        media_type="application/json",
    )


def page_body(items: Iterable[T], next_cursor: str | None, render: Callable[[T], Any]) -> Any:
    """``{"data": [...], "next": cursor or null}``, the shape of every listing."""
    return {"data": [render(item) for item in items], "next": next_cursor}


def query_time(value: str, name: str) -> int:
    """A time query parameter (RFC 3339 or epoch seconds) as epoch microseconds."""
    number: Any
    try:
        number = float(value)
    except ValueError:
        number = value
    return parse_time(number, name)


def optional_time(value: str | None, name: str) -> int | None:
    """An optional time query parameter, None when absent."""
    return None if value is None else query_time(value, name)
