"""Evidence rules: scoring a validation against thresholds, regression expectations, and the
gate that moving ``production`` must pass. Pure functions over registry values."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from twinops.digits import is_ascii_integer
from twinops.registry.entities import (
    HIGHER_IS_BETTER,
    Evidence,
    EvidenceKind,
    Expectation,
    ModelVersion,
)


@dataclass(frozen=True)
class Verdict:
    """Whether a job's figures passed, the figures looked at, and every reason it did not."""

    passed: bool
    figures: Mapping[str, Any]
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class GateReport:
    """The promotion gate's answer for one version: passed, or every reason it did not."""

    passed: bool
    reasons: tuple[str, ...]
    evidence: tuple[int, ...]  # the evidence records the decision rests on (their seq)

    def to_json(self) -> dict[str, Any]:
        """As answered by the API."""
        return {
            "passed": self.passed,
            "reasons": list(self.reasons),
            "evidence": list(self.evidence),
        }


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def score_validation(
    thresholds: Mapping[str, Mapping[str, float]], metrics: Mapping[str, Mapping[str, Any]]
) -> Verdict:
    """Check validation metrics (per output) against thresholds; r2 and coverage are minimums,
    every other metric (rmse, mae, mape, bias as |bias|) a maximum."""
    reasons: list[str] = []
    figures: dict[str, dict[str, Any]] = {}
    if not thresholds:
        reasons.append("the version declares no validation thresholds to check against")
    for output, bounds in sorted(thresholds.items()):
        observed = metrics.get(output)
        if not isinstance(observed, Mapping):
            reasons.append(f"{output}: the validation reported no metrics for this output")
            continue
        for metric, bound in sorted(bounds.items()):
            value = _finite(observed.get(metric))
            figures.setdefault(output, {})[metric] = value
            if value is None:
                reasons.append(f"{output}.{metric}: not reported (or not finite)")
            elif metric in HIGHER_IS_BETTER and value < bound:
                reasons.append(f"{output}.{metric} = {value:.6g} is below the minimum {bound:g}")
            elif metric not in HIGHER_IS_BETTER:
                size = abs(value) if metric == "bias" else value
                if size > bound:
                    reasons.append(f"{output}.{metric} = {value:.6g} exceeds the maximum {bound:g}")
    return Verdict(not reasons, figures, tuple(reasons))


def lookup(summary: Any, path: str) -> Any:
    """The value at a dotted path in a JSON summary (list items by index), or None."""
    node = summary
    for part in path.split("."):
        if isinstance(node, Mapping):
            node = node.get(part)
        elif isinstance(node, list) and is_ascii_integer(part) and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def check_expectations(expect: Sequence[Expectation], summary: Any) -> Verdict:
    """Check a regression's expectations against a job summary."""
    reasons: list[str] = []
    figures: dict[str, Any] = {}
    for item in expect:
        value = _finite(lookup(summary, item.path))
        figures[item.path] = value
        if value is None:
            reasons.append(f"{item.path}: not in the job's summary (or not a finite number)")
        elif item.min is not None and value < item.min:
            reasons.append(f"{item.path} = {value:.6g} is below the minimum {item.min:g}")
        elif item.max is not None and value > item.max:
            reasons.append(f"{item.path} = {value:.6g} exceeds the maximum {item.max:g}")
    return Verdict(not reasons, figures, tuple(reasons))


def _latest(evidence: Iterable[Evidence], kind: EvidenceKind, label: str) -> Evidence | None:
    chosen = [e for e in evidence if e.kind == kind and e.label == label]
    return max(chosen, key=lambda e: e.seq) if chosen else None


def promotion_gate(version: ModelVersion, evidence: Sequence[Evidence]) -> GateReport:
    """May ``version`` become production? Its latest validation must pass its thresholds and
    the latest run of every declared regression must have held."""
    reasons: list[str] = []
    used: list[int] = []
    if not version.thresholds:
        reasons.append(
            f"{version.key} declares no validation thresholds: register a version with"
            " thresholds before it can go to production"
        )
    validation = _latest(evidence, EvidenceKind.VALIDATION, "validation")
    if validation is None:
        reasons.append(f"{version.key} has no validation evidence: run a validate job on it")
    else:
        used.append(validation.seq)
        if not validation.passed:
            why = "; ".join(validation.reasons) or "failed"
            reasons.append(f"validation job {validation.job_id} did not pass: {why}")
    for regression in version.regressions:
        latest = _latest(evidence, EvidenceKind.REGRESSION, regression.name)
        if latest is None:
            reasons.append(f"regression {regression.name!r} has not been run on {version.key}")
            continue
        used.append(latest.seq)
        if not latest.passed:
            why = "; ".join(latest.reasons) or "failed"
            reasons.append(f"regression {regression.name!r} (job {latest.job_id}) failed: {why}")
    return GateReport(not reasons, tuple(reasons), tuple(sorted(used)))
