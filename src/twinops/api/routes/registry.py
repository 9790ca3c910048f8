"""/v1/registry: registered simulation model versions, their evidence and aliases."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Response

from twinops.api.deps import Modeler, Operator, PlatformDep, Viewer
from twinops.errors import InvalidInput
from twinops.jobs.representation import view_to_json
from twinops.registry.representation import (
    alias_to_json,
    evidence_to_json,
    model_to_json,
    move_to_json,
    version_to_json,
)

router = APIRouter(prefix="/v1/registry", tags=["registry"])

Name = Annotated[str, Path(max_length=64, description="the registered model's name")]
Number = Annotated[int, Path(ge=1, le=2**31 - 1, description="a version number")]
Selector = Annotated[str, Path(max_length=64, description="a version number or an alias")]
AliasName = Annotated[str, Path(max_length=64, description="an alias: production, candidate...")]

VersionBody = Annotated[
    Any,
    Body(
        description=(
            "model (module:Class), parameters, intervals, twinModel, defaultScenario,"
            " thresholds {output: {rmse|mae|mape|bias: max, r2|coverage: min}}, regressions"
            " [{name, spec (without model), expect: [{path, min?, max?}]}], notes, lineage"
        ),
        examples=[
            {
                "model": "twinops.sim.library.pump:PumpModel",
                "parameters": {"shutoffHeadRatio": 1.3},
                "thresholds": {"flowRate": {"rmse": 5.0, "r2": 0.9}},
                "notes": "hand-tuned from the commissioning test",
            }
        ],
    ),
]
MoveBody = Annotated[
    Any,
    Body(
        description="{version: N, reason?: text}",
        examples=[{"version": 3, "reason": "validated on March"}],
    ),
]
EvidenceBody = Annotated[Any, Body(description="{job: id} of a finished job that ran the version")]


@router.get("/models", operation_id="registry-models")
def list_models(platform: PlatformDep, caller: Viewer) -> Any:
    """Every registered model of the tenant, with its latest version and aliases."""
    return {"models": [model_to_json(m) for m in platform.registry.models(caller.tenant)]}


@router.get("/models/{name}", operation_id="registry-model")
def get_model(platform: PlatformDep, caller: Viewer, name: Name) -> Any:
    """A registered model: its versions, oldest first, and its aliases."""
    versions = platform.registry.versions(caller.tenant, name)
    aliases = platform.registry.aliases(caller.tenant, name)
    return {
        "name": name,
        "versions": [version_to_json(v) for v in versions],
        "aliases": [alias_to_json(a) for a in aliases],
    }


@router.post("/models/{name}/versions", status_code=201, operation_id="registry-register")
def register_version(
    platform: PlatformDep, caller: Modeler, name: Name, body: VersionBody, response: Response
) -> Any:
    """Register a new immutable version of ``name`` (numbered 1, 2, ...); audited."""
    version = platform.registry.register(caller.tenant, name, body, actor=caller.actor)
    response.headers["Location"] = f"/v1/registry/models/{name}/versions/{version.version}"
    return version_to_json(version)


@router.get("/models/{name}/versions/{selector}", operation_id="registry-version")
def get_version(platform: PlatformDep, caller: Viewer, name: Name, selector: Selector) -> Any:
    """A version (by number or alias) with its evidence and the promotion gate's answer."""
    version = platform.registry.version(caller.tenant, name, selector)
    evidence = platform.registry.evidence(caller.tenant, name, version.version)
    gate = platform.registry.gate(caller.tenant, name, version.version)
    return {
        **version_to_json(version),
        "evidence": [evidence_to_json(e) for e in evidence],
        "gate": gate.to_json(),
    }


@router.get("/models/{name}/versions/{number}/evidence", operation_id="registry-evidence")
def list_evidence(platform: PlatformDep, caller: Viewer, name: Name, number: Number) -> Any:
    """What jobs showed about the version, oldest first."""
    evidence = platform.registry.evidence(caller.tenant, name, number)
    return {"evidence": [evidence_to_json(e) for e in evidence]}


