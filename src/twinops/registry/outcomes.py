"""What a finished job means for the registry: a calibration becomes a new version (made the
``candidate``), a validation or a declared regression becomes evidence of the version it ran.

Called by the job service after a job succeeds (a success listener the composition root
installs); it reads the job through the same ``JobReader`` the registry service uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from twinops.errors import NotFound
from twinops.registry.entities import CANDIDATE
from twinops.registry.service import (
    CALIBRATION_KINDS,
    VALIDATION_KINDS,
    JobFacts,
    JobReader,
    RegistryService,
)
from twinops.security.entities import Role


def calibrated_version_body(facts: JobFacts, parent: Any) -> dict[str, Any]:
    """The registration body of a calibration's result: the spec's model and parameters with
    the estimates over them, their intervals, and lineage (job, window, twins, parent)."""
    spec, summary = facts.spec, facts.result()
    raw_register = spec.get("register")
    register: Mapping[str, Any] = raw_register if isinstance(raw_register, Mapping) else {}
    # A calibration spec's ``parameters`` say how to fit each one; its ``fixed`` are values.
    fixed = spec.get("fixed")
    base = {k: v for k, v in fixed.items()} if isinstance(fixed, Mapping) else {}
    estimates = summary.get("estimates", {})
    intervals = summary.get("intervals", {})
    per_twin = any(isinstance(v, Mapping) for v in estimates.values())
    body: dict[str, Any] = {
        "model": spec["model"],
        "parameters": base if per_twin else {**base, **estimates},
        "intervals": {} if per_twin else _intervals(intervals),
        "twinParameters": {t: dict(v) for t, v in estimates.items()} if per_twin else {},
        "notes": str(register.get("notes", f"calibrated by job {facts.job_id}")),
        "lineage": {
            "job": facts.job_id,
            "kind": facts.kind,
            "twins": spec.get("twins"),
            "window": spec.get("window"),
            "parent": dict(spec["registry"]) if isinstance(spec.get("registry"), Mapping) else None,
            "fit": summary.get("fit"),
        },
    }
    if parent is not None:
        # A recalibration keeps what the version it started from promised to pass.
        body["thresholds"] = {k: dict(v) for k, v in parent.thresholds.items()}
        body["regressions"] = [r.to_json() for r in parent.regressions]
        if parent.twin_model:
            body["twinModel"] = parent.twin_model
    for key in ("thresholds", "regressions", "twinModel", "defaultScenario"):
        if key in register:
            body[key] = register[key]
    return body


def _intervals(intervals: Mapping[str, Any]) -> dict[str, list[float]]:
    """Per parameter [low, high] from a calibration summary's intervals."""
    return {
        name: [float(bounds["low"]), float(bounds["high"])]
        for name, bounds in intervals.items()
        if isinstance(bounds, Mapping) and "low" in bounds and "high" in bounds
    }


def record_outcome(registry: RegistryService, jobs: JobReader, tenant: str, job_id: str) -> None:
    """Turn a succeeded job into a version or evidence, when it concerns the registry."""
    facts = jobs(tenant, job_id)
    if facts.extra.get("reproduces"):
        return  # a reproduction checks an earlier result; it is not a new one
    spec = facts.spec
    actor = facts.submitted_by or "runner"
    if facts.kind in CALIBRATION_KINDS and isinstance(spec.get("register"), Mapping):
        register = spec["register"]
        ref = spec.get("registry")
        parent = None
        if isinstance(ref, Mapping):
            try:
                parent = registry.version(tenant, str(ref["name"]), int(ref["version"]))
            except NotFound:
                parent = None
        name = str(register.get("name") or (ref["name"] if isinstance(ref, Mapping) else ""))
        version = registry.register(
            tenant, name, calibrated_version_body(facts, parent), actor=actor
        )
        alias = register.get("alias", CANDIDATE)
        if alias:
            registry.move_alias(
                tenant,
                name,
                str(alias),
                version.version,
                actor=actor,
                role=Role.MODELER,
                reason=f"calibrated by job {job_id}",
            )
        return
    if isinstance(spec.get("registry"), Mapping):
        ref = spec["registry"]
        try:
            version = registry.version(tenant, str(ref["name"]), int(ref["version"]))
        except NotFound:
            return
        label = spec.get("name")
        if facts.kind in VALIDATION_KINDS or (isinstance(label, str) and version.regression(label)):
            registry.attach_facts(tenant, facts, actor=actor)
