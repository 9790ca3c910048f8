"""What-if: the baseline and the changed scenario, run with the same seed (common random
numbers), answering each output's final, mean and max in both and their difference."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from twinops.sim.engines import simulate
from twinops.sim.engines.base import Progress
from twinops.sim.setup import Setup
from twinops.sim.sinks import SeriesSink
from twinops.sim.summary import number, stage
from twinops.sim.tables import labels, series_table

VARIANTS = ("baseline", "scenario")
STATISTICS = ("final", "mean", "max")


def run(setup: Setup, progress: Progress) -> tuple[dict[str, pa.Table], dict[str, Any]]:
    """Run baseline and scenario; tables ``series`` and ``deltas``."""
    spec = setup.spec
    changes = spec.changes
    if changes is None:
        raise ValueError("a what-if spec has changes (parse_spec checks it)")
    variants = {
        "baseline": (dict(spec.parameters), dict(spec.inputs)),
        "scenario": (
            {**spec.parameters, **changes.parameters},
            {**spec.inputs, **changes.inputs},
        ),
    }
    records = len(setup.record_steps)
    series: dict[str, SeriesSink] = {}
    for i, (variant, (overrides, profiles)) in enumerate(variants.items()):
        members = setup.members({}, 1, overrides)
        series[variant] = SeriesSink(setup.outputs, records, members.n)
        progress_of_variant = stage(progress, i / 2, (i + 1) / 2, variant)
        simulate(setup.model, setup.batch(members, profiles), series[variant], progress_of_variant)
    twins = len(setup.twins)
    twin_index = np.arange(twins, dtype=np.intp)
    rows = records * twins * len(setup.outputs)
    parts = [
        series_table(series[v].values, setup.record_times(), setup.twins, twin_index).add_column(
            0, "variant", labels(VARIANTS, np.full(rows, k))
        )
        for k, v in enumerate(VARIANTS)
    ]
    tables = {"series": pa.concat_tables(parts), "deltas": _deltas_table(setup, series)}
    return tables, {"deltas": _deltas_summary(setup, series)}


def _deltas_table(setup: Setup, series: dict[str, SeriesSink]) -> pa.Table:
    outputs = setup.outputs
    twins = len(setup.twins)
    columns: dict[str, Any] = {
        "twin": labels(setup.twins, np.tile(np.arange(twins), len(outputs))),
        "output": labels(outputs, np.repeat(np.arange(len(outputs)), twins)),
    }
    for statistic in STATISTICS:
        base = np.concatenate([series["baseline"].metric(o, statistic) for o in outputs])
        changed = np.concatenate([series["scenario"].metric(o, statistic) for o in outputs])
        columns[f"baseline_{statistic}"] = pa.array(base)
        columns[f"scenario_{statistic}"] = pa.array(changed)
        columns[f"delta_{statistic}"] = pa.array(changed - base)
    return pa.table(columns)


def _deltas_summary(setup: Setup, series: dict[str, SeriesSink]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for j, twin in enumerate(setup.twins):
        per_output: dict[str, Any] = {}
        for output in setup.outputs:
            entry = {}
            for statistic in STATISTICS:
                base = series["baseline"].metric(output, statistic)[j]
                changed = series["scenario"].metric(output, statistic)[j]
                entry[statistic] = {
                    "baseline": number(base),
                    "scenario": number(changed),
                    "delta": number(changed - base),
                }
            per_output[output] = entry
        summary[twin] = per_output
    return summary
