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
from typing import Any, ClassVar, Protocol

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
    then differ only in each point's own column, so a predictor may share work between them.
    With ``group``, this holds within each group."""
    group: IntArray | None = None
    """Several monitor rounds at once (only for a predictor whose ``groups`` is True): each
    point's round, numbered 0, 1, ... without gaps. Each group is predicted as a call of its
    own would predict it; None: one group."""


def predicts_groups(predictor: object) -> bool:
    """Whether ``predictor`` takes several rounds in one call (``StepInputs.group``)."""
    return getattr(predictor, "groups", False) is True


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

    groups: ClassVar[bool] = True
    """Point by point: several rounds in one call predict what one call each would."""

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
    groups: ClassVar[bool] = True
    """Point by point: several rounds in one call predict what one call each would."""

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


class _LazyNoise(MemberNoise):
    """A step's :class:`MemberNoise`, whose generators are made on the first draw: the drift
    predictor steps a model for its outputs, which rarely draw noise, many times a second."""

    def __init__(self, seed: int, n: int) -> None:
        """Remember the seed; the generators come with the first draw."""
        self.n = n
        self._lazy_seed = seed

    def __getattr__(self, name: str) -> Any:
        if name == "_lazy_seed":
            raise AttributeError(name)
        MemberNoise.__init__(self, self._lazy_seed, self.n)
        return object.__getattribute__(self, name)


def _group_medians(values: FloatArray, group: IntArray, groups: int) -> FloatArray:
    """``np.median`` of ``values`` within each of ``groups`` non-empty groups (same figures:
    the middle value, or the mean of the two middle values)."""
    ordered = values[np.lexsort((values, group))]
    counts = np.bincount(group, minlength=groups)
    starts = np.cumsum(counts) - counts
    low = ordered[starts + (counts - 1) // 2]
    high = ordered[starts + counts // 2]
    medians: FloatArray = np.where(counts % 2 == 1, low, (low + high) / 2.0)
    return medians


@dataclass(frozen=True)
class _Prepared:
    """A model's parameters and prepared values over the monitor's twins, for a step length."""

    shared: dict[str, FloatArray]
    """Values every twin shares, of shape (1,)."""
    varying: tuple[str, ...]
    """Values that differ between twins: rows of ``table``."""
    table: FloatArray
    """``(len(varying), twins)``."""
    other: dict[str, NDArray[Any]]
    """Values per twin that are not floats (a model's masks...), each of shape ``(twins,)``."""


def _distinct(key: IntArray, span: int) -> tuple[IntArray, IntArray]:
    """For keys in ``[0, span)``: the position of one point of each distinct key (keys in
    ascending order), and each point's distinct key as an index into those."""
    if span > 4 * key.size + 4096:  # sparse keys: sort
        _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        return first, inverse
    present = np.zeros(span, dtype=bool)
    present[key] = True
    keys = np.flatnonzero(present)
    number = np.empty(span, dtype=np.intp)
    number[keys] = np.arange(keys.size)
    where = np.empty(span, dtype=np.intp)
    where[key[::-1]] = np.arange(key.size - 1, -1, -1)  # a point of each key
    return where[keys], number[key]


class BehaviorModelPredictor:
    """A twinops vectorized behavior model stepped once from the twin's latest values.

    States and inputs take the snapshot value of the field they are bound to (their default
    when the twin has not reported it); the model's outputs bound to a field are the
    predictions; a field no output predicts falls back to its previous value. ``params``
    overrides parameter defaults for every twin, ``twin_params`` per twin (a twin's nameplate
    or the registry's calibrated set). Values are expected in the model's units, which for the
    library models are the twin models' canonical units.

    A vectorized model steps its members independently (the engine's contract: a member's
    outputs do not depend on which other members share the step), so one model step serves
    every point of a call that sees the same model inputs — the points of a twin at one
    instant, across all the monitor rounds of a batch (``groups``) that share a step length.
    """

    groups: ClassVar[bool] = True
    """Several monitor rounds in one call, one model step per distinct step length."""

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
        self._known = frozenset(self._twin_params)
        # (key, table, the twin list the key names: held so that its id stays its own)
        self._cached: tuple[tuple[int, int, int], FloatArray, Sequence[str]] | None = None
        self._prepared: dict[float, _Prepared] = {}
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
        # The snapshot columns states and inputs read, and where each finds its own (-1: none).
        self._read_cols = np.array(sorted(read), dtype=np.intp)
        at = {c: i for i, c in enumerate(sorted(read))}
        self._state_at = [(v, -1 if c is None else at[c]) for v, c in self._state_cols]
        self._input_at = [(i, -1 if c is None else at[c]) for i, c in self._input_cols]
        self._key_col = np.array(
            [c + 1 if c in read else 0 for c in range(len(names))] + [0], dtype=np.intp
        )
        self._key_span = len(names) + 1

    def twins_known(self) -> frozenset[str]:
        """The twins that have their own parameters."""
        return self._known

    def add_twins(self, twin_params: Mapping[str, Mapping[str, float]]) -> None:
        """Give more twins their own parameters (twins seen for the first time)."""
        self._twin_params.update({k: dict(v) for k, v in twin_params.items()})
        self._known = frozenset(self._twin_params)
        self._cached = None
        self._prepared.clear()

    @property
    def fields(self) -> tuple[str, ...] | None:
        """Every field a state, input or output of the model is bound to."""
        return self._names

    @property
    def smoothing_seconds(self) -> float:
        """No smoothing needed."""
        return 0.0

    def _table(self, twin_ids: Sequence[str]) -> FloatArray:
        """The (parameter, twin) table over the monitor's twins, cached until the twin list or
        the overrides change."""
        # A monitor hands over its own list of twins, which only grows.
        key = (id(twin_ids), len(twin_ids), len(self._twin_params))
        if self._cached is None or self._cached[0] != key:
            row_of = {name: i for i, name in enumerate(self._params)}
            table = np.empty((len(row_of), len(twin_ids)), dtype=np.float64)
            table[:] = np.array(list(self._params.values()), dtype=np.float64)[:, None]
            # Only what a twin overrides differs from the defaults (a handful per twin).
            for j, twin in enumerate(twin_ids):
                own = self._twin_params.get(twin)
                if own:
                    rows = [(i, v) for k, v in own.items() if (i := row_of.get(k)) is not None]
                    if rows:
                        where, values = zip(*rows, strict=True)
                        table[list(where), j] = np.array(values, dtype=np.float64)
            self._cached = (key, table, twin_ids)
            self._prepared.clear()
        return self._cached[1]

    def _parameters(self, twin_ids: Sequence[str], step_s: float) -> _Prepared:
        """The parameters and the model's prepared values for a step length, over the
        monitor's twins: a value all twins share as one element, the others per twin.

        The model prepares them once per twin list and step length rather than per step: it
        computes member by member (the engine's contract), so a member's values are those a
        step over any set of members would prepare for it.
        """
        table = self._table(twin_ids) if self._twin_params else None
        found = self._prepared.get(step_s)
        if found is not None:
            return found
        params: dict[str, FloatArray] = {}
        if table is None:
            count = 0  # every twin runs on the defaults
            params = {name: np.full(1, value) for name, value in self._params.items()}
        else:
            count = table.shape[1]
            for name, row in zip(self._params, table, strict=True):
                params[name] = row[:1].copy() if count and (row == row[0]).all() else row.copy()
        params |= self.model.prepare(params, step_s)
        shared: dict[str, FloatArray] = {}
        varying: dict[str, FloatArray] = {}
        other: dict[str, NDArray[Any]] = {}
        for name, value in params.items():
            if not (isinstance(value, np.ndarray) and count > 1 and value.shape == (count,)):
                shared[name] = value
            elif value.dtype == np.float64:
                varying[name] = value
            else:
                other[name] = value
        stacked = np.stack(list(varying.values())) if varying else np.empty((0, count))
        found = _Prepared(shared, tuple(varying), stacked, other)
        if len(self._prepared) >= 16:
            self._prepared.clear()
        self._prepared[step_s] = found
        return found

    def _value(self, default: float | str, params: Mapping[str, FloatArray]) -> FloatArray:
        if isinstance(default, str):
            return params[default].copy()
        return np.full(1, float(default))

    def predict(self, inputs: StepInputs) -> FloatArray:
        """One model step per distinct model input and step length; bound outputs are the
        predictions."""
        n = len(inputs.column)
        result = inputs.previous.copy()
        if n == 0:
            return result
        target = self._target_of[inputs.column]
        wanted = np.flatnonzero(target >= 0)
        if wanted.size == 0:
            return result
        # The step length is the median over all the points (of the group), whichever of
        # them get a step; a first point (NaN) counts as a second.
        dt = inputs.dt
        low = float(dt.min())  # NaN if any is
        if not (low == float(dt.max()) and abs(low) < 1e300):
            dt = np.nan_to_num(dt, nan=1.0)
            low = float(dt.min())
        group = inputs.group
        if low == float(dt.max()) and abs(low) < 1e300:
            # One step length everywhere (the usual case): every group's median is it.
            steps = [(low, wanted)]
        elif group is None:
            steps = [(float(np.median(dt)), wanted)]
        else:
            medians = _group_medians(dt, group, int(group.max()) + 1)
            per_point = medians[group[wanted]]
            lengths = np.unique(per_point)
            if lengths.size == 1:
                steps = [(float(lengths[0]), wanted)]
            else:
                steps = [(float(length), wanted[per_point == length]) for length in lengths]
        for step_s, chosen in steps:
            self._predict_step(inputs, chosen, target, step_s, result)
        return result

    def _predict_step(
        self,
        inputs: StepInputs,
        wanted: IntArray,
        target: IntArray,
        step_s: float,
        result: FloatArray,
    ) -> None:
        """Step the model for the points ``wanted`` (all with a target output) into ``result``."""
        if inputs.one_instant_per_twin:
            # The points of a twin at one instant feed the model the same snapshot, except
            # that a field the model reads holds its previous value in its own point's row:
            # one step per twin (and round), plus one per such field (the model steps members
            # independently, so a shared step gives each point what its own would).
            span = len(inputs.twin_ids) * self._key_span
            key = inputs.twin[wanted] * self._key_span + self._key_col[inputs.column[wanted]]
            if inputs.group is not None:
                key += inputs.group[wanted] * span
                span *= int(inputs.group.max()) + 1
            members, member = _distinct(key, span)
            members = wanted[members]
        else:
            members, member = wanted, np.arange(wanted.size)
        outputs = self._step(inputs, members, step_s)
        table = np.empty((len(self._targets), len(members)))
        # A model may leave out an output it passes through (the engine fills it in): the
        # points of its field keep their previous value.
        present = np.array([name in outputs for name in self._targets], dtype=bool)
        for j, name in enumerate(self._targets):
            if present[j]:
                table[j] = outputs[name]  # broadcasts a value every member shares
        which = target[wanted]
        # Flat indices into the (target, member) table: cheaper than a 2-D fancy index.
        cell = which * len(members)
        cell += member
        if present.all():
            result[wanted] = table.reshape(-1).take(cell)
        else:
            ok = present[which]
            result[wanted[ok]] = table.reshape(-1).take(cell[ok])

    def _step(self, inputs: StepInputs, members: IntArray, step_s: float) -> dict[str, FloatArray]:
        """The model's outputs for the snapshot rows ``members``, one member each (values every
        member shares come as one element, which broadcasts)."""
        n = len(members)
        prepared = self._parameters(inputs.twin_ids, step_s)
        # The engine, too, hands every step the same parameter arrays (models never write them).
        params = dict(prepared.shared)
        rows = inputs.twin[members]
        if prepared.varying:
            # (``take`` along an axis: cheaper than the equivalent fancy index.)
            params.update(zip(prepared.varying, prepared.table.take(rows, axis=1), strict=True))
        for name, value in prepared.other.items():
            params[name] = value[rows]
        # The columns states and inputs are bound to, for the members, in one gather.
        known = inputs.snapshot.take(members, axis=0).take(self._read_cols, axis=1)
        finite = np.isfinite(known)
        state: dict[str, FloatArray] = {}
        for var, at in self._state_at:
            value = self._value(var.initial, params)
            if at >= 0:
                value = np.where(finite[:, at], known[:, at], value)
            state[var.name] = value
        model_inputs: dict[str, FloatArray] = {}
        for item, at in self._input_at:
            value = self._value(item.default, params)
            if at >= 0:
                value = np.where(finite[:, at], known[:, at], value)
            model_inputs[item.name] = value
        ctx = StepContext(
            k=0,
            t=0.0,
            dt=step_s,
            time_us=0,
            n=n,
            noise=_LazyNoise(self._seed, n),
            record=True,
        )
        # Engines unpack (next state, outputs), whatever the protocol docstring says.
        _next_state, outputs = self.model.step(ctx, state, model_inputs, params)
        return outputs
