"""Sweeps: a grid or random points over parameters, every point x every twin in one batch."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from twinops.sim.design import grid_points, random_points
from twinops.sim.engines import simulate
from twinops.sim.engines.base import Progress
from twinops.sim.setup import Setup
from twinops.sim.sinks import MetricSink, SeriesSink
from twinops.sim.summary import number
from twinops.sim.tables import labels, member_table, series_table

SERIES_LIMIT = 2_000_000
"""Sweeps keep whole series only up to this many values (else metrics only)."""


def run(setup: Setup, progress: Progress) -> tuple[dict[str, pa.Table], dict[str, Any]]:
    """Run every point; tables ``points``, ``metrics`` (and ``series`` when small)."""
    spec = setup.spec
    if spec.grid is not None:
        points = grid_points(spec.grid)
    else:
        points = random_points(spec.random or {}, spec.samples or 0, spec.seed)
    count = len(next(iter(points.values())))
    members = setup.members(points, count, spec.parameters)
    records = len(setup.record_steps)
    metrics = MetricSink(setup.outputs, records, members.n)
    keep_series = members.n * records * len(setup.outputs) <= SERIES_LIMIT
    series = SeriesSink(setup.outputs, records, members.n) if keep_series else None

    def sink(index: int, outputs: Any) -> None:
        metrics(index, outputs)
        if series is not None:
            series(index, outputs)

    simulate(setup.model, setup.batch(members, spec.inputs), sink, progress)
    point_index = np.repeat(np.arange(count, dtype=np.intp), len(setup.twins))
    names = sorted(points)
    tables = {
        "points": pa.table(
            {
                "point": pa.array(np.tile(np.arange(count), len(names))),
                "parameter": labels(names, np.repeat(np.arange(len(names)), count)),
                "value": pa.array(np.concatenate([points[n] for n in names])),
            }
        ),
        "metrics": member_table(
            {
                "final": metrics.final,
                "mean": {o: metrics.mean(o) for o in setup.outputs},
                "max": metrics.max,
            },
            setup.twins,
            members.twin_index,
            point_index,
            "point",
            "output",
        ),
    }
    if series is not None:
        tables["series"] = series_table(
            series.values,
            setup.record_times(),
            setup.twins,
            members.twin_index,
            point_index,
            point_column="point",
        )
    summary = {
        "points": count,
        "parameters": names,
        "series": keep_series,
        "extremes": _extremes(setup, metrics, points, members.twin_index),
    }
    return tables, summary


def _extremes(
    setup: Setup, metrics: MetricSink, points: dict[str, Any], twin_index: Any
) -> dict[str, Any]:
    """Per output, the members with the lowest and highest final value, and their points."""
    twins = len(setup.twins)
    found: dict[str, Any] = {}
    for output in setup.outputs:
        finals = metrics.final[output]
        if not np.isfinite(finals).any():
            continue
        entry = {}
        for which, m in (("min", int(np.nanargmin(finals))), ("max", int(np.nanargmax(finals)))):
            entry[which] = {
                "value": number(finals[m]),
                "point": m // twins,
                "twin": setup.twins[int(twin_index[m])],
                "parameters": {name: number(values[m // twins]) for name, values in points.items()},
            }
        found[output] = entry
    return found
