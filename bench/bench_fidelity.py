"""Calibration and validation of the pump model: ours beside bare SciPy / NumPy, same run.

Data: pumps of the example fleet (nameplates), speed and suction pressure varying, the pump
model run with known parameters and 1 % sensor noise added (no database: the snapshot is what a
worker receives).

* ``calibration_one``: one pump, ``--hours`` (default 12) at ``--step`` (default 2 min), six
  parameters (shutoffHeadRatio, staticHeadRatio, bepFlowRatio, efficiencyBestPoint,
  powerFactor, windingRise) from five outputs. Ours: ``twinops.fidelity.jobs.run_calibration``
  (two weighted passes, batched central-difference Jacobian, sandwich intervals, report with
  plots) and, separately, the core ``calibrate`` alone. Raw: ``scipy.optimize.least_squares``
  (trf, its own 2-point Jacobian) on the same residual function, one pass, no intervals.
* ``calibration_fleet``: ``--fleet`` pumps (default 100), one parameter set each. Ours: the
  joint fit with a block-sparse batched Jacobian. Raw: the same residual function under
  ``least_squares`` with ``jac_sparsity`` (SciPy groups the columns itself), one pass.
* ``validation_month``: one pump, ``--days`` (default 30) of 1 s data (2.6M points per
  field, four fields), replayed at ``--validation-step`` (default 1 min). Ours:
  ``build_problem`` (binning) + ``validate`` + the HTML report. Raw: ``np.bincount`` binning +
  the engine's ``simulate`` + NumPy RMSE/R².

Every figure is the best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy import optimize, sparse

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as b

from twinops.fidelity.arrays import TwinData, snapshot_from_data
from twinops.fidelity.calibration import FitOptions, calibrate
from twinops.fidelity.jobs import fit_parameters, run_calibration
from twinops.fidelity.metrics import compare
from twinops.fidelity.problem import ReplayProblem, build_problem
from twinops.fidelity.report import render_html
from twinops.fidelity.spec import parse_calibration, parse_validation
from twinops.fidelity.validation import validate
from twinops.timeutil import format_rfc3339

START = 1_748_822_400_000_000  # 2025-06-02T00:00:00Z
MODEL = "twinops.sim.library.pump:PumpModel"
TRUTH = {
    "shutoffHeadRatio": 1.32,
    "staticHeadRatio": 0.3,
    "bepFlowRatio": 1.08,
    "efficiencyBestPoint": 0.74,
    "powerFactor": 0.83,
    "windingRise": 68.0,
}
FIXED = {"wearNoise": 0.0, "initialWear": 0.05}
OUTPUTS = {
    "flowRate": "flowRate",
    "dischargePressure": "dischargePressure",
    "motorPower": "motor.power",
    "motorCurrent": "motor.current",
    "windingTemperature": "motor.windingTemperature",
}


def pumps(count: int) -> list[dict[str, Any]]:
    """``count`` running pumps of the example fleet generator."""
    module = b._load_fleet_module()
    stations = 1
    while True:
        fleet = module.generate_fleet(stations, 4, seed=7)
        found = [t for t in fleet.twins_of(module.PUMP_MODEL) if t["status"] == "running"]
        if len(found) >= count:
            return found[:count]
        stations *= 2


def nameplate(twin: dict[str, Any]) -> dict[str, float]:
    """A pump twin's bound parameters."""
    motor = twin["motor"]
    return {
        "ratedFlow": twin["ratedFlow"],
        "ratedHead": twin["ratedHead"],
        "ratedSpeed": twin["ratedSpeed"],
        "impellerDiameter": twin["impellerDiameter"],
        "efficiencyBestPoint": twin["efficiencyBestPoint"],
        "motorRatedPower": motor["ratedPower"],
        "motorRatedVoltage": motor["ratedVoltage"],
    }


def raw_spec(twins: list[str], seconds: int, step: str, outputs: dict[str, str]) -> dict[str, Any]:
    """A calibration spec over ``seconds`` from START."""
    return {
        "kind": "calibrate",
        "model": MODEL,
        "twins": twins,
        "window": {
            "start": format_rfc3339(START),
            "end": format_rfc3339(START + seconds * 1_000_000),
        },
        "step": step,
        "parameters": sorted(TRUTH),
        "fixed": FIXED,
        "fit": outputs,
        "inputs": {"speed": {"profile": "replay"}, "suctionPressure": {"profile": "replay"}},
    }


