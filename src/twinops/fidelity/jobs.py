"""What the fidelity job kinds run in a worker: spec + snapshot in, tables, summary, reports out.

Calibration summary::

    {"kind": "calibrate", "spec": sha256, "model": ref, "modelVersion", "twins", "window":
     {"start", "end"}, "step", "shared", "method", "parameters": [names], "fixed": {...},
     "estimates": {name: value}            (shared fit or one twin; else {twin: {name: value}}),
     "intervals": {name: {"low", "high", "stdError"}}   (same shape rule), "level",
     "intervalMethod": "jacobian" | "bootstrap", "covariance": {"parameters", "matrix"}
     (single set only), "fit": {output: metrics + "residualSd"}, "fitByTwin" (fleets),
     "converged", "cost", "iterations", "warnings", "register"?}

Validation summary::

    {"kind": "validate", ..., "outputs": {output: metrics}, "byTwin": {twin: {output: metrics}},
     "thresholds": {output: {"passed", "checks": {metric: {"value", "limit", "passed"}}}},
     "passed": bool, "interval": {"level", "noise", "draws"} | null}
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from twinops.fidelity.calibration import CalibrationResult, FitOptions, FitParameters, calibrate
from twinops.fidelity.metrics import Metrics, compare
from twinops.fidelity.problem import ReplayProblem, build_problem
from twinops.fidelity.report import render_html, table
from twinops.fidelity.spec import (
    CalibrationSpec,
    ValidationSpec,
    parse_calibration,
    parse_validation,
)
from twinops.fidelity.validation import Interval, validate
from twinops.jobs.kinds import KindOutput
from twinops.sim.durations import format_duration
from twinops.sim.engines.base import Progress
from twinops.sim.references import model_info, resolve_model
from twinops.sim.summary import json_safe
from twinops.timeutil import format_rfc3339

FloatArray = NDArray[np.float64]


def _window(spec: CalibrationSpec | ValidationSpec) -> dict[str, str]:
    return {"start": format_rfc3339(spec.start), "end": format_rfc3339(spec.end)}


def _summary_head(
    kind: str, spec: CalibrationSpec | ValidationSpec, problem: ReplayProblem
) -> dict[str, Any]:
    """What every fidelity summary starts with: the kind, the spec, the model and the data."""
    return {
        "kind": kind,
        "spec": spec.sha256,
        "model": spec.model,
        "modelVersion": problem.model.signature.version,
        "twins": list(spec.twins),
        "window": _window(spec),
        "step": format_duration(spec.step),
    }


def series_table(
    problem: ReplayProblem,
    predicted: FloatArray,
    lower: FloatArray | None = None,
    upper: FloatArray | None = None,
) -> pa.Table:
    """Long table: twin, time, output, observed, simulated (and the interval, when given)."""
    outputs, records, twins = predicted.shape
    times = problem.times()
    columns: dict[str, Any] = {
        "twin": pa.array(np.tile(np.array(problem.twins, dtype=object), outputs * records)),
        "time": pa.array(np.tile(np.repeat(times, twins), outputs), type=pa.timestamp("us", "UTC")),
        "output": pa.array(np.repeat(np.array(problem.outputs, dtype=object), records * twins)),
        "observed": pa.array(problem.observed.reshape(-1), from_pandas=True),
        "simulated": pa.array(predicted.reshape(-1), from_pandas=True),
    }
    if lower is not None and upper is not None:
        columns["lower"] = pa.array(lower.reshape(-1), from_pandas=True)
        columns["upper"] = pa.array(upper.reshape(-1), from_pandas=True)
    return pa.table(columns)


def metric_rows(
    overall: Mapping[str, Metrics], per_twin: Mapping[str, Mapping[str, Metrics]]
) -> list[list[Any]]:
    """Rows of the report's metrics table: each output overall, then per twin (fleets)."""
    rows: list[list[Any]] = []
    for output, m in overall.items():
        rows.append([output, "all", m.n, m.rmse, m.mae, m.mape, m.bias, m.r2, m.coverage])
        if len(per_twin) > 1:
            for twin, by_output in list(per_twin.items())[:50]:
                t = by_output[output]
                rows.append([output, twin, t.n, t.rmse, t.mae, t.mape, t.bias, t.r2, t.coverage])
    return rows


def report_json(summary: Mapping[str, Any]) -> bytes:
    """The summary as indented JSON (a human-readable artifact)."""
    text = json.dumps(summary, indent=2, sort_keys=True, allow_nan=False)
    return (text + "\n").encode("utf-8")


# -- calibration ---------------------------------------------------------------------------


