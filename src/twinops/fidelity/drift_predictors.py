"""One-step-ahead predictors whose residuals feed the drift detectors.

A :class:`StepPredictor` predicts, for many points at once, the value each point's field takes
at the point's event time from what the monitor knew just before the point: the field's own
previous value and smoothed level, the time since the previous value, and — for predictors
that declare ``fields`` — the twin's latest value of every one of those fields at that event
time (other fields stamped at the same instant included, the point's own value excluded).
The last lets a model relate fields to each other (flow to pressure to current), which is what
detects a sustained change of an asset's behaviour rather than only a jump.

Implementations: :class:`PersistencePredictor` (the previous value), :class:`EwmaPredictor`
(an exponentially smoothed level), :class:`RegressionPredictor` (each field regressed on the
others, fitted on reference data — the linear cousin of MSET and PCA's T²/Q that do well on
SKAB), and :class:`BehaviorModelPredictor` (a twinops vectorized behavior model stepped once).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from twinops.sim.model import StepContext, VectorModel
from twinops.sim.randomness import MemberNoise

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


@dataclass(frozen=True)
class StepInputs:
    """What a predictor sees for ``n`` points (arrays of shape ``(n,)`` unless told)."""

    column: IntArray
    """The point's field as a column of ``snapshot`` (-1: not one of the predictor's fields)."""
    snapshot: FloatArray
    """``(n, len(fields))``: the twin's latest values at the point's time; NaN when unknown.
    The point's own column holds its previous value, never the value being predicted."""
    previous: FloatArray
    """The field's previous value (NaN for a stream's first point)."""
    level: FloatArray
    """The field's smoothed level (see ``smoothing_seconds``), NaN for a first point."""
    dt: FloatArray
    """Seconds since the field's previous value (NaN for a first point)."""
    twin: IntArray
    """The monitor's row of each point's twin; ``twin_ids[twin[i]]`` is its id."""
    twin_ids: Sequence[str]
    one_instant_per_twin: bool = False
    """True when all points of a twin share one event time (a monitor round): their snapshots
    then differ only in each point's own column, so a predictor may share work between them."""


class StepPredictor(Protocol):
    """Predicts each point's value from the twin's recent values (vectorized over points)."""

    @property
    def fields(self) -> tuple[str, ...] | None:
        """Fields whose latest values form ``snapshot`` columns; None: a univariate predictor."""

    @property
    def smoothing_seconds(self) -> float:
        """Time constant of the level the monitor keeps per stream (0: the last value)."""

    def predict(self, inputs: StepInputs) -> FloatArray:
        """The predicted value of every point (NaN: no prediction, the point is skipped)."""


@dataclass(frozen=True)
class PersistencePredictor:
    """Tomorrow is today: the field's previous value (the naive baseline)."""

    @property
    def fields(self) -> tuple[str, ...] | None:
        """Univariate."""
        return None

    @property
    def smoothing_seconds(self) -> float:
        """No smoothing needed."""
        return 0.0

    def predict(self, inputs: StepInputs) -> FloatArray:
        """The previous value."""
        return inputs.previous


@dataclass(frozen=True)
class EwmaPredictor:
    """The field's exponentially weighted level, with time constant ``tau_seconds``.

    Irregular sampling is handled by weighting each new value with ``1 - exp(-dt/tau)``.
    """

    tau_seconds: float = 10.0

    def __post_init__(self) -> None:
        if self.tau_seconds <= 0:
            raise ValueError("tau_seconds must be positive")

    @property
    def fields(self) -> tuple[str, ...] | None:
        """Univariate."""
        return None

    @property
    def smoothing_seconds(self) -> float:
        """The time constant."""
        return self.tau_seconds

    def predict(self, inputs: StepInputs) -> FloatArray:
        """The smoothed level."""
        return inputs.level


