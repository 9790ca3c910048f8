"""/v1/twins: create, read, replace, patch and delete twins; bulk import."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Response

from twinops.api.deps import Modeler, PlatformDep, Viewer, point_read
from twinops.api.routes.common import Cursor, Limit, json_response, page_body
from twinops.errors import PayloadTooLarge
from twinops.twins.representation import relationship_to_json, twin_to_json

router = APIRouter(prefix="/v1", tags=["twins"])

TwinBody = Annotated[
    dict[str, Any],
    Body(
        description="`$metadata.$model` plus property and component values, as in ADT",
        examples=[{"$metadata": {"$model": "dtmi:twinops:example:Pump;1"}, "ratedFlow": 120.0}],
    ),
]
PatchBody = Annotated[
    list[dict[str, Any]],
    Body(
        description="an RFC 6902 JSON Patch",
        examples=[[{"op": "replace", "path": "/ratedFlow", "value": 150.0}]],
    ),
]
IfMatch = Annotated[str | None, Header(alias="If-Match")]
IfNoneMatch = Annotated[str | None, Header(alias="If-None-Match")]


@router.get("/twins", operation_id="twins-list")
def list_twins(
    platform: PlatformDep,
    caller: Viewer,
    limit: Limit = 100,
    cursor: Cursor = None,
    model: str | None = None,
) -> Any:
    """Twins ordered by id, optionally of one exact model."""
    page = platform.twins.list_twins(caller.tenant, model=model, limit=limit, after=cursor)
    return json_response(page_body(page.items, page.next, twin_to_json))


@router.get("/twins/{twin_id}", operation_id="twins-get")
async def get_twin(platform: PlatformDep, caller: Viewer, twin_id: str) -> Any:
    """One twin, with its ETag."""
    twin = await point_read(platform, platform.twins.get, caller.tenant, twin_id)
    return json_response(twin_to_json(twin), headers={"ETag": twin.etag})


@router.put("/twins/{twin_id}", operation_id="twins-put")
def put_twin(
    platform: PlatformDep,
    caller: Modeler,
    twin_id: str,
    body: TwinBody,
    response: Response,
    if_match: IfMatch = None,
    if_none_match: IfNoneMatch = None,
) -> Any:
    """Create or replace a twin (201 when created); ``If-None-Match: *`` only creates."""
    twin, created = platform.twins.put(
        caller.tenant,
        twin_id,
        body,
        if_match=if_match,
        if_none_match=if_none_match,
        actor=caller.actor,
    )
    response.status_code = 201 if created else 200
    response.headers["ETag"] = twin.etag
    return twin_to_json(twin)


@router.patch("/twins/{twin_id}", operation_id="twins-patch")
def patch_twin(
    platform: PlatformDep,
    caller: Modeler,
    twin_id: str,
    body: PatchBody,
    response: Response,
    if_match: IfMatch = None,
) -> Any:
    """Apply a JSON Patch to a twin's properties; the result is checked against its model."""
    twin = platform.twins.patch(caller.tenant, twin_id, body, if_match=if_match, actor=caller.actor)
    response.headers["ETag"] = twin.etag
    return twin_to_json(twin)


@router.delete("/twins/{twin_id}", status_code=204, operation_id="twins-delete")
def delete_twin(
    platform: PlatformDep, caller: Modeler, twin_id: str, if_match: IfMatch = None
) -> Response:
    """Delete a twin that has no relationships."""
    platform.twins.delete(caller.tenant, twin_id, if_match=if_match, actor=caller.actor)
    return Response(status_code=204)


ImportBody = Annotated[
    dict[str, list[dict[str, Any]]],
    Body(description='`{"twins": [...], "relationships": [...]}`, all created or none'),
]


@router.post("/import", status_code=201, operation_id="twins-import")
def import_graph(platform: PlatformDep, caller: Modeler, body: ImportBody) -> Any:
    """Create many twins and relationships in one transaction (all are checked first)."""
    size = len(body.get("twins", [])) + len(body.get("relationships", []))
    if size > platform.settings.max_batch_items:
        raise PayloadTooLarge(
            f"{size} items in one import; the limit is {platform.settings.max_batch_items},"
            " split it into several"
        )
    result = platform.twins.import_graph(
        caller.tenant,
        body.get("twins", []),
        body.get("relationships", []),
        actor=caller.actor,
    )
    return {"twins": result.twins, "relationships": result.relationships}


@router.get("/twins/{twin_id}/incomingrelationships", operation_id="relationships-incoming")
def list_incoming(
    platform: PlatformDep,
    caller: Viewer,
    twin_id: str,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Any:
    """Relationships that point at this twin."""
    page = platform.twins.list_incoming(caller.tenant, twin_id, limit=limit, after=cursor)
    return page_body(page.items, page.next, relationship_to_json)
