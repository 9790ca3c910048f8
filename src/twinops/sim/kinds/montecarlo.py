"""Monte Carlo: every run x twin draws its uncertain parameters, all step together; the result
is percentiles over the runs at each recorded time, with confidence intervals of the mean.

Each member draws from its own batch-invariant stream per parameter, so a run's values do not
depend on how many runs there are. Samples outside a parameter's bounds are clipped to them
(and counted in the summary).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pyarrow as pa

from twinops.sim.design import sampled_distributions
from twinops.sim.engines import simulate
from twinops.sim.engines.base import Progress
from twinops.sim.randomness import member_uniforms
from twinops.sim.setup import Setup
from twinops.sim.sinks import PercentileSink
from twinops.sim.summary import number
from twinops.sim.tables import labels, member_table, times


def percentile_name(q: float) -> str:
    """The column of a percentile: ``p5``, ``p50``, ``p2.5``."""
    return f"p{q:g}"


def run(setup: Setup, progress: Progress) -> tuple[dict[str, pa.Table], dict[str, Any]]:
    """Run every sample; tables ``percentiles``, ``finals`` and ``samples``."""
    spec = setup.spec
    signature = setup.signature
    runs = spec.runs or 1
    twins = len(setup.twins)
    n = runs * twins
    distributions = sampled_distributions(spec, signature)
    samples: dict[str, np.ndarray] = {}
    clipped: dict[str, int] = {}
    for name, distribution in distributions.items():
        parameter = signature.parameter(name)
        drawn = distribution.sample(member_uniforms(spec.seed, n, name))
        low = -np.inf if parameter is None or parameter.lower is None else parameter.lower
        high = np.inf if parameter is None or parameter.upper is None else parameter.upper
        inside = np.clip(drawn, low, high)
        clipped[name] = int(np.count_nonzero(inside != drawn))
        samples[name] = inside
    members = setup.members({}, runs, spec.parameters)
    params = dict(members.params)
    params.update(samples)  # per member (run x twin), not per run: every pump draws its own
    members = replace(members, params=params)
    percentiles = spec.percentiles or (50.0,)
    records = len(setup.record_steps)
    sink = PercentileSink(setup.outputs, records, runs, twins, percentiles, spec.confidence or 0.95)
    simulate(setup.model, setup.batch(members, spec.inputs), sink, progress)
    run_index = np.repeat(np.arange(runs, dtype=np.intp), twins)
    tables = {
        "percentiles": _percentile_table(setup, sink, percentiles),
        "finals": member_table(
            {"value": sink.final}, setup.twins, members.twin_index, run_index, "run", "output"
        ),
        "samples": member_table(
            {"value": samples}, setup.twins, members.twin_index, run_index, "run", "parameter"
        ),
    }
    summary = {
        "runs": runs,
        "sampled": sorted(distributions),
        "clipped": clipped,
        "percentiles": list(percentiles),
        "confidence": spec.confidence,
        "final": _final_summary(setup, sink, percentiles),
    }
    return tables, summary


def _percentile_table(setup: Setup, sink: PercentileSink, percentiles: Any) -> pa.Table:
    outputs = setup.outputs
    records, twins = sink.records, sink.twins
    per_output = records * twins
    record_times = setup.record_times()
    columns: dict[str, Any] = {
        "twin": labels(setup.twins, np.tile(np.arange(twins), records * len(outputs))),
        "time": times(np.tile(np.repeat(record_times, twins), len(outputs))),
        "output": labels(outputs, np.repeat(np.arange(len(outputs)), per_output)),
    }
    for i, q in enumerate(percentiles):
        columns[percentile_name(q)] = pa.array(
            np.concatenate([sink.percentiles[o][:, i, :].reshape(-1) for o in outputs])
        )
    mean = np.concatenate([sink.mean[o].reshape(-1) for o in outputs])
    half = np.concatenate([sink.half_width(o).reshape(-1) for o in outputs])
    columns["mean"] = pa.array(mean)
    columns["sd"] = pa.array(np.concatenate([sink.sd[o].reshape(-1) for o in outputs]))
    columns["ci_low"] = pa.array(mean - half)
    columns["ci_high"] = pa.array(mean + half)
    return pa.table(columns)


def _final_summary(setup: Setup, sink: PercentileSink, percentiles: Any) -> dict[str, Any]:
    last = sink.records - 1
    summary: dict[str, Any] = {}
    for j, twin in enumerate(setup.twins):
        per_output: dict[str, Any] = {}
        for output in setup.outputs:
            mean = sink.mean[output][last, j]
            half = sink.half_width(output)[last, j]
            entry = {
                percentile_name(q): number(sink.percentiles[output][last, i, j])
                for i, q in enumerate(percentiles)
            }
            entry.update(
                mean=number(mean),
                sd=number(sink.sd[output][last, j]),
                ciLow=number(mean - half),
                ciHigh=number(mean + half),
            )
            per_output[output] = entry
        summary[twin] = per_output
    return summary