@dataclass(frozen=True)
class RegressionPredictor:
    """Each field as a linear function of the twin's other fields (ridge, standardized).

    Fitted on reference data (rows of simultaneous values of ``fields``) by :meth:`fit`.
    ``weights[f]`` are the standardized coefficients predicting field ``f`` (zero on ``f``
    itself, so a point never predicts itself); unknown inputs count as their reference mean.
    A field outside ``fields`` is predicted by its previous value.
    """

    names: tuple[str, ...]
    mean: FloatArray
    scale: FloatArray
    weights: FloatArray
    """``(F, F)``: row ``f`` predicts field ``f`` from the standardized snapshot."""
    intercept: FloatArray

    @property
    def fields(self) -> tuple[str, ...] | None:
        """The fitted fields, in column order."""
        return self.names

    @property
    def smoothing_seconds(self) -> float:
        """No smoothing needed."""
        return 0.0

    @classmethod
    def fit(
        cls, fields: Sequence[str], reference: FloatArray, *, ridge: float = 1e-3
    ) -> RegressionPredictor:
        """Fit on ``reference`` of shape ``(rows, len(fields))``; rows with NaN are dropped."""
        data = np.asarray(reference, dtype=np.float64)
        if data.ndim != 2 or data.shape[1] != len(fields):
            raise ValueError(f"reference must have shape (rows, {len(fields)})")
        data = data[np.isfinite(data).all(axis=1)]
        if data.shape[0] < 2:
            raise ValueError("reference needs at least two complete rows")
        mean = data.mean(axis=0)
        scale = data.std(axis=0)
        # A constant reference column predicts nothing; its scale of 1 keeps it harmless.
        scale = np.where(scale > 0, scale, 1.0)
        std = (data - mean) / scale
        n_fields = len(fields)
        weights = np.zeros((n_fields, n_fields))
        intercept = np.zeros(n_fields)
        gram = std.T @ std / std.shape[0]
        for f in range(n_fields):
            others = [j for j in range(n_fields) if j != f]
            if not others:
                continue
            a = gram[np.ix_(others, others)] + ridge * np.eye(len(others))
            b = gram[others, f]
            weights[f, others] = np.linalg.solve(a, b)
            # Standardized columns have mean zero, so the intercept is zero up to rounding.
            intercept[f] = float(
                std[:, f].mean() - std[:, others].mean(axis=0) @ weights[f, others]
            )
        return cls(tuple(fields), mean, scale, weights, intercept)

    def predict(self, inputs: StepInputs) -> FloatArray:
        """Each known field's regression on the others; the previous value otherwise."""
        column = inputs.column
        known = column >= 0
        result = inputs.previous.copy()
        if not known.any():
            return result
        col = column[known]
        std = (inputs.snapshot[known] - self.mean) / self.scale
        std = np.nan_to_num(std, nan=0.0)
        predicted = self.intercept[col] + np.einsum("ij,ij->i", std, self.weights[col])
        result[known] = predicted * self.scale[col] + self.mean[col]
        return result