def make_data(
    twins: list[dict[str, Any]], seconds: int, sample_s: int, spec: Any, seed: int
) -> dict[str, TwinData]:
    """Inputs sampled every ``sample_s``; outputs of the true model plus 1 % noise."""
    rng = np.random.default_rng(seed)
    times = START + np.arange(0, seconds, sample_s, dtype=np.int64) * 1_000_000
    hours = (times - START) / 3.6e9
    data: dict[str, TwinData] = {}
    for j, twin in enumerate(twins):
        ratio = np.clip(0.8 + 0.15 * np.sin(2 * np.pi * hours / 6.0 + j), 0.6, 1.0)
        series: dict[str, tuple[Any, Any]] = {
            "speed": (times, twin["ratedSpeed"] * ratio),
            "suctionPressure": (times, 120.0 + 15.0 * np.sin(2 * np.pi * hours / 9.0)),
        }
        for field in OUTPUTS.values():
            series[field] = (times, np.zeros(len(times)))
        data[twin["$dtId"]] = TwinData(
            parameters=nameplate(twin),
            states={"windingTemperature": 40.0, "fluidTemperature": 15.0},
            series=series,
        )
    outputs = dict(spec.fit)
    problem = build_problem(
        spec, snapshot_from_data(spec, outputs, data, lists=False), outputs, spec.fixed
    )
    truth = {k: np.full(len(twins), v) for k, v in TRUTH.items()}
    clean = problem.simulate(truth)[0]  # (O, R, T) on the step grid
    grid = problem.times()
    for j, twin in enumerate(twins):
        for o, output in enumerate(problem.outputs):
            at = np.clip(np.searchsorted(grid, times, side="right") - 1, 0, len(grid) - 1)
            values = clean[o, at, j]
            noisy = values + rng.normal(0.0, 1.0, len(values)) * (0.01 * np.abs(values) + 0.05)
            data[twin["$dtId"]].series[OUTPUTS[output]] = (times, noisy)  # type: ignore[index]
    return data


def problem_of(spec: Any, data: dict[str, TwinData], lists: bool = True) -> ReplayProblem:
    """The replay problem of spec and data."""
    snapshot = snapshot_from_data(spec, spec.fit, data, lists=lists)
    return build_problem(spec, snapshot, spec.fit, spec.fixed)


def bare_least_squares(problem: ReplayProblem, fit: Any, sparse_blocks: bool) -> tuple[float, int]:
    """Bare SciPy on the same residuals: trf, its own 2-point Jacobian, one pass."""
    t, p = len(problem.twins), len(fit.names)
    mask = np.isfinite(problem.observed)
    scale = np.nanstd(problem.observed, axis=1)[:, None, :]
    weighted = (problem.observed / scale)[mask]

    def fun(x: np.ndarray) -> np.ndarray:
        theta = x.reshape(t, p)
        values = {name: theta[:, i] for i, name in enumerate(fit.names)}
        return (problem.simulate(values)[0] / scale)[mask] - weighted

    lower, upper = np.tile(fit.lower, t), np.tile(fit.upper, t)
    kwargs: dict[str, Any] = {}
    if sparse_blocks:
        twin_of_row = np.broadcast_to(np.arange(t), problem.observed.shape)[mask]
        rows = np.repeat(np.arange(len(twin_of_row)), p)
        cols = (twin_of_row[:, None] * p + np.arange(p)).reshape(-1)
        kwargs["jac_sparsity"] = sparse.csr_matrix(
            (np.ones(len(rows)), (rows, cols)), shape=(len(twin_of_row), t * p)
        )
    began = time.perf_counter()
    result = optimize.least_squares(
        fun, fit.initial.reshape(-1), bounds=(lower, upper), method="trf", x_scale="jac",
        max_nfev=400, **kwargs,
    )  # fmt: skip
    return time.perf_counter() - began, int(result.nfev)


def max_error(result: Any, twins: int) -> float:
    """Largest relative error of the estimates against the truth."""
    truth = np.array([TRUTH[n] for n in result.names])
    return float(np.max(np.abs(result.estimates / truth - 1.0)))


