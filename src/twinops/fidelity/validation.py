"""Validation: a model and a parameter set replayed over a held-out window, against what was
observed — metrics per output (and per twin), prediction-interval coverage, thresholds.

Prediction intervals, when the spec gives an ``uncertainty``: parameter uncertainty (a
covariance, e.g. a calibration's, sampled in ``draws`` runs simulated as one batch) and
measurement noise (sd per output) add in quadrature around the nominal run:
``sim ± z·sqrt(var_params + noise²)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import special

from twinops.fidelity.metrics import Metrics, check_thresholds, compare
from twinops.fidelity.problem import ReplayProblem
from twinops.sim.engines.base import Progress, no_progress
from twinops.sim.summary import stage

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Interval:
    """How wide the prediction interval is: noise sd per output, a covariance to sample."""

    level: float = 0.95
    noise: Mapping[str, float] | None = None
    parameters: tuple[str, ...] = ()
    covariance: FloatArray | None = None
    draws: int = 64
    seed: int = 0


@dataclass(frozen=True)
class ValidationResult:
    """The nominal run, the interval (or None), metrics overall and per twin, verdicts."""

    predicted: FloatArray
    """Shape ``(outputs, records, twins)``."""
    lower: FloatArray | None
    upper: FloatArray | None
    overall: Mapping[str, Metrics]
    per_twin: Mapping[str, Mapping[str, Metrics]]
    thresholds: Mapping[str, Any]
    passed: bool


def validate(
    problem: ReplayProblem,
    values: Mapping[str, FloatArray],
    interval: Interval | None = None,
    thresholds: Mapping[str, Mapping[str, float]] | None = None,
    progress: Progress = no_progress,
) -> ValidationResult:
    """Replay ``problem`` with parameter ``values`` (per twin) and score it."""
    predicted = problem.simulate(values, 1, stage(progress, 0.0, 0.5, "nominal run"))[0]
    lower = upper = None
    if interval is not None and (interval.noise or interval.covariance is not None):
        lower, upper = _interval(
            problem, values, predicted, interval, stage(progress, 0.5, 0.95, "interval")
        )
    overall: dict[str, Metrics] = {}
    per_twin: dict[str, dict[str, Metrics]] = {twin: {} for twin in problem.twins}
    for o, output in enumerate(problem.outputs):
        low = None if lower is None else lower[o]
        high = None if upper is None else upper[o]
        overall[output] = compare(problem.observed[o], predicted[o], low, high)
        for j, twin in enumerate(problem.twins):
            per_twin[twin][output] = compare(
                problem.observed[o, :, j],
                predicted[o, :, j],
                None if low is None else low[:, j],
                None if high is None else high[:, j],
            )
    verdicts = {
        output: check_thresholds(overall[output], dict(limits))
        for output, limits in sorted((thresholds or {}).items())
    }
    progress(1.0, "done")
    return ValidationResult(
        predicted=predicted,
        lower=lower,
        upper=upper,
        overall=overall,
        per_twin=per_twin,
        thresholds=verdicts,
        passed=all(v["passed"] for v in verdicts.values()),
    )


def _interval(
    problem: ReplayProblem,
    values: Mapping[str, FloatArray],
    predicted: FloatArray,
    interval: Interval,
    progress: Progress,
) -> tuple[FloatArray, FloatArray]:
    variance = np.zeros_like(predicted)
    if interval.covariance is not None and interval.parameters:
        t = len(problem.twins)
        rng = np.random.default_rng(np.random.SeedSequence(interval.seed, spawn_key=(0x7A11,)))
        centre = np.stack(
            [
                np.broadcast_to(np.asarray(values[n], dtype=np.float64), (t,))
                for n in interval.parameters
            ],
            axis=1,
        )  # (T, p)
        draws = rng.multivariate_normal(
            np.zeros(len(interval.parameters)), interval.covariance, size=(interval.draws, t),
            method="eigh",
        )  # fmt: skip
        sampled = centre[None] + draws  # (D, T, p)
        given = dict(values)
        for i, name in enumerate(interval.parameters):
            declared = problem.parameter(name)
            low = -np.inf if declared.lower is None else declared.lower
            high = np.inf if declared.upper is None else declared.upper
            given[name] = np.clip(sampled[:, :, i], low, high).reshape(-1)
        for name, value in values.items():
            if name not in interval.parameters:
                given[name] = np.asarray(value, dtype=np.float64)
        runs = problem.simulate(given, interval.draws, progress)
        variance = variance + np.nanvar(runs, axis=0, ddof=1)
    noise = np.array([(interval.noise or {}).get(o, 0.0) for o in problem.outputs])
    variance = variance + (noise**2)[:, None, None]
    z = float(special.ndtri(0.5 + interval.level / 2.0))
    half = z * np.sqrt(variance)
    return predicted - half, predicted + half
