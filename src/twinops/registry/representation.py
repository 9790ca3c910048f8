"""Registry values as JSON (API and CLI)."""

from __future__ import annotations

from typing import Any

from twinops.registry.entities import Alias, AliasMove, Evidence, ModelVersion, RegisteredModel
from twinops.timeutil import format_rfc3339 as format_time


def version_to_json(v: ModelVersion) -> dict[str, Any]:
    """A model version."""
    return {
        "name": v.name,
        "version": v.version,
        "model": v.model_ref,
        "codeSha256": v.code_sha256,
        "parameters": dict(v.parameters),
        "intervals": {k: [lo, hi] for k, (lo, hi) in v.intervals.items()},
        "twinParameters": {t: dict(p) for t, p in v.twin_parameters.items()},
        "twinModel": v.twin_model,
        "defaultScenario": v.default_scenario,
        "thresholds": {k: dict(b) for k, b in v.thresholds.items()},
        "regressions": [r.to_json() for r in v.regressions],
        "author": v.author,
        "notes": v.notes,
        "lineage": dict(v.lineage),
        "createdAt": format_time(v.created_at),
    }


def evidence_to_json(e: Evidence) -> dict[str, Any]:
    """One piece of evidence."""
    return {
        "seq": e.seq,
        "kind": str(e.kind),
        "label": e.label,
        "job": e.job_id,
        "passed": e.passed,
        "metrics": dict(e.metrics),
        "reasons": list(e.reasons),
        "attachedAt": format_time(e.attached_at),
        "attachedBy": e.attached_by,
    }


def alias_to_json(a: Alias) -> dict[str, Any]:
    """Where an alias points."""
    return {
        "alias": a.alias,
        "version": a.version,
        "movedAt": format_time(a.moved_at),
        "movedBy": a.moved_by,
    }


def move_to_json(m: AliasMove) -> dict[str, Any]:
    """One alias move."""
    return {
        "seq": m.seq,
        "alias": m.alias,
        "from": m.previous,
        "to": m.version,
        "movedAt": format_time(m.moved_at),
        "movedBy": m.moved_by,
        "reason": m.reason,
    }


def model_to_json(m: RegisteredModel) -> dict[str, Any]:
    """A registered model name."""
    return {
        "name": m.name,
        "latest": m.latest,
        "versions": m.versions,
        "aliases": dict(m.aliases),
        "twinModel": m.twin_model,
        "model": m.model_ref,
    }
