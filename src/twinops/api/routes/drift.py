"""/v1/drift: drift policies of registered models, what is watched, and recent alerts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Response

from twinops.api.deps import Modeler, PlatformDep, Viewer
from twinops.fidelity.drift_store import StoredPolicy
from twinops.timeutil import format_rfc3339
from twinops.twins.entities import EventType

router = APIRouter(prefix="/v1/drift", tags=["drift"])

Name = Annotated[str, Path(max_length=64, description="a registered model's name")]
PolicyBody = Annotated[
    Any,
    Body(
        description=(
            "predictor (model | ewma | persistence), detectors [{kind: cusum, k, h} |"
            " {kind: page-hinkley, delta, lambda, alpha} | {kind: rolling-error, window,"
            " factor}], warmupPoints, validationRmse {field: rmse}, cooldownSeconds,"
            " evidencePoints, scaleInflation {field: factor}, recalibrate (a calibrate spec"
            " template; ${twin} ${field} ${start} ${end} ${time} are filled in)"
        ),
        examples=[
            {
                "predictor": "model",
                "detectors": [{"kind": "cusum", "k": 0.5, "h": 8}],
                "warmupPoints": 60,
                "cooldownSeconds": 600,
            }
        ],
    ),
]


def _policy_json(stored: StoredPolicy) -> dict[str, Any]:
    return {
        "model": stored.name,
        "policy": dict(stored.policy),
        "updatedAt": format_rfc3339(stored.updated_at),
        "updatedBy": stored.updated_by,
    }


@router.get("/policies", operation_id="drift-policies")
def list_policies(platform: PlatformDep, caller: Viewer) -> Any:
    """Every drift policy of the tenant, by registered model."""
    return {"policies": [_policy_json(p) for p in platform.drift.policies(caller.tenant)]}


@router.put("/policies/{name}", operation_id="drift-set_policy")
def set_policy(platform: PlatformDep, caller: Modeler, name: Name, body: PolicyBody) -> Any:
    """Watch a registered model's production version with this policy (audited)."""
    return _policy_json(platform.drift.set_policy(caller.tenant, name, body, actor=caller.actor))


@router.delete("/policies/{name}", status_code=204, operation_id="drift-remove_policy")
def remove_policy(platform: PlatformDep, caller: Modeler, name: Name) -> Response:
    """Stop watching a registered model (audited)."""
    platform.drift.remove_policy(caller.tenant, name, actor=caller.actor)
    return Response(status_code=204)


@router.get("/status", operation_id="drift-status")
def status(platform: PlatformDep, caller: Viewer) -> Any:
    """What this server watches now: model, production version, predictor, streams."""
    return {"watching": platform.drift.status(caller.tenant)}


@router.get("/alerts", operation_id="drift-alerts")
def alerts(
    platform: PlatformDep,
    caller: Viewer,
    twin: Annotated[str | None, Query(max_length=128, description="only this twin")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Any:
    """The latest drift alerts (``DriftDetected`` events), newest first, with evidence."""
    found = platform.events.list_events(
        caller.tenant,
        subject=twin,
        limit=limit,
        newest_first=True,
        types=[str(EventType.DRIFT_DETECTED)],
    )
    return {
        "alerts": [
            {
                "seq": e.seq,
                "twin": e.subject,
                "time": format_rfc3339(e.occurred_at),
                **dict(e.data),
            }
            for e in found
        ]
    }
