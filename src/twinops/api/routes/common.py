"""Small helpers the routers share: pagination parameters and page bodies."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated, Any, TypeVar

from fastapi import Query

T = TypeVar("T")

Limit = Annotated[int, Query(ge=1, le=1000, description="page size")]
Cursor = Annotated[str | None, Query(max_length=2048, description="`next` from the previous page")]


def page_body(items: Iterable[T], next_cursor: str | None, render: Callable[[T], Any]) -> Any:
    """``{"data": [...], "next": cursor or null}``, the shape of every listing."""
    return {"data": [render(item) for item in items], "next": next_cursor}
