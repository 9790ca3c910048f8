"""Sensitivity: Sobol' indices (SALib, first and total order with bootstrap confidence) or
one-at-a-time effects, of each output's metric (final, mean or max over the horizon)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from twinops.sim.design import oat_points, sobol_points, varied_distributions
from twinops.sim.engines import simulate
from twinops.sim.engines.base import Progress
from twinops.sim.setup import Setup
from twinops.sim.sinks import MetricSink
from twinops.sim.summary import number
from twinops.sim.tables import labels

NUM_RESAMPLES = 100


def run(setup: Setup, progress: Progress) -> tuple[dict[str, pa.Table], dict[str, Any]]:
    """Run the design; tables ``points`` and ``indices``."""
    spec = setup.spec
    distributions, _ = varied_distributions(spec, setup.signature)
    if spec.method == "oat":
        points, point_labels = oat_points(distributions)
    else:
        points = sobol_points(distributions, spec.samples or 1, spec.seed)
        point_labels = []
    count = len(next(iter(points.values())))
    members = setup.members(points, count, spec.parameters)
    sink = MetricSink(setup.outputs, len(setup.record_steps), members.n)
    simulate(setup.model, setup.batch(members, spec.inputs), sink, progress)
    names = sorted(points)
    metric = spec.metric or "final"
    twins = len(setup.twins)
    # Rows of the design for twin j: members j, j + T, j + 2T, ...
    by_twin = {
        output: sink.metric(output, metric).reshape(count, twins) for output in setup.outputs
    }
    if spec.method == "oat":
        table, summary = _oat(setup, names, points, point_labels, by_twin)
    else:
        table, summary = _sobol(setup, names, by_twin)
    tables = {
        "points": pa.table(
            {
                "point": pa.array(np.tile(np.arange(count), len(names))),
                "parameter": labels(names, np.repeat(np.arange(len(names)), count)),
                "value": pa.array(np.concatenate([points[n] for n in names])),
            }
        ),
        "indices": table,
    }
    return tables, {
        "method": spec.method,
        "metric": metric,
        "parameters": names,
        "indices": summary,
    }


def _sobol(
    setup: Setup, names: list[str], by_twin: dict[str, np.ndarray]
) -> tuple[pa.Table, dict[str, Any]]:
    from SALib.analyze import sobol as sobol_analyze

    spec = setup.spec
    problem = {"num_vars": len(names), "names": names, "bounds": [[0.0, 1.0]] * len(names)}
    rows: dict[str, list[Any]] = {
        k: [] for k in ("twin", "output", "parameter", "S1", "S1_conf", "ST", "ST_conf")
    }
    summary: dict[str, Any] = {}
    for j, twin in enumerate(setup.twins):
        per_output: dict[str, Any] = {}
        for output, values in by_twin.items():
            y = np.asarray(values[:, j], dtype=np.float64)
            if not np.all(np.isfinite(y)) or float(np.var(y)) == 0.0:
                result = {
                    k: np.full(len(names), np.nan) for k in ("S1", "S1_conf", "ST", "ST_conf")
                }
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    result = sobol_analyze.analyze(
                        problem,
                        y,
                        calc_second_order=False,
                        num_resamples=NUM_RESAMPLES,
                        conf_level=spec.confidence or 0.95,
                        seed=spec.seed,
                    )
            entry = {}
            for i, name in enumerate(names):
                values_i = {k: number(result[k][i]) for k in ("S1", "S1_conf", "ST", "ST_conf")}
                entry[name] = values_i
                rows["twin"].append(twin)
                rows["output"].append(output)
                rows["parameter"].append(name)
                for k, v in values_i.items():
                    rows[k].append(v)
            per_output[output] = entry
        summary[twin] = per_output
    return _indices_table(rows, ("S1", "S1_conf", "ST", "ST_conf")), summary


def _oat(
    setup: Setup,
    names: list[str],
    points: dict[str, np.ndarray],
    point_labels: list[tuple[str, str]],
    by_twin: dict[str, np.ndarray],
) -> tuple[pa.Table, dict[str, Any]]:
    position = {label: i for i, label in enumerate(point_labels)}
    columns = ("base", "low", "high", "effect", "elasticity")
    rows: dict[str, list[Any]] = {k: [] for k in ("twin", "output", "parameter", *columns)}
    summary: dict[str, Any] = {}
    for j, twin in enumerate(setup.twins):
        per_output: dict[str, Any] = {}
        for output, values in by_twin.items():
            base = float(values[0, j])
            entry = {}
            for name in names:
                low = float(values[position[(name, "low")], j])
                high = float(values[position[(name, "high")], j])
                p_low = float(points[name][position[(name, "low")]])
                p_high = float(points[name][position[(name, "high")]])
                p_base = float(points[name][0])
                effect = high - low
                relative_change = (p_high - p_low) / p_base if p_base else float("nan")
                elasticity = (
                    effect / base / relative_change if base and relative_change else float("nan")
                )
                figures = {
                    "base": number(base),
                    "low": number(low),
                    "high": number(high),
                    "effect": number(effect),
                    "elasticity": number(elasticity),
                }
                entry[name] = figures
                rows["twin"].append(twin)
                rows["output"].append(output)
                rows["parameter"].append(name)
                for k, v in figures.items():
                    rows[k].append(v)
            per_output[output] = entry
        summary[twin] = per_output
    return _indices_table(rows, columns), summary


def _indices_table(rows: Mapping[str, Sequence[Any]], figures: Sequence[str]) -> Any:
    """One row per (twin, output, parameter) with its float figures."""
    return pa.table(
        {
            "twin": pa.array(rows["twin"], pa.string()).dictionary_encode(),
            "output": pa.array(rows["output"], pa.string()).dictionary_encode(),
            "parameter": pa.array(rows["parameter"], pa.string()).dictionary_encode(),
            **{k: pa.array(rows[k], pa.float64()) for k in figures},
        }
    )
