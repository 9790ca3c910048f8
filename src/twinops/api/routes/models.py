"""/v1/models: validate, upload, list, read, decommission, delete DTDL interfaces."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Response
from pydantic import BaseModel

from twinops.api.deps import Modeler, PlatformDep, Viewer
from twinops.api.routes.common import Cursor, Limit, page_body
from twinops.models.entities import StoredModel
from twinops.models.service import problems_to_error, sources_from_body
from twinops.timeutil import format_rfc3339

router = APIRouter(prefix="/v1/models", tags=["models"])

DocumentsBody = Annotated[
    Any,
    Body(
        description="a DTDL document or a JSON array of them",
        examples=[
            [{"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:A;1", "@type": "Interface"}]
        ],
    ),
]


class ModelPatch(BaseModel):
    """What may change on a stored model: only whether it is decommissioned."""

    decommissioned: bool


def model_to_json(model: StoredModel, include_document: bool = True) -> dict[str, Any]:
    """A stored model as the API shows it."""
    body: dict[str, Any] = {
        "id": model.dtmi,
        "version": model.version,
        "uploadedAt": format_rfc3339(model.uploaded_at),
        "decommissioned": model.decommissioned,
        "hash": model.content_hash,
    }
    if include_document:
        body["model"] = model.document
    return body


@router.post("/validate", operation_id="models-validate")
def validate_models(platform: PlatformDep, caller: Viewer, body: DocumentsBody) -> Any:
    """Validate DTDL documents without storing them (references may name stored models)."""
    result = platform.models.validate(caller.tenant, sources_from_body(body))
    if not result.ok:
        raise problems_to_error(result.problems)
    return {"valid": True, "models": sorted(result.documents)}


@router.post("", status_code=201, operation_id="models-upload")
def upload_models(platform: PlatformDep, caller: Modeler, body: DocumentsBody) -> Any:
    """Store new interface versions; reports changes against each interface's previous one."""
    result = platform.models.upload(caller.tenant, sources_from_body(body), actor=caller.actor)
    return {
        "created": [model_to_json(m, include_document=False) for m in result.created],
        "unchanged": list(result.unchanged),
        "compatibility": [r.to_json() for r in result.compatibility],
    }


@router.get("", operation_id="models-list")
def list_models(
    platform: PlatformDep,
    caller: Viewer,
    limit: Limit = 100,
    cursor: Cursor = None,
    base: str | None = None,
    include_document: bool = False,
) -> Any:
    """Stored models ordered by DTMI; ``base`` narrows to one interface's versions."""
    items = platform.models.list_models(
        caller.tenant, base_dtmi=base, limit=limit + 1, after=cursor
    )
    more = len(items) > limit
    items = items[:limit]
    return page_body(
        items, items[-1].dtmi if more else None, lambda m: model_to_json(m, include_document)
    )


@router.get("/{dtmi}", operation_id="models-get")
def get_model(platform: PlatformDep, caller: Viewer, dtmi: str) -> Any:
    """One stored model with its document."""
    return model_to_json(platform.models.get(caller.tenant, dtmi))


@router.patch("/{dtmi}", operation_id="models-update")
def update_model(platform: PlatformDep, caller: Modeler, dtmi: str, body: ModelPatch) -> Any:
    """Decommission a model (no new twins) or bring it back."""
    return model_to_json(
        platform.models.decommission(caller.tenant, dtmi, body.decommissioned, actor=caller.actor)
    )


@router.delete("/{dtmi}", status_code=204, operation_id="models-delete")
def delete_model(platform: PlatformDep, caller: Modeler, dtmi: str) -> Response:
    """Delete a model that no twin uses and no model extends."""
    platform.models.delete(caller.tenant, dtmi, actor=caller.actor)
    return Response(status_code=204)