def bench_calibration(count: int, args: argparse.Namespace) -> dict[str, Any]:
    """Ours (job function and core) beside bare least_squares, for ``count`` pumps."""
    chosen = pumps(count)
    seconds = int(args.hours * 3600)
    raw = raw_spec([t["$dtId"] for t in chosen], seconds, args.step, OUTPUTS)
    spec = parse_calibration(raw)
    data = make_data(chosen, seconds, b_step(args.step), spec, args.seed)
    problem = problem_of(spec, data)
    snapshot = snapshot_from_data(spec, spec.fit, data)
    fit = fit_parameters(spec, problem)
    job_s, core_s, bare_s = [], [], []
    for _ in range(args.repeat):
        began = time.perf_counter()
        run_calibration(
            spec.model_dump(mode="json", by_alias=True, exclude_none=True),
            snapshot,
            lambda f, m: None,
        )
        job_s.append(time.perf_counter() - began)
        began = time.perf_counter()
        result = calibrate(problem, fit, FitOptions())
        core_s.append(time.perf_counter() - began)
        seconds_bare, nfev = bare_least_squares(problem, fit, count > 1)
        bare_s.append(seconds_bare)
    b.log(f"calibration of {count}: ours {min(job_s):.2f}s, bare {min(bare_s):.2f}s")
    return {
        "pumps": count,
        "parameters": len(fit.names) * count,
        "records": problem.records,
        "ours_job_s": min(job_s),
        "ours_core_s": min(core_s),
        "ours_model_runs": result.evaluations,
        "bare_least_squares_s": min(bare_s),
        "bare_residual_evaluations": nfev,
        "slowdown_job": b.ratio(min(job_s), min(bare_s)),
        "slowdown_core": b.ratio(min(core_s), min(bare_s)),
        "max_relative_error": max_error(result, count),
    }


def b_step(step: str) -> int:
    """Seconds of a ``2min``/``30s`` step."""
    from twinops.sim.durations import parse_duration

    return parse_duration(step) // 1_000_000


def bench_validation(args: argparse.Namespace) -> dict[str, Any]:
    """A month of 1 s data replayed and scored: ours beside bare binning + simulate + NumPy."""
    chosen = pumps(1)
    seconds = int(args.days * 86400)
    outputs = {"flowRate": "flowRate", "motorPower": "motor.power"}
    calibration = parse_calibration(
        raw_spec([chosen[0]["$dtId"]], seconds, args.validation_step, outputs)
    )
    data = make_data(chosen, seconds, 1, calibration, args.seed)
    raw = {
        "kind": "validate",
        "model": MODEL,
        "twins": [chosen[0]["$dtId"]],
        "window": calibration.window.model_dump(mode="json"),
        "step": args.validation_step,
        "parameters": {**FIXED, **TRUTH},
        "outputs": outputs,
        "inputs": {"speed": {"profile": "replay"}, "suctionPressure": {"profile": "replay"}},
        "thresholds": {"flowRate": {"r2": 0.9}},
    }
    spec = parse_validation(raw)
    ours, bare = [], []
    for _ in range(args.repeat):
        began = time.perf_counter()
        problem = build_problem(
            spec, snapshot_from_data(spec, outputs, data, lists=False), outputs, spec.parameters
        )
        result = validate(problem, {}, None, {"flowRate": {"r2": 0.9}})
        render_html(
            "bench",
            {},
            [],
            problem.times(),
            problem.outputs,
            problem.twins,
            problem.observed,
            result.predicted,
        )
        ours.append(time.perf_counter() - began)
        began = time.perf_counter()
        step = b_step(args.validation_step) * 1_000_000
        records = problem.records
        binned = []
        for field in outputs.values():
            times, values = data[chosen[0]["$dtId"]].series[field]
            index = (times - START) // step
            binned.append(
                np.bincount(index, values, records)
                / np.maximum(np.bincount(index, None, records), 1)
            )
        simulated = problem.simulate({})[0]
        for o in range(len(outputs)):
            error = simulated[o, :, 0] - binned[o]
            _ = (
                np.sqrt(np.mean(error**2)),
                1 - np.sum(error**2) / np.sum((binned[o] - binned[o].mean()) ** 2),
            )
        bare.append(time.perf_counter() - began)
    points = sum(
        len(data[chosen[0]["$dtId"]].series[f][0])
        for f in ("speed", "suctionPressure", *outputs.values())
    )
    b.log(f"validation: ours {min(ours):.2f}s, bare {min(bare):.2f}s")
    return {
        "days": args.days,
        "points": points,
        "records": problem.records,
        "ours_s": min(ours),
        "bare_s": min(bare),
        "slowdown": b.ratio(min(ours), min(bare)),
        "r2": {o: m.r2 for o, m in result.overall.items()},
        "passed": result.passed,
        "compare_check": compare(problem.observed[0], result.predicted[0]).rmse,
    }


def main() -> None:
    """Run the three benchmarks and print one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=12.0)
    parser.add_argument("--step", default="2min")
    parser.add_argument("--fleet", type=int, default=100)
    parser.add_argument("--days", type=float, default=30.0)
    parser.add_argument("--validation-step", default="1min")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    args = parser.parse_args()
    if args.quick:
        args.hours, args.fleet, args.days = 4.0, 5, 1.0
    b.emit(
        {
            "benchmark": "fidelity",
            "machine": b.machine(),
            "calibration_one": bench_calibration(1, args),
            "calibration_fleet": bench_calibration(args.fleet, args),
            "validation_month": bench_validation(args),
        }
    )


if __name__ == "__main__":
    main()
