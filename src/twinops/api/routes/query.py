"""/v1/query: the twin-graph query language (an ADT-compatible subset, unlimited JOINs)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from twinops.api.deps import PlatformDep, Viewer
from twinops.api.routes.common import json_response

router = APIRouter(prefix="/v1", tags=["query"])


class QueryRequest(BaseModel):
    """A query text, and the token of the previous page when continuing."""

    query: str = Field(min_length=1, max_length=8000, examples=["SELECT T FROM DIGITALTWINS T"])
    continuationToken: str | None = Field(default=None, max_length=4096)
    pageSize: int | None = Field(default=None, ge=1, le=10_000)


@router.post("/query", operation_id="query-run")
def run_query(platform: PlatformDep, caller: Viewer, body: QueryRequest) -> Any:
    """Run a query; answers ``{"value": [...], "continuationToken": ... or null}``."""
    settings = platform.settings
    page = platform.twins.query(
        caller.tenant,
        body.query,
        page_size=body.pageSize or settings.query_page_size,
        continuation=body.continuationToken,
        max_joins=settings.max_query_joins,
    )
    return json_response({"value": page.items, "continuationToken": page.next})
