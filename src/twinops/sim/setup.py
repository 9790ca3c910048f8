"""From a spec and its snapshot to engine batches: members, parameters, initial states, inputs.

Members are laid out point-major: member ``m`` is point ``m // T`` of the design (a run, a
sweep point, a Sobol row) for twin ``m % T``, with ``T`` twins. A parameter's value for a
member is, in order of precedence: the design's value, the spec's override, the twin's bound
property (from the snapshot), the model's default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from twinops.sim.engines.base import Batch, FloatArray
from twinops.sim.inputs import InputPlan, InputSeries
from twinops.sim.model import BehaviorModel, ModelSignature, SimClock
from twinops.sim.profiles import Constant, Replay, noise_of, replay_values, synthetic_values
from twinops.sim.scenario import ScenarioSpec
from twinops.sim.snapshot import replay_end, replay_field, replay_key

IntArray = NDArray[np.intp]


@dataclass(frozen=True)
class Members:
    """The members of one engine call: their design point, their twin, their parameters."""

    n: int
    points: int
    twin_index: IntArray
    params: dict[str, FloatArray]


@dataclass(frozen=True)
class Setup:
    """What every kind needs: the model, the twins, the clock, the bound values, the records."""

    spec: ScenarioSpec
    model: BehaviorModel
    snapshot: Mapping[str, Any]
    clock: SimClock
    base: dict[str, FloatArray]
    """Per parameter, its value for each twin (shape ``(T,)``) before spec overrides."""
    record_steps: IntArray

    @classmethod
    def build(cls, spec: ScenarioSpec, snapshot: Mapping[str, Any], model: BehaviorModel) -> Setup:
        """The setup of a spec, its snapshot and its (resolved) model."""
        signature = model.signature
        entries = {entry["id"]: entry for entry in snapshot["twins"]}
        twins = [entries[twin_id] for twin_id in spec.twins]
        # A twin's own values (a per-twin calibration) come before its nameplate.
        own = [{**t["parameters"], **spec.twin_parameters.get(t["id"], {})} for t in twins]
        base = {
            p.name: np.array([float(t.get(p.name, p.default)) for t in own], dtype=np.float64)
            for p in signature.parameters
        }
        clock = SimClock(int(snapshot["start"]), spec.step, spec.steps)
        every = spec.record_every
        steps = list(range(0, spec.steps + 1, every))
        if steps[-1] != spec.steps:
            steps.append(spec.steps)
        return cls(spec, model, snapshot, clock, base, np.asarray(steps, dtype=np.intp))

    @property
    def signature(self) -> ModelSignature:
        """The model's signature."""
        return self.model.signature

    @property
    def twins(self) -> tuple[str, ...]:
        """The twins, in spec order."""
        return self.spec.twins

    @property
    def outputs(self) -> tuple[str, ...]:
        """The recorded outputs."""
        return self.spec.outputs or self.signature.output_names

    def record_times(self) -> NDArray[np.int64]:
        """The recorded instants (epoch µs)."""
        return (
            self.clock.start_us + self.record_steps.astype(np.int64) * self.clock.step_us
        ).astype(np.int64)

    def members(
        self,
        points: Mapping[str, FloatArray],
        count: int,
        overrides: Mapping[str, float],
    ) -> Members:
        """``count`` design points x the twins, with each member's parameters."""
        t = len(self.twins)
        n = count * t
        params: dict[str, FloatArray] = {}
        for name in self.signature.parameter_names:
            if name in points:
                params[name] = np.repeat(np.asarray(points[name], dtype=np.float64), t)
            elif name in overrides:
                params[name] = np.array([overrides[name]], dtype=np.float64)
            else:
                values = self.base[name]
                same = bool(np.all(values == values[0]))
                params[name] = values[:1].copy() if same else np.tile(values, count)
        twin_index = np.tile(np.arange(t, dtype=np.intp), count)
        return Members(n, count, twin_index, params)

    def batch(self, members: Members, profiles: Mapping[str, Any]) -> Batch:
        """The engine batch of these members under these input profiles."""
        return Batch(
            n=members.n,
            params=members.params,
            initial=self._initial(members),
            inputs=self._inputs(members, profiles),
            clock=self.clock,
            record_steps=self.record_steps,
            outputs=self.outputs,
            seed=self.spec.seed,
        )

    def _initial(self, members: Members) -> dict[str, FloatArray]:
        entries = {entry["id"]: entry for entry in self.snapshot["twins"]}
        bound = [entries[twin_id]["states"] for twin_id in self.twins]
        initial: dict[str, FloatArray] = {}
        for variable in self.signature.states:
            fallback = (
                members.params[variable.initial]
                if isinstance(variable.initial, str)
                else np.array([variable.initial], dtype=np.float64)
            )
            values = np.broadcast_to(fallback, (members.n,)).astype(np.float64)
            for j, states in enumerate(bound):
                if variable.name in states:
                    values[members.twin_index == j] = float(states[variable.name])
            initial[variable.name] = values
        return initial

    def _inputs(self, members: Members, profiles: Mapping[str, Any]) -> InputPlan:
        spec, clock = self.spec, self.clock
        series: list[InputSeries] = []
        for declared in self.signature.inputs:
            profile = profiles.get(declared.name)
            if profile is None:
                if isinstance(declared.default, str):
                    series.append(
                        InputSeries(
                            declared.name, np.ones((1, 1)), scale=members.params[declared.default]
                        )
                    )
                else:
                    series.append(
                        InputSeries(declared.name, np.full((1, 1), float(declared.default)))
                    )
                continue
            if isinstance(profile, Replay):
                series.append(self._replayed(declared.name, profile, members))
                continue
            if isinstance(profile, Constant):
                table = np.full((1, 1), profile.value)
            else:
                table = synthetic_values(profile, clock.steps, clock.step_us)[:, None]
            scale = members.params[profile.relative_to] if profile.relative_to else None
            series.append(
                InputSeries(declared.name, table, noise_sd=noise_of(profile), scale=scale)
            )
        return InputPlan(series, members.n, spec.seed)

    def _replayed(self, name: str, profile: Replay, members: Members) -> InputSeries:
        spec, clock = self.spec, self.clock
        field = replay_field(spec, self.signature, name, profile)
        recorded = self.snapshot["replay"][
            replay_key(field, profile.start, replay_end(spec, profile))
        ]
        columns = []
        for twin_id in self.twins:
            data = recorded[twin_id]
            times = np.asarray(data["times"], dtype=np.float64)
            values = np.asarray(data["values"], dtype=np.float64)
            initial = data["initial"]
            columns.append(
                replay_values(
                    times,
                    values,
                    None if initial is None else float(initial),
                    clock.steps,
                    clock.step_us,
                )
            )
        table = np.stack(columns, axis=1)
        index = members.twin_index if len(self.twins) > 1 else None
        return InputSeries(name, table, columns=index)
