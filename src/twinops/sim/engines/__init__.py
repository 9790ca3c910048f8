"""Engines: the model picks one (``model.engine``), :func:`simulate` dispatches to it."""

from __future__ import annotations

from twinops.sim.engines.base import (
    Batch,
    FloatArray,
    Progress,
    SimulationError,
    Sink,
    no_progress,
)
from twinops.sim.model import BehaviorModel, DiscreteEventModel, OdeModel, VectorModel

__all__ = ["Batch", "Progress", "SimulationError", "Sink", "simulate"]


def simulate(
    model: BehaviorModel, batch: Batch, sink: Sink, progress: Progress = no_progress
) -> dict[str, FloatArray]:
    """Run ``batch`` on the model's own engine; recorded outputs go to ``sink``; answer the
    final state of every member."""
    if isinstance(model, VectorModel):
        from twinops.sim.engines.vectorized import run_vectorized

        return run_vectorized(model, batch, sink, progress)
    if isinstance(model, OdeModel):
        from twinops.sim.engines.ode import run_ode

        return run_ode(model, batch, sink, progress)
    if isinstance(model, DiscreteEventModel):
        from twinops.sim.engines.discrete import run_discrete

        return run_discrete(model, batch, sink, progress)
    if model.engine == "fmu":
        from twinops.sim.engines.fmu import FmuModel, run_fmu

        if isinstance(model, FmuModel):
            return run_fmu(model, batch, sink, progress)
    raise TypeError(f"{type(model).__name__} declares engine {model.engine!r} but no step for it")
