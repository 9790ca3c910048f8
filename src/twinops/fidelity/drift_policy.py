"""Drift policy and alert values: what to watch, how loud, and what to do about an alert."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from twinops.fidelity.drift_detectors import Cusum, Detector, PageHinkley, RollingError
from twinops.timeutil import format_rfc3339

DETECTOR_KINDS: dict[str, type[Cusum] | type[PageHinkley] | type[RollingError]] = {
    "cusum": Cusum,
    "page-hinkley": PageHinkley,
    "rolling-error": RollingError,
}

# camelCase JSON keys of the policy's fields.
_JSON_NAMES = {
    "warmupPoints": "warmup_points",
    "validationRmse": "validation_rmse",
    "cooldownSeconds": "cooldown_seconds",
    "evidencePoints": "evidence_points",
    "minSd": "min_sd",
    "scaleInflation": "scale_inflation",
}


@dataclass(frozen=True)
class ResidualEvidence:
    """The recent residuals behind an alert: their mean, sd and count, and the span they cover."""

    mean: float
    sd: float
    count: int
    start_us: int
    end_us: int

    def to_json(self) -> dict[str, Any]:
        """As JSON (times RFC 3339)."""
        return {
            "mean": self.mean,
            "sd": self.sd,
            "count": self.count,
            "start": format_rfc3339(self.start_us),
            "end": format_rfc3339(self.end_us),
        }


@dataclass(frozen=True)
class DriftAlert:
    """A detector alarmed on a twin's field at an event time: the drift event with its evidence."""

    twin: str
    field: str
    detector: str
    time_us: int
    statistic: float
    threshold: float
    evidence: ResidualEvidence

    def to_json(self) -> dict[str, Any]:
        """The alert as an event body."""
        return {
            "twin": self.twin,
            "field": self.field,
            "detector": self.detector,
            "time": format_rfc3339(self.time_us),
            "statistic": self.statistic,
            "threshold": self.threshold,
            "evidence": self.evidence.to_json(),
        }


def _substitute(value: Any, names: Mapping[str, str]) -> Any:
    """``value`` with ``${name}`` placeholders in every string replaced."""
    if isinstance(value, str):
        for key, text in names.items():
            value = value.replace("${" + key + "}", text)
        return value
    if isinstance(value, Mapping):
        return {k: _substitute(v, names) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_substitute(v, names) for v in value]
    return value


@dataclass(frozen=True)
class DriftPolicy:
    """Which detectors watch the residuals, how they are scaled, and what an alert triggers.

    * ``detectors``: configurations run on every stream;
    * ``warmup_points``: residuals per stream used to estimate its mean and sd (and the
      rolling-error reference when no validation RMSE is given) before detection starts;
    * ``validation_rmse``: per field, the validation RMSE of the production model (from its
      fidelity report), the rolling-error reference;
    * ``cooldown_seconds``: after an alert on (twin, field, detector), further alarms of the
      same within this event-time span are not reported (the detector still resets);
    * ``evidence_points``: how many recent residuals an alert's evidence summarizes;
    * ``scale_inflation``: per field, a factor on the warm-up sd and RMS — learned on normal
      data where a short warm-up underestimates the residual's spread (slowly drifting
      temperatures, say); a large factor all but mutes a field (see ``drift_tuning``);
    * ``min_sd``: floor of a stream's residual sd (a constant warm-up would divide by zero);
    * ``recalibrate``: a job spec template submitted on an alert (``${twin}``, ``${field}``,
      ``${detector}``, ``${start}``, ``${end}``, ``${time}`` are filled in), or None.
    """

    detectors: tuple[Detector, ...] = (Cusum(), PageHinkley(), RollingError())
    warmup_points: int = 100
    validation_rmse: Mapping[str, float] = field(default_factory=dict)
    cooldown_seconds: float = 600.0
    evidence_points: int = 30
    scale_inflation: Mapping[str, float] = field(default_factory=dict)
    min_sd: float = 1e-9
    recalibrate: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.warmup_points < 2:
            raise ValueError("warmup_points must be at least 2 (an sd needs two residuals)")
        if self.cooldown_seconds < 0 or self.evidence_points < 1 or self.min_sd <= 0:
            raise ValueError("cooldown >= 0, evidence_points >= 1 and min_sd > 0 are required")
        names = [d.name for d in self.detectors]
        if len(set(names)) != len(names):
            raise ValueError(f"one detector of each kind at most: {names}")

    def recalibration_request(self, alert: DriftAlert) -> dict[str, Any] | None:
        """The job spec to submit for ``alert`` (the template filled in), or None."""
        if self.recalibrate is None:
            return None
        names = {
            "twin": alert.twin,
            "field": alert.field,
            "detector": alert.detector,
            "time": format_rfc3339(alert.time_us),
            "start": format_rfc3339(alert.evidence.start_us),
            "end": format_rfc3339(alert.evidence.end_us),
        }
        result = _substitute(copy.deepcopy(dict(self.recalibrate)), names)
        assert isinstance(result, dict)
        return result

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DriftPolicy:
        """A policy from JSON: ``{"detectors": [{"kind": "cusum", "k": 0.5}], ...}``."""
        detectors: list[Detector] = []
        for spec in data.get("detectors", []):
            options = {k: v for k, v in spec.items() if k != "kind"}
            if "lambda" in options:
                options["lambda_"] = options.pop("lambda")
            kind = DETECTOR_KINDS.get(spec.get("kind", ""))
            if kind is None:
                raise ValueError(f"unknown detector kind {spec.get('kind')!r}")
            detectors.append(kind(**options))
        rest = {_JSON_NAMES.get(k, k): v for k, v in data.items() if k != "detectors"}
        if "detectors" in data:
            rest["detectors"] = tuple(detectors)
        return cls(**rest)
