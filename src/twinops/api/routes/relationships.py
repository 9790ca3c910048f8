"""/v1/twins/{id}/relationships: edges of the twin graph."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Response

from twinops.api.deps import Modeler, PlatformDep, Viewer, point_read
from twinops.api.routes.common import Cursor, Limit, page_body
from twinops.api.routes.twins import IfMatch, IfNoneMatch
from twinops.twins.representation import relationship_to_json

router = APIRouter(prefix="/v1/twins/{twin_id}/relationships", tags=["relationships"])

RelationshipBody = Annotated[
    dict[str, Any],
    Body(
        description="`$relationshipName`, `$targetId` and the relationship's properties",
        examples=[{"$relationshipName": "hasPump", "$targetId": "pump-01-01-01"}],
    ),
]


@router.get("", operation_id="relationships-list")
def list_relationships(
    platform: PlatformDep,
    caller: Viewer,
    twin_id: str,
    limit: Limit = 100,
    cursor: Cursor = None,
    name: str | None = None,
) -> Any:
    """Outgoing relationships of a twin, optionally of one name."""
    page = platform.twins.list_relationships(
        caller.tenant, twin_id, name=name, limit=limit, after=cursor
    )
    return page_body(page.items, page.next, relationship_to_json)


@router.put("/{relationship_id}", operation_id="relationships-put")
def put_relationship(
    platform: PlatformDep,
    caller: Modeler,
    twin_id: str,
    relationship_id: str,
    body: RelationshipBody,
    response: Response,
    if_match: IfMatch = None,
    if_none_match: IfNoneMatch = None,
) -> Any:
    """Create or replace a relationship, checked against the source twin's model."""
    rel, created = platform.twins.put_relationship(
        caller.tenant,
        twin_id,
        relationship_id,
        body,
        if_match=if_match,
        if_none_match=if_none_match,
        actor=caller.actor,
    )
    response.status_code = 201 if created else 200
    response.headers["ETag"] = rel.etag
    return relationship_to_json(rel)


@router.get("/{relationship_id}", operation_id="relationships-get")
async def get_relationship(
    platform: PlatformDep, caller: Viewer, twin_id: str, relationship_id: str, response: Response
) -> Any:
    """One relationship, with its ETag."""
    rel = await point_read(
        platform, platform.twins.get_relationship, caller.tenant, twin_id, relationship_id
    )
    response.headers["ETag"] = rel.etag
    return relationship_to_json(rel)


@router.delete("/{relationship_id}", status_code=204, operation_id="relationships-delete")
def delete_relationship(
    platform: PlatformDep,
    caller: Modeler,
    twin_id: str,
    relationship_id: str,
    if_match: IfMatch = None,
) -> Response:
    """Delete a relationship."""
    platform.twins.delete_relationship(
        caller.tenant, twin_id, relationship_id, if_match=if_match, actor=caller.actor
    )
    return Response(status_code=204)
