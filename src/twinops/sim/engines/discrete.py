"""The discrete-event engine: each member is a SimPy environment observed at recorded steps.

SimPy time is seconds since the simulation start. An observation at time ``t`` sees the
system after every event before ``t`` and before the events at exactly ``t``.
"""

from __future__ import annotations

import math

import numpy as np
import simpy

from twinops.sim.engines.base import Batch, FloatArray, Progress, Reporter, SimulationError, Sink
from twinops.sim.model import DiscreteEventModel, RunContext
from twinops.sim.randomness import run_generator


def run_discrete(
    model: DiscreteEventModel, batch: Batch, sink: Sink, progress: Progress
) -> dict[str, FloatArray]:
    """Run every member's environment to the horizon; answer the final state (as observed)."""
    clock = batch.clock
    inputs = batch.inputs.full(clock.steps)
    records = batch.record_steps.tolist()
    recorded = {name: np.empty((len(records), batch.n)) for name in batch.outputs}
    states = model.signature.state_names
    final = {name: np.full(batch.n, math.nan) for name in states}
    report = Reporter(progress, batch.n, "run")
    for m in range(batch.n):
        run = RunContext(
            member=m,
            params=batch.member_params(m),
            initial={name: float(values[m]) for name, values in batch.initial.items()},
            inputs={name: values[:, m] for name, values in inputs.items()},
            clock=clock,
            rng=run_generator(batch.seed, m),
        )
        env = simpy.Environment(initial_time=0.0)
        observe = model.build(env, run)
        observed: dict[str, float] = {}
        for i, k in enumerate(records):
            t = clock.seconds(k)
            if t > env.now:
                env.run(until=t)
            observed = dict(observe())
            for name, values in recorded.items():
                if name not in observed:
                    raise SimulationError(f"run {m}: the model observed no output {name!r}")
                values[i, m] = observed[name]
        for name in states:
            final[name][m] = observed.get(name, math.nan)
        report(m + 1)
    for i in range(len(records)):
        sink(i, {name: values[i] for name, values in recorded.items()})
    return final