@router.post(
    "/models/{name}/versions/{number}/evidence",
    status_code=201,
    operation_id="registry-attach",
)
def attach_evidence(
    platform: PlatformDep, caller: Modeler, name: Name, number: Number, body: EvidenceBody
) -> Any:
    """Score a finished validation or regression job that ran this version; keep it."""
    job = body.get("job") if isinstance(body, dict) else None
    if not isinstance(job, str) or not job:
        raise InvalidInput.single("job", "required", 'name the job: {"job": id}', job)
    platform.registry.version(caller.tenant, name, number)
    evidence = platform.registry.attach(caller.tenant, job, actor=caller.actor)
    if (evidence.name, evidence.version) != (name, number):
        raise InvalidInput.single(
            "job", "ranThisVersion", f"job {job} ran {evidence.name}@{evidence.version}", job
        )
    return evidence_to_json(evidence)


@router.get("/models/{name}/versions/{number}/gate", operation_id="registry-gate")
def get_gate(platform: PlatformDep, caller: Viewer, name: Name, number: Number) -> Any:
    """Would production accept this version now, and if not, every reason why."""
    return platform.registry.gate(caller.tenant, name, number).to_json()


@router.post(
    "/models/{name}/versions/{number}/regressions/{regression}",
    status_code=202,
    operation_id="registry-run_regression",
)
def run_regression(
    platform: PlatformDep,
    caller: Operator,
    name: Name,
    number: Number,
    regression: Annotated[str, Path(max_length=128)],
) -> Any:
    """Submit a declared regression scenario on this version (its outcome becomes evidence)."""
    spec = platform.registry.regression_spec(caller.tenant, name, number, regression)
    view = platform.jobs.submit(caller.tenant, spec, actor=caller.actor, role=caller.role)
    return view_to_json(view)


@router.get("/models/{name}/aliases", operation_id="registry-aliases")
def list_aliases(platform: PlatformDep, caller: Viewer, name: Name) -> Any:
    """Where each alias of the model points."""
    return {"aliases": [alias_to_json(a) for a in platform.registry.aliases(caller.tenant, name)]}


@router.put("/models/{name}/aliases/{alias}", operation_id="registry-move_alias")
def move_alias(
    platform: PlatformDep, caller: Modeler, name: Name, alias: AliasName, body: MoveBody
) -> Any:
    """Point an alias at a version; production takes an admin and a passed gate; audited."""
    number = body.get("version") if isinstance(body, dict) else None
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise InvalidInput.single("version", "type", "a version number (1, 2, ...)", number)
    reason = body.get("reason", "")
    if not isinstance(reason, str) or len(reason) > 2000:
        raise InvalidInput.single("reason", "type", "a text of at most 2000 characters")
    move = platform.registry.move_alias(
        caller.tenant, name, alias, number, actor=caller.actor, role=caller.role, reason=reason
    )
    return move_to_json(move)


@router.delete(
    "/models/{name}/aliases/{alias}", status_code=204, operation_id="registry-remove_alias"
)
def remove_alias(platform: PlatformDep, caller: Modeler, name: Name, alias: AliasName) -> Response:
    """Remove an alias; audited."""
    platform.registry.remove_alias(caller.tenant, name, alias, actor=caller.actor, role=caller.role)
    return Response(status_code=204)


@router.post("/models/{name}/aliases/{alias}/rollback", operation_id="registry-rollback")
def rollback_alias(platform: PlatformDep, caller: Modeler, name: Name, alias: AliasName) -> Any:
    """Move the alias back to where it pointed before its last move (through the gate)."""
    move = platform.registry.rollback(
        caller.tenant, name, alias, actor=caller.actor, role=caller.role
    )
    return move_to_json(move)


@router.get("/models/{name}/history", operation_id="registry-history")
def alias_history(
    platform: PlatformDep,
    caller: Viewer,
    name: Name,
    alias: Annotated[str | None, Query(max_length=64, description="only this alias")] = None,
) -> Any:
    """Every alias move of the model, oldest first."""
    moves = platform.registry.history(caller.tenant, name, alias)
    return {"moves": [move_to_json(m) for m in moves]}
