"""A replay problem: a model replayed over a window of recorded inputs, next to what was observed.

The time grid is the window's start, then every ``step`` (``R`` records); members are laid out
point-major like ``sim.setup`` (member ``m`` is candidate ``m // T`` for twin ``m % T``), so one
engine call simulates many candidate parameter sets for every twin at once — a whole
finite-difference Jacobian or an optimizer's population in one batch.

Observations are binned onto the grid: the value at record ``k`` is the mean of the points in
``[t_k, t_k + step)``, NaN where there are none (gaps).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from twinops.errors import InvalidInput
from twinops.fidelity.snapshot import FORMAT, scenario_of
from twinops.sim.engines import simulate
from twinops.sim.engines.base import Progress, no_progress
from twinops.sim.model import BehaviorModel, Parameter
from twinops.sim.references import resolve_model
from twinops.sim.setup import Members, Setup
from twinops.sim.sinks import SeriesSink

FloatArray = NDArray[np.float64]


def bin_observations(times: FloatArray, values: FloatArray, step: int, records: int) -> FloatArray:
    """Mean of the points (µs after the start) in each ``[k·step, (k+1)·step)``; NaN if none."""
    out = np.full(records, np.nan)
    if len(times) == 0:
        return out
    index = np.floor_divide(np.asarray(times, dtype=np.int64), step)
    keep = (index >= 0) & (index < records) & np.isfinite(values)
    index, kept = index[keep], np.asarray(values, dtype=np.float64)[keep]
    counts = np.bincount(index, minlength=records)
    sums = np.bincount(index, weights=kept, minlength=records)
    filled = counts > 0
    out[filled] = sums[filled] / counts[filled]
    return out


@dataclass(frozen=True)
class ReplayProblem:
    """A model, its replay setup, the compared outputs and the observations on the grid."""

    setup: Setup
    outputs: tuple[str, ...]
    observed: FloatArray
    """Shape ``(outputs, records, twins)``, NaN where nothing was observed."""
    fixed: Mapping[str, float]

    @property
    def model(self) -> BehaviorModel:
        """The behavior model."""
        return self.setup.model

    @property
    def twins(self) -> tuple[str, ...]:
        """The twins, in spec order."""
        return self.setup.twins

    @property
    def records(self) -> int:
        """Points of the time grid."""
        return len(self.setup.record_steps)

    def times(self) -> NDArray[np.int64]:
        """The grid's instants (epoch µs)."""
        return self.setup.record_times()

    def parameter(self, name: str) -> Parameter:
        """A declared parameter of the model."""
        found = self.model.signature.parameter(name)
        if found is None:
            raise KeyError(name)
        return found

    def base_values(self, name: str) -> FloatArray:
        """A parameter's value per twin before fitting: fixed, else bound, else default."""
        if name in self.fixed:
            return np.full(len(self.twins), float(self.fixed[name]))
        return np.asarray(self.setup.base[name], dtype=np.float64)

    def simulate(
        self,
        values: Mapping[str, FloatArray],
        points: int = 1,
        progress: Progress = no_progress,
    ) -> FloatArray:
        """Outputs for ``points`` candidates, shape ``(points, outputs, records, twins)``.

        ``values`` gives parameters per member (``points * twins``, point-major) or per
        twin (``twins``, the same for every point); the others are fixed or the twins' own.
        """
        t = len(self.twins)
        base = self.setup.members({}, points, self.fixed)
        params = dict(base.params)
        for name, given in values.items():
            array = np.asarray(given, dtype=np.float64)
            params[name] = np.tile(array, points) if array.shape[0] == t and points > 1 else array
        members = Members(base.n, points, base.twin_index, params)
        sink = SeriesSink(self.outputs, self.records, members.n)
        batch = self.setup.batch(members, self.setup.spec.inputs)
        simulate(self.model, batch, sink, progress)
        stacked = np.stack([sink.values[o] for o in self.outputs])  # (O, R, points * T)
        return np.ascontiguousarray(
            stacked.reshape(len(self.outputs), self.records, points, t).transpose(2, 0, 1, 3)
        )

    def subset(self, indices: list[int]) -> ReplayProblem:
        """The same problem for some of the twins."""
        twins = tuple(self.twins[i] for i in indices)
        spec = self.setup.spec.model_copy(update={"twins": twins})
        setup = Setup.build(spec, self.setup.snapshot, self.model)
        return ReplayProblem(setup, self.outputs, self.observed[:, :, indices], self.fixed)


def build_problem(
    spec: Any,
    snapshot: Mapping[str, Any],
    outputs: Mapping[str, str | None],
    fixed: Mapping[str, float],
) -> ReplayProblem:
    """The replay problem of a fidelity spec and its snapshot (no database)."""
    if snapshot.get("format") != FORMAT:
        raise InvalidInput.single("snapshot", "format", f"a snapshot of format {FORMAT} is needed")
    model = resolve_model(spec.model)
    scenario = scenario_of(spec, tuple(outputs), fixed)
    setup = Setup.build(scenario, snapshot["scenario"], model)
    records = len(setup.record_steps)
    observed = np.full((len(outputs), records, len(spec.twins)), np.nan)
    for i, output in enumerate(outputs):
        for j, twin in enumerate(spec.twins):
            data = snapshot["observed"][output][twin]
            observed[i, :, j] = bin_observations(
                np.asarray(data["times"], dtype=np.int64),
                np.asarray(data["values"], dtype=np.float64),
                spec.step,
                records,
            )
    return ReplayProblem(setup, tuple(outputs), observed, dict(fixed))