def fit_parameters(spec: CalibrationSpec, problem: ReplayProblem) -> FitParameters:
    """Bounds, per-twin starting values (spec, else the twin's own, else default), priors."""
    names = tuple(spec.parameters)
    lower = np.array([float(spec.parameters[n].lower or 0.0) for n in names])
    upper = np.array([float(spec.parameters[n].upper or 0.0) for n in names])
    initial = np.stack(
        [
            np.full(len(problem.twins), spec.parameters[n].initial)
            if spec.parameters[n].initial is not None
            else problem.base_values(n)
            for n in names
        ],
        axis=1,
    )
    priors = tuple(problem.parameter(n).prior for n in names)
    return FitParameters(names, lower, upper, np.clip(initial, lower, upper), priors)


def _per_set(
    result: CalibrationResult, twins: tuple[str, ...], single: bool, entry: Any
) -> dict[str, Any]:
    """``{name: entry(g, i)}`` for one set, else ``{twin: {name: entry(g, i)}}``."""
    if single:
        return {name: entry(0, i) for i, name in enumerate(result.names)}
    return {
        twins[group[0]]: {name: entry(g, i) for i, name in enumerate(result.names)}
        for g, group in enumerate(result.groups)
    }


def calibration_summary(
    spec: CalibrationSpec, problem: ReplayProblem, result: CalibrationResult
) -> dict[str, Any]:
    """The calibration's JSON summary (see the module docstring)."""
    single = len(result.groups) == 1
    fit: dict[str, Any] = {}
    by_twin: dict[str, dict[str, Any]] = {twin: {} for twin in problem.twins}
    for o, output in enumerate(problem.outputs):
        metrics = compare(problem.observed[o], result.predicted[o]).to_json()
        fit[output] = {**metrics, "residualSd": float(np.sqrt(np.mean(result.noise[o] ** 2)))}
        for j, twin in enumerate(problem.twins):
            by_twin[twin][output] = {
                **compare(problem.observed[o, :, j], result.predicted[o, :, j]).to_json(),
                "residualSd": float(result.noise[o, j]),
            }
    summary: dict[str, Any] = {
        **_summary_head("calibrate", spec, problem),
        "shared": spec.shared,
        "method": spec.method,
        "priors": spec.priors,
        "parameters": list(result.names),
        "fixed": dict(spec.fixed),
        "estimates": _per_set(
            result, problem.twins, single, lambda g, i: float(result.estimates[g, i])
        ),
        "intervals": _per_set(
            result,
            problem.twins,
            single,
            lambda g, i: {
                "low": float(result.low[g, i]),
                "high": float(result.high[g, i]),
                "stdError": float(result.stderr[g, i]),
            },
        ),
        "level": result.level,
        "intervalMethod": result.intervals,
        "fit": fit,
        "converged": result.converged,
        "cost": result.cost,
        "iterations": result.evaluations,
        "degreesOfFreedom": list(result.dof),
        "conditionNumber": [r.condition for r in result.identifiability],
        "warnings": list(result.warnings),
    }
    if single:
        summary["covariance"] = {
            "parameters": list(result.names),
            "matrix": result.covariance[0].tolist(),
        }
    if len(problem.twins) > 1:
        summary["fitByTwin"] = by_twin
    if result.bootstrap_replicates:
        summary["bootstrapReplicates"] = result.bootstrap_replicates
    if spec.registration is not None:
        summary["register"] = spec.registration.model_dump(mode="json", exclude_none=True)
    return json_safe(summary)  # type: ignore[no-any-return]