class BehaviorModelPredictor:
    """A twinops vectorized behavior model stepped once from the twin's latest values.

    States and inputs take the snapshot value of the field they are bound to (their default
    when the twin has not reported it); the model's outputs bound to a field are the
    predictions; a field no output predicts falls back to its previous value. ``params``
    overrides parameter defaults for every twin, ``twin_params`` per twin (a twin's nameplate
    or the registry's calibrated set). Values are expected in the model's units, which for the
    library models are the twin models' canonical units.
    """

    def __init__(
        self,
        model: VectorModel,
        params: Mapping[str, float] | None = None,
        twin_params: Mapping[str, Mapping[str, float]] | None = None,
        *,
        seed: int = 0,
    ) -> None:
        self.model = model
        sig = model.signature
        self._params = {p.name: p.default for p in sig.parameters} | dict(params or {})
        self._twin_params = {k: dict(v) for k, v in (twin_params or {}).items()}
        self._cached: tuple[tuple[int, int], FloatArray] | None = None
        self._seed = seed
        names: list[str] = []
        for binding in [s.binding for s in sig.states] + [i.binding for i in sig.inputs]:
            if binding and binding not in names:
                names.append(binding)
        for out in sig.outputs:
            if out.binding and out.binding not in names:
                names.append(out.binding)
        self._names = tuple(names)
        col = {name: i for i, name in enumerate(names)}
        # For each field column, which output predicts it (or None).
        self._output_for = [
            next((o.name for o in sig.outputs if o.binding == name), None) for name in names
        ]
        self._state_cols = [(s, col.get(s.binding or "")) for s in sig.states]
        self._input_cols = [(i, col.get(i.binding or "")) for i in sig.inputs]
        # Arrays indexed by a point's column, with a last entry for -1 (a field the model has
        # no column for): the output predicting it, as an index into ``_targets`` (-1: none),
        # and the column's part of the key of points that see the same model inputs (its
        # number + 1 if a state or input reads it, else 0).
        self._targets = tuple(o for o in self._output_for if o is not None)
        self._target_of = np.array(
            [-1 if o is None else self._targets.index(o) for o in self._output_for] + [-1],
            dtype=np.intp,
        )
        read = {c for _, c in self._state_cols + self._input_cols if c is not None}
        self._key_col = np.array(
            [c + 1 if c in read else 0 for c in range(len(names))] + [0], dtype=np.intp
        )
        self._key_span = len(names) + 1

    def twins_known(self) -> frozenset[str]:
        """The twins that have their own parameters."""
        return frozenset(self._twin_params)

    def add_twins(self, twin_params: Mapping[str, Mapping[str, float]]) -> None:
        """Give more twins their own parameters (twins seen for the first time)."""
        self._twin_params.update({k: dict(v) for k, v in twin_params.items()})
        self._cached = None

    @property
    def fields(self) -> tuple[str, ...] | None:
        """Every field a state, input or output of the model is bound to."""
        return self._names

    @property
    def smoothing_seconds(self) -> float:
        """No smoothing needed."""
        return 0.0

    def _param_arrays(self, inputs: StepInputs, members: IntArray) -> dict[str, FloatArray]:
        n = len(members)
        if not self._twin_params:
            return {name: np.full(n, value) for name, value in self._params.items()}
        # A (parameter, twin) table over the monitor's twins (cached until the twin list or
        # the overrides change), then one gather by the members' twin rows.
        table = self._table(inputs.twin_ids)[:, inputs.twin[members]]
        return dict(zip(self._params, table, strict=True))

    def _table(self, twin_ids: Sequence[str]) -> FloatArray:
        key = (len(twin_ids), len(self._twin_params))
        if self._cached is None or self._cached[0] != key:
            table = np.array(
                [
                    [self._twin_params.get(t, {}).get(name, value) for t in twin_ids]
                    for name, value in self._params.items()
                ],
                dtype=np.float64,
            ).reshape(len(self._params), len(twin_ids))
            self._cached = (key, table)
        return self._cached[1]

    def _value(self, default: float | str, params: Mapping[str, FloatArray], n: int) -> FloatArray:
        if isinstance(default, str):
            return params[default].copy()
        return np.full(n, float(default))

    def predict(self, inputs: StepInputs) -> FloatArray:
        """One model step per distinct model input; bound outputs are the predictions."""
        n = len(inputs.column)
        result = inputs.previous.copy()
        if n == 0:
            return result
        # The step length is the median over all the points, whichever of them get a step.
        step_s = float(np.median(np.nan_to_num(inputs.dt, nan=1.0)))
        target = self._target_of[inputs.column]
        wanted = np.flatnonzero(target >= 0)
        if wanted.size == 0:
            return result
        if inputs.one_instant_per_twin:
            # The points of a twin at one instant feed the model the same snapshot, except
            # that a field the model reads holds its previous value in its own point's row:
            # one step per twin, plus one per such field (the model steps members
            # independently, so a shared step gives each point what its own would).
            key = inputs.twin[wanted] * self._key_span + self._key_col[inputs.column[wanted]]
            _, first, member = np.unique(key, return_index=True, return_inverse=True)
            members = wanted[first]
        else:
            members, member = wanted, np.arange(wanted.size)
        outputs = self._step(inputs, members, step_s)
        size = len(members)
        table = np.empty((len(self._targets), size))
        # A model may leave out an output it passes through (the engine fills it in): the
        # points of its field keep their previous value.
        present = np.zeros(len(self._targets), dtype=bool)
        for j, name in enumerate(self._targets):
            if name in outputs:
                table[j] = np.broadcast_to(outputs[name], (size,))
                present[j] = True
        which = target[wanted]
        ok = present[which]
        result[wanted[ok]] = table[which[ok], member[ok]]
        return result

    def _step(self, inputs: StepInputs, members: IntArray, step_s: float) -> dict[str, FloatArray]:
        """The model's outputs for the snapshot rows ``members``, one member each."""
        n = len(members)
        params = self._param_arrays(inputs, members)
        params |= self.model.prepare(params, step_s)
        snapshot = inputs.snapshot[members]
        state: dict[str, FloatArray] = {}
        for var, column in self._state_cols:
            value = self._value(var.initial, params, n)
            if column is not None:
                known = snapshot[:, column]
                value = np.where(np.isfinite(known), known, value)
            state[var.name] = value
        model_inputs: dict[str, FloatArray] = {}
        for item, column in self._input_cols:
            value = self._value(item.default, params, n)
            if column is not None:
                known = snapshot[:, column]
                value = np.where(np.isfinite(known), known, value)
            model_inputs[item.name] = value
        ctx = StepContext(
            k=0,
            t=0.0,
            dt=step_s,
            time_us=0,
            n=n,
            noise=MemberNoise(self._seed, n),
            record=True,
        )
        # Engines unpack (next state, outputs), whatever the protocol docstring says.
        _next_state, outputs = self.model.step(ctx, state, model_inputs, params)
        return outputs
