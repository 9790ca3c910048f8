"""The ODE engine: each member integrated with ``scipy.integrate.solve_ivp``.

Inputs are held constant over each step (zero-order hold), so the integration restarts only
where an input changes: a run with constant inputs is one ``solve_ivp`` call over the horizon.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import pairwise

import numpy as np
from scipy.integrate import solve_ivp

from twinops.sim.engines.base import (
    Batch,
    FloatArray,
    IntArray,
    Progress,
    Reporter,
    SimulationError,
    Sink,
)
from twinops.sim.model import OdeModel


def run_ode(model: OdeModel, batch: Batch, sink: Sink, progress: Progress) -> dict[str, FloatArray]:
    """Integrate every member over the horizon; answer the final state."""
    clock = batch.clock
    states = model.signature.state_names
    inputs = batch.inputs.full(clock.steps)
    records = batch.record_steps
    recorded = {name: np.empty((len(records), batch.n)) for name in batch.outputs}
    final = {name: np.empty(batch.n) for name in states}
    report = Reporter(progress, batch.n, "run")
    for m in range(batch.n):
        params = batch.member_params(m)
        series = {name: values[:, m] for name, values in inputs.items()}
        x = np.array([batch.initial[name][m] for name in states], dtype=np.float64)
        x = _integrate(model, m, params, series, x, records, clock.dt, recorded)
        for i, name in enumerate(states):
            final[name][m] = x[i]
        report(m + 1)
    for i in range(len(records)):
        sink(i, {name: values[i] for name, values in recorded.items()})
    return final


def _integrate(
    model: OdeModel,
    m: int,
    params: Mapping[str, float],
    series: Mapping[str, FloatArray],
    x: FloatArray,
    records: IntArray,
    dt: float,
    recorded: dict[str, FloatArray],
) -> FloatArray:
    """Integrate one member segment by segment (inputs constant within a segment)."""
    steps = int(records[-1])
    bounds = _segments(series, steps)
    record_list = records.tolist()
    i = 0
    if record_list[0] == 0:
        _record(model, recorded, 0, m, 0.0, x, _inputs_at(series, 0), params)
        i = 1
    for a, b in pairwise(bounds):
        u = _inputs_at(series, a)
        inside: list[tuple[int, int]] = []  # (record index, step)
        while i < len(record_list) and record_list[i] <= b:
            inside.append((i, record_list[i]))
            i += 1
        t_eval = [k * dt for _, k in inside] if inside else None
        t_end = b * dt

        def rhs(t: float, y: FloatArray, u: Mapping[str, float] = u) -> FloatArray:
            return model.derivatives(t, y, u, params)

        solution = solve_ivp(
            rhs,
            (a * dt, t_end),
            x,
            method=model.method,
            t_eval=t_eval if t_eval is None or t_eval[-1] == t_end else [*t_eval, t_end],
            rtol=model.rtol,
            atol=model.atol,
        )
        if not solution.success:
            raise SimulationError(f"run {m}: the solver failed at t={a * dt}s: {solution.message}")
        for j, (index, k) in enumerate(inside):
            _record(
                model, recorded, index, m, k * dt, solution.y[:, j], _inputs_at(series, k), params
            )
        x = np.array(solution.y[:, -1], dtype=np.float64)
    return x


def _segments(series: Mapping[str, FloatArray], steps: int) -> list[int]:
    """Step indices where any input changes, with 0 and ``steps`` at the ends."""
    changed = np.zeros(steps + 1, dtype=bool)
    for values in series.values():
        changed[1:] |= values[1 : steps + 1] != values[:steps]
    inner = np.flatnonzero(changed[1:steps]) + 1
    return [0, *inner.tolist(), steps]


def _inputs_at(series: Mapping[str, FloatArray], k: int) -> dict[str, float]:
    return {name: float(values[k]) for name, values in series.items()}


def _record(
    model: OdeModel,
    recorded: dict[str, FloatArray],
    index: int,
    m: int,
    t: float,
    x: FloatArray,
    u: Mapping[str, float],
    params: Mapping[str, float],
) -> None:
    outputs = model.outputs(t, np.asarray(x, dtype=np.float64), u, params)
    for name, values in recorded.items():
        values[index, m] = outputs[name]
