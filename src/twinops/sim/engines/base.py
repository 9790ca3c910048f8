"""What every engine takes and gives: a batch of members, a sink for recorded outputs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from twinops.sim.inputs import InputPlan
from twinops.sim.model import SimClock

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

Sink = Callable[[int, Mapping[str, FloatArray]], None]
"""Called with (record index, each recorded output's values over the members), in order."""

Progress = Callable[[float, str], None]
"""Called now and then with (fraction done 0..1, message)."""


class SimulationError(RuntimeError):
    """A model or solver failed during a run (the message names the member and the cause)."""


@dataclass(frozen=True)
class Batch:
    """The members (runs x twins) an engine simulates together, and what to record.

    ``params`` arrays have shape ``(n,)`` or ``(1,)`` (shared); ``initial`` arrays ``(n,)``.
    ``record_steps`` are sorted step indices in ``[0, clock.steps]`` and end with
    ``clock.steps``.
    """

    n: int
    params: Mapping[str, FloatArray]
    initial: Mapping[str, FloatArray]
    inputs: InputPlan
    clock: SimClock
    record_steps: IntArray
    outputs: tuple[str, ...]
    seed: int

    def member_params(self, m: int) -> dict[str, float]:
        """The parameters of member ``m`` as floats."""
        return {
            name: float(values[m] if values.shape[0] > 1 else values[0])
            for name, values in self.params.items()
        }


def no_progress(fraction: float, message: str) -> None:
    """A progress callback that ignores everything."""


class Reporter:
    """Calls ``progress`` about every 5 % of the work, never per step."""

    def __init__(self, progress: Progress, total: int, what: str) -> None:
        self._progress = progress
        self._total = max(total, 1)
        self._every = max(1, self._total // 20)
        self._what = what

    def __call__(self, done: int) -> None:
        """Report ``done`` units of work when a reporting point is reached."""
        if done % self._every == 0:
            self._progress(min(done / self._total, 1.0), f"{self._what} {done}/{self._total}")
