"""Helpers for the simulation tests: hand-made snapshots and small engine batches."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from twinops.sim.engines.base import Batch
from twinops.sim.inputs import InputPlan, InputSeries
from twinops.sim.model import BehaviorModel, SimClock

REPO = Path(__file__).resolve().parents[2]
START = 1_751_270_400_000_000  # 2025-06-30T08:00:00Z
PUMP = "twinops.sim.library.pump:PumpModel"


def snapshot_of(
    twins: Mapping[str, Mapping[str, float]] | list[str],
    states: Mapping[str, Mapping[str, float]] | None = None,
    replay: Mapping[str, Any] | None = None,
    start: int = START,
) -> dict[str, Any]:
    """A snapshot as take_snapshot would answer, without a platform."""
    bound = twins if isinstance(twins, Mapping) else {t: {} for t in twins}
    return {
        "format": 1,
        "start": start,
        "twins": [
            {
                "id": t,
                "parameters": dict(p),
                "states": dict((states or {}).get(t, {})),
                "sources": {},
            }
            for t, p in bound.items()
        ],
        "replay": dict(replay or {}),
    }


def batch_of(
    model: BehaviorModel,
    *,
    n: int,
    steps: int,
    step_s: float,
    params: Mapping[str, float | np.ndarray] | None = None,
    inputs: Mapping[str, float] | None = None,
    initial: Mapping[str, float | np.ndarray] | None = None,
    record_every: int = 1,
    seed: int = 0,
) -> Batch:
    """A batch of ``n`` members with the model's defaults, constant inputs, every step recorded."""
    signature = model.signature
    values = {
        p.name: np.atleast_1d(np.asarray(p.default, dtype=float)) for p in signature.parameters
    }
    for name, value in (params or {}).items():
        values[name] = np.atleast_1d(np.asarray(value, dtype=float))
    start_values: dict[str, np.ndarray] = {}
    for variable in signature.states:
        if initial and variable.name in initial:
            start_values[variable.name] = np.broadcast_to(initial[variable.name], (n,)).astype(
                float
            )
        elif isinstance(variable.initial, str):
            start_values[variable.name] = np.broadcast_to(values[variable.initial], (n,)).astype(
                float
            )
        else:
            start_values[variable.name] = np.full(n, float(variable.initial))
    series = []
    for declared in signature.inputs:
        given = (inputs or {}).get(declared.name)
        if given is None and isinstance(declared.default, str):
            series.append(
                InputSeries(declared.name, np.ones((1, 1)), scale=values[declared.default])
            )
        else:
            value = float(declared.default) if given is None else float(given)
            series.append(InputSeries(declared.name, np.full((1, 1), value)))
    records = list(range(0, steps + 1, record_every))
    if records[-1] != steps:
        records.append(steps)
    return Batch(
        n=n,
        params=values,
        initial=start_values,
        inputs=InputPlan(series, n, seed),
        clock=SimClock(START, round(step_s * 1_000_000), steps),
        record_steps=np.asarray(records, dtype=np.intp),
        outputs=signature.output_names,
        seed=seed,
    )
