"""/v1/externalids: map a source system's ids onto twins, for ingestion."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from twinops.api.deps import Modeler, PlatformDep, Viewer
from twinops.timeutil import format_rfc3339
from twinops.twins.entities import ExternalId

router = APIRouter(prefix="/v1", tags=["externalids"])


class ExternalIdMapping(BaseModel):
    """The twin a source system's id maps to."""

    twin: str = Field(min_length=1, max_length=128)


def mapping_to_json(mapping: ExternalId) -> dict[str, Any]:
    """A mapping as the API shows it."""
    return {
        "sourceSystem": mapping.source_system,
        "sourceId": mapping.source_id,
        "twin": mapping.twin_id,
        "createdAt": format_rfc3339(mapping.created_at),
    }


@router.put("/externalids/{source_system}/{source_id}", operation_id="externalids-put")
def put_mapping(
    platform: PlatformDep,
    caller: Modeler,
    source_system: str,
    source_id: str,
    body: ExternalIdMapping,
) -> Any:
    """Map ``source_system``/``source_id`` onto a twin (replacing an earlier mapping)."""
    return mapping_to_json(
        platform.twins.map_external_id(
            caller.tenant, source_system, source_id, body.twin, actor=caller.actor
        )
    )


@router.get("/externalids/{source_system}/{source_id}", operation_id="externalids-get")
def get_mapping(platform: PlatformDep, caller: Viewer, source_system: str, source_id: str) -> Any:
    """The twin a source system's id maps to."""
    return {
        "sourceSystem": source_system,
        "sourceId": source_id,
        "twin": platform.twins.resolve_external_id(caller.tenant, source_system, source_id),
    }


@router.delete(
    "/externalids/{source_system}/{source_id}", status_code=204, operation_id="externalids-delete"
)
def delete_mapping(
    platform: PlatformDep, caller: Modeler, source_system: str, source_id: str
) -> Response:
    """Remove a mapping."""
    platform.twins.unmap_external_id(caller.tenant, source_system, source_id, actor=caller.actor)
    return Response(status_code=204)


@router.get("/twins/{twin_id}/externalids", operation_id="externalids-list")
def list_mappings(platform: PlatformDep, caller: Viewer, twin_id: str) -> Any:
    """Every source-system id mapped onto a twin."""
    return {
        "data": [
            mapping_to_json(m) for m in platform.twins.list_external_ids(caller.tenant, twin_id)
        ]
    }