def run_calibration(
    raw_spec: Mapping[str, Any], snapshot: Mapping[str, Any], progress: Progress
) -> KindOutput:
    """Calibrate from a canonical spec and its snapshot (no database)."""
    spec = parse_calibration(raw_spec)
    problem = build_problem(spec, snapshot, spec.fit, spec.fixed)
    fit = fit_parameters(spec, problem)
    options = FitOptions(
        shared=spec.shared,
        method=spec.method,
        intervals=spec.intervals,
        level=spec.level,
        bootstrap=spec.bootstrap or 100,
        generations=spec.generations or 40,
        max_evaluations=spec.max_evaluations,
        seed=spec.seed,
    )
    result = calibrate(problem, fit, options, use_priors=spec.priors, progress=progress)
    summary = calibration_summary(spec, problem, result)
    rows = []
    for g, group in enumerate(result.groups):
        for j in group:
            for i, name in enumerate(result.names):
                rows.append(
                    (problem.twins[j], name, result.estimates[g, i], result.stderr[g, i],
                     result.low[g, i], result.high[g, i])
                )  # fmt: skip
    estimates = pa.table(
        {
            "twin": pa.array([r[0] for r in rows]),
            "parameter": pa.array([r[1] for r in rows]),
            "estimate": pa.array([float(r[2]) for r in rows]),
            "stdError": pa.array([float(r[3]) for r in rows]),
            "low": pa.array([float(r[4]) for r in rows]),
            "high": pa.array([float(r[5]) for r in rows]),
        }
    )
    per_twin = {
        twin: {
            o: compare(problem.observed[k, :, j], result.predicted[k, :, j])
            for k, o in enumerate(problem.outputs)
        }
        for j, twin in enumerate(problem.twins)
    }
    overall = {
        o: compare(problem.observed[k], result.predicted[k]) for k, o in enumerate(problem.outputs)
    }
    estimate_rows = [
        [r[0], r[1], float(r[2]), float(r[4]), float(r[5]), float(r[3])] for r in rows[:400]
    ]
    extra = "<h2>Estimates</h2>" + table(
        ["twin", "parameter", "estimate", f"low ({result.level:g})", "high", "std error"],
        estimate_rows,
    )
    page = render_html(
        f"Calibration of {spec.name or spec.model}",
        summary,
        metric_rows(overall, per_twin),
        problem.times(),
        problem.outputs,
        problem.twins,
        problem.observed,
        result.predicted,
        extra=extra,
    )
    model = resolve_model(spec.model)
    return KindOutput(
        tables={"estimates": estimates, "series": series_table(problem, result.predicted)},
        summary=summary,
        model=model_info(spec.model, model).to_json(),
        blobs={"report.json": report_json(summary), "report.html": page},
    )


# -- validation ----------------------------------------------------------------------------


def validation_values(spec: ValidationSpec, problem: ReplayProblem) -> dict[str, FloatArray]:
    """Per-twin values of the parameters given per twin or sampled for the interval."""
    names = (
        set().union(*(set(v) for v in spec.twin_parameters.values()))
        if spec.twin_parameters
        else set()
    )
    if spec.uncertainty is not None and spec.uncertainty.covariance is not None:
        names |= set(spec.uncertainty.covariance.parameters)
    values: dict[str, FloatArray] = {}
    for name in sorted(names):
        per_twin = problem.base_values(name).copy()
        for j, twin in enumerate(problem.twins):
            given = spec.twin_parameters.get(twin, {})
            if name in given:
                per_twin[j] = given[name]
        values[name] = per_twin
    return values


def run_validation(
    raw_spec: Mapping[str, Any], snapshot: Mapping[str, Any], progress: Progress
) -> KindOutput:
    """Validate from a canonical spec and its snapshot (no database)."""
    spec = parse_validation(raw_spec)
    outputs = spec.outputs or {}
    problem = build_problem(spec, snapshot, outputs, spec.parameters)
    values = validation_values(spec, problem)
    interval = None
    if spec.uncertainty is not None:
        covariance = spec.uncertainty.covariance
        interval = Interval(
            level=spec.uncertainty.level,
            noise=dict(spec.uncertainty.noise),
            parameters=tuple(covariance.parameters) if covariance else (),
            covariance=np.array(covariance.matrix, dtype=np.float64) if covariance else None,
            draws=spec.uncertainty.draws,
            seed=spec.seed,
        )
    limits = {
        output: {k: v for k, v in limit.model_dump().items() if v is not None}
        for output, limit in spec.thresholds.items()
    }
    result = validate(problem, values, interval, limits, progress)
    summary: dict[str, Any] = {
        **_summary_head("validate", spec, problem),
        "parameters": dict(spec.parameters),
        "twinParameters": {t: dict(v) for t, v in spec.twin_parameters.items()},
        "outputs": {o: m.to_json() for o, m in result.overall.items()},
        "byTwin": {
            twin: {o: m.to_json() for o, m in by_output.items()}
            for twin, by_output in result.per_twin.items()
        },
        "thresholds": dict(result.thresholds),
        "thresholdsGiven": bool(limits),
        "passed": result.passed,
        "interval": None
        if interval is None
        else {
            "level": interval.level,
            "noise": dict(interval.noise or {}),
            "parameters": list(interval.parameters),
            "draws": interval.draws if interval.covariance is not None else 0,
        },
    }
    summary = json_safe(summary)
    page = render_html(
        f"Validation of {spec.name or spec.model}",
        summary,
        metric_rows(result.overall, result.per_twin),
        problem.times(),
        problem.outputs,
        problem.twins,
        problem.observed,
        result.predicted,
        result.lower,
        result.upper,
    )
    model = resolve_model(spec.model)
    return KindOutput(
        tables={"series": series_table(problem, result.predicted, result.lower, result.upper)},
        summary=summary,
        model=model_info(spec.model, model).to_json(),
        blobs={"report.json": report_json(summary), "report.html": page},
    )
