"""/v1/retention: how long history is kept per model and field, and enforcing it now."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from twinops.api.deps import Admin, Modeler, PlatformDep, Viewer
from twinops.state.retention import RetentionPolicy

router = APIRouter(prefix="/v1/retention", tags=["retention"])

PoliciesBody = Annotated[
    Any,
    Body(
        description=(
            "{policies: [{model: DTMI or '*', field: name or '*', keep: '30d' or seconds}]};"
            " the most specific policy wins (model+field, model+*, *+field, *+*)"
        ),
        examples=[
            {
                "policies": [
                    {"model": "*", "field": "*", "keep": "90d"},
                    {"model": "dtmi:twinops:example:Pump;1", "field": "vibration", "keep": "365d"},
                ]
            }
        ],
    ),
]


def _policies_json(policies: list[RetentionPolicy]) -> dict[str, Any]:
    return {"policies": [p.to_json() for p in policies]}


@router.get("", operation_id="retention-get")
def get_policies(platform: PlatformDep, caller: Viewer) -> Any:
    """The tenant's retention policies."""
    return _policies_json(platform.retention.policies(caller.tenant))


@router.put("", operation_id="retention-put")
def put_policies(platform: PlatformDep, caller: Modeler, body: PoliciesBody) -> Any:
    """Replace the tenant's retention policies (validated against the models; audited)."""
    policies = platform.retention.replace(caller.tenant, body, actor=caller.actor)
    return _policies_json(policies)


@router.post("/apply", operation_id="retention-apply")
def apply_policies(platform: PlatformDep, caller: Admin) -> Any:
    """Enforce the policies now: delete older history, answer the rows deleted per field."""
    return platform.retention.apply(caller.tenant, actor=caller.actor).to_json()
