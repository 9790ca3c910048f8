"""The vectorized engine: one NumPy step over every member at once, step after step."""

from __future__ import annotations

import numpy as np

from twinops.sim.engines.base import Batch, FloatArray, Progress, Reporter, SimulationError, Sink
from twinops.sim.model import StepContext, VectorModel
from twinops.sim.randomness import STEP, MemberNoise


def run_vectorized(
    model: VectorModel, batch: Batch, sink: Sink, progress: Progress
) -> dict[str, FloatArray]:
    """Step ``model`` over all members from step 0 to ``clock.steps``; answer the final state."""
    clock = batch.clock
    n = batch.n
    params: dict[str, FloatArray] = dict(batch.params)
    params.update(model.prepare(params, clock.dt))
    state: dict[str, FloatArray] = {
        name: np.array(v, dtype=np.float64) for name, v in batch.initial.items()
    }
    noise = MemberNoise(batch.seed, n, STEP)
    records = batch.record_steps.tolist()
    next_record = 0
    report = Reporter(progress, clock.steps, "step")
    for k in range(clock.steps + 1):
        recording = next_record < len(records) and records[next_record] == k
        ctx = StepContext(
            k=k,
            t=clock.seconds(k),
            dt=clock.dt,
            time_us=clock.time_us(k),
            n=n,
            noise=noise,
            record=recording,
        )
        new_state, outputs = model.step(ctx, state, batch.inputs.at(k), params)
        if recording:
            sink(next_record, _recorded(outputs, batch.outputs, n, k))
            next_record += 1
        if k < clock.steps:
            state = new_state
        report(k)
    return {name: np.broadcast_to(v, (n,)).copy() for name, v in state.items()}


def _recorded(
    outputs: dict[str, FloatArray], names: tuple[str, ...], n: int, k: int
) -> dict[str, FloatArray]:
    try:
        return {name: np.broadcast_to(outputs[name], (n,)) for name in names}
    except KeyError as exc:
        raise SimulationError(f"step {k}: the model gave no output {exc.args[0]!r}") from None
