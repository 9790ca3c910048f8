"""The drift monitor: residuals of a step predictor, fed to detectors, per (twin, field).

Built to run inside ingest. State lives in NumPy arrays with one slot per stream (a twin's
field); a batch is sorted once, split into *rounds* — the k-th distinct event time of each twin
in the batch — and every round advances all its streams in a handful of vectorized calls, so
the per-point work is two dictionary lookups that ``map`` runs in C (twin, then field name).
Points are expected in event-time order per stream: a point not newer than its stream's last
one is skipped (and counted), as is a value that is not a finite number.

Each stream first spends ``policy.warmup_points`` residuals estimating the residual's mean and
sd (the detectors' scale) and its RMS (the rolling-error reference unless the policy carries a
validation RMSE for the field); detection starts after that.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from twinops.fidelity.drift_detectors import DetectorState
from twinops.fidelity.drift_policy import DriftAlert, DriftPolicy, ResidualEvidence
from twinops.fidelity.drift_predictors import (
    PersistencePredictor,
    StepInputs,
    StepPredictor,
    predicts_groups,
)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
BoolArray = NDArray[np.bool_]
_NEVER = np.iinfo(np.int64).min // 2


class PointLike(Protocol):
    """What the monitor reads from a point (ingest's ``AcceptedPoint`` has these)."""

    @property
    def twin_id(self) -> str:
        """The twin."""

    @property
    def name(self) -> str:
        """The field."""

    @property
    def event_time(self) -> int:
        """Event time, epoch µs."""

    @property
    def value(self) -> Any:
        """The value (non-numbers are skipped)."""


@dataclass(frozen=True)
class BatchDetail:
    """Per point of a batch, in input order; NaN/False where a point was not evaluated."""

    predicted: FloatArray
    residual: FloatArray
    z: FloatArray
    """Standardized residual; NaN while the stream warms up."""
    alarms: BoolArray
    """``(n, len(policy.detectors))``: which detector alarmed at the point."""
    statistics: FloatArray
    """``(n, len(policy.detectors))``."""


@dataclass(frozen=True)
class BatchOutcome:
    """What a batch did: the alerts raised, points checked and skipped, optional detail."""

    alerts: tuple[DriftAlert, ...]
    checked: int
    """Points whose residual went to the detectors."""
    warming: int
    """Points whose residual went to their stream's warm-up."""
    skipped: int
    """Points not used: not a finite number, not newer than the stream's last, no prediction."""
    detail: BatchDetail | None = None


@dataclass(frozen=True)
class StreamStatus:
    """One stream's scale and progress (for tests, diagnostics and the API)."""

    twin: str
    field: str
    points: int
    ready: bool
    center: float
    scale: float
    reference_rms: float
    last_time_us: int | None


def _to_floats(values: Sequence[Any] | FloatArray, n: int) -> FloatArray:
    """Values as float64; anything that is not a number becomes NaN (and is skipped)."""
    try:
        return np.asarray(values, dtype=np.float64).reshape(n)
    except (TypeError, ValueError):
        return np.fromiter(
            (
                float(v) if isinstance(v, int | float) and not isinstance(v, bool) else math.nan
                for v in values
            ),
            dtype=np.float64,
            count=n,
        )


class _Index(dict[str, int]):
    """Names numbered in order of first sight; an unknown name reads as -1, so a column of
    names is looked up by ``map`` without Python code per name."""

    def __missing__(self, key: str) -> int:
        return -1


class DriftMonitor:
    """Per (twin, field) residual detectors over batches of points, vectorized per batch."""

    def __init__(
        self,
        policy: DriftPolicy,
        predictor: StepPredictor | None = None,
        *,
        capacity: int = 256,
    ) -> None:
        self.policy = policy
        self.predictor: StepPredictor = predictor or PersistencePredictor()
        fields = self.predictor.fields
        self._columns = {name: i for i, name in enumerate(fields or ())}
        self._width = len(fields) if fields is not None else 0
        self._tau = float(self.predictor.smoothing_seconds)
        self._slot_of: dict[tuple[str, str], int] = {}
        self._row_of = _Index()
        self._code_of = _Index()
        # Stream slot by (twin row, field-name code); -1: no such stream yet.
        self._slot_table = np.full((max(capacity // 4, 1), 16), -1, dtype=np.intp)
        self._twin_ids: list[str] = []
        self._stream_keys: list[tuple[str, str]] = []
        self._cooldown_us = int(policy.cooldown_seconds * 1_000_000)
        n_det = len(policy.detectors)
        e = policy.evidence_points
        cap = max(capacity, 1)
        self._cap = cap
        self._s_twin = np.zeros(cap, dtype=np.intp)
        self._s_col = np.full(cap, -1, dtype=np.intp)
        self._last_value = np.full(cap, math.nan)
        self._last_time = np.full(cap, _NEVER, dtype=np.int64)
        self._level = np.full(cap, math.nan)
        self._count = np.zeros(cap, dtype=np.int64)
        self._warm_n = np.zeros(cap)
        self._warm_sum = np.zeros(cap)
        self._warm_sq = np.zeros(cap)
        self._ready = np.zeros(cap, dtype=bool)
        self._center = np.zeros(cap)
        self._scale = np.ones(cap)
        self._ref = np.ones(cap)
        self._last_alert = np.full((cap, n_det), _NEVER, dtype=np.int64)
        self._ev_r = np.zeros((cap, e))
        self._ev_t = np.zeros((cap, e), dtype=np.int64)
        self._ev_pos = np.zeros(cap, dtype=np.intp)
        self._ev_n = np.zeros(cap, dtype=np.intp)
        self._states: list[DetectorState] = [d.new_state(cap) for d in policy.detectors]
        self._latest = np.full((max(capacity // 4, 1), self._width), math.nan)

    # -- streams --------------------------------------------------------------------------------

    @property
    def stream_count(self) -> int:
        """How many (twin, field) streams the monitor tracks."""
        return len(self._stream_keys)

    def status(self, twin: str, field: str) -> StreamStatus | None:
        """One stream's scale and progress, or None if the monitor never saw it."""
        slot = self._slot_of.get((twin, field))
        if slot is None:
            return None
        last = int(self._last_time[slot])
        return StreamStatus(
            twin,
            field,
            int(self._count[slot]),
            bool(self._ready[slot]),
            float(self._center[slot]),
            float(self._scale[slot]),
            float(self._ref[slot]),
            None if last == _NEVER else last,
        )

    def rebaseline(self, twin: str | None = None) -> int:
        """Restart warm-up and detectors of a twin's streams (all with None), e.g. after a new
        production model; answer how many streams were reset."""
        slots = np.array(
            [s for (tw, _f), s in self._slot_of.items() if twin is None or tw == twin],
            dtype=np.intp,
        )
        if slots.size == 0:
            return 0
        for array in (self._warm_n, self._warm_sum, self._warm_sq, self._center):
            array[slots] = 0.0
        self._scale[slots] = 1.0
        self._ref[slots] = 1.0
        self._ready[slots] = False
        self._last_alert[slots] = _NEVER
        self._ev_pos[slots] = 0
        self._ev_n[slots] = 0
        for state in self._states:
            for item in dataclasses.fields(state):  # type: ignore[arg-type]
                getattr(state, item.name)[slots] = 0
        return int(slots.size)

    def _grow_streams(self, needed: int) -> None:
        cap = self._cap
        while cap < needed:
            cap *= 2
        if cap == self._cap:
            return

        def grow(array: NDArray[Any], fill: float) -> NDArray[Any]:
            extra = np.full((cap - array.shape[0], *array.shape[1:]), fill, dtype=array.dtype)
            return np.concatenate([array, extra])

        self._s_twin = grow(self._s_twin, 0)
        self._s_col = grow(self._s_col, -1)
        self._last_value = grow(self._last_value, math.nan)
        self._last_time = grow(self._last_time, _NEVER)
        self._level = grow(self._level, math.nan)
        self._count = grow(self._count, 0)
        self._warm_n = grow(self._warm_n, 0.0)
        self._warm_sum = grow(self._warm_sum, 0.0)
        self._warm_sq = grow(self._warm_sq, 0.0)
        self._ready = grow(self._ready, False)
        self._center = grow(self._center, 0.0)
        self._scale = grow(self._scale, 1.0)
        self._ref = grow(self._ref, 1.0)
        self._last_alert = grow(self._last_alert, _NEVER)
        self._ev_r = grow(self._ev_r, 0.0)
        self._ev_t = grow(self._ev_t, 0)
        self._ev_pos = grow(self._ev_pos, 0)
        self._ev_n = grow(self._ev_n, 0)
        for state in self._states:
            state.grow(cap)
        self._cap = cap

    def _register(self, keys: Sequence[tuple[str, str]]) -> None:
        """New streams, given as distinct unknown (twin, field), numbered in that order."""
        first = len(self._stream_keys)
        self._grow_streams(first + len(keys))
        row_of, code_of = self._row_of, self._code_of
        key_twins = [twin for twin, _ in keys]
        key_fields = [field for _, field in keys]
        # Twins and field names new to the monitor are numbered in order of first sight.
        for twin in dict.fromkeys(key_twins):
            if twin not in row_of:
                row_of[twin] = len(self._twin_ids)
                self._twin_ids.append(twin)
        for field in dict.fromkeys(key_fields):
            if field not in code_of:
                code_of[field] = len(code_of)
        rows = list(map(row_of.__getitem__, key_twins))
        codes = list(map(code_of.__getitem__, key_fields))
        self._slot_of.update(zip(keys, range(first, first + len(keys)), strict=True))
        self._stream_keys.extend(keys)
        while self._latest.shape[0] < len(self._twin_ids):
            extra = np.full((self._latest.shape[0], self._width), math.nan)
            self._latest = np.concatenate([self._latest, extra])
        height, width = self._slot_table.shape
        if len(self._twin_ids) > height or len(self._code_of) > width:
            table = np.full(
                (max(height, 2 * len(self._twin_ids)), max(width, 2 * len(self._code_of))),
                -1,
                dtype=np.intp,
            )
            table[:height, :width] = self._slot_table
            self._slot_table = table
        slots = np.arange(first, len(self._stream_keys), dtype=np.intp)
        self._slot_table[rows, codes] = slots
        self._s_twin[slots] = rows
        self._s_col[slots] = [self._columns.get(field, -1) for field in key_fields]

    def _slots(self, twins: Sequence[str], names: Sequence[str], n: int) -> IntArray:
        """Each point's stream slot (new streams are numbered in order of first sight)."""
        rows = np.fromiter(map(self._row_of.__getitem__, twins), dtype=np.intp, count=n)
        codes = np.fromiter(map(self._code_of.__getitem__, names), dtype=np.intp, count=n)
        if rows.min() >= 0 and codes.min() >= 0:
            slots = self._slot_table[rows, codes]
        else:
            slots = np.full(n, -1, dtype=np.intp)
            known = (rows >= 0) & (codes >= 0)
            slots[known] = self._slot_table[rows[known], codes[known]]
        if slots.min() < 0:
            missing = np.flatnonzero(slots < 0).tolist()
            keys = zip(
                map(twins.__getitem__, missing), map(names.__getitem__, missing), strict=True
            )
            self._register(list(dict.fromkeys(keys)))
            return self._slots(twins, names, n)  # every stream is known now
        return slots

    # -- batches --------------------------------------------------------------------------------

    def update_points(self, points: Sequence[PointLike], *, detail: bool = False) -> BatchOutcome:
        """Check a batch of ingest points (``twin_id``, ``name``, ``event_time``, ``value``)."""
        return self.update(
            [p.twin_id for p in points],
            [p.name for p in points],
            np.fromiter((p.event_time for p in points), dtype=np.int64, count=len(points)),
            [p.value for p in points],
            detail=detail,
        )

    def update(
        self,
        twins: Sequence[str],
        names: Sequence[str],
        times: Sequence[int] | NDArray[np.int64],
        values: Sequence[Any] | FloatArray,
        *,
        detail: bool = False,
    ) -> BatchOutcome:
        """Check a batch given as columns; points of a stream must come in event-time order
        (across the batch they may interleave freely)."""
        n = len(twins)
        if not (len(names) == n and len(times) == n and len(values) == n):
            raise ValueError("twins, names, times and values must have the same length")
        n_det = len(self.policy.detectors)
        out = (
            BatchDetail(
                np.full(n, math.nan),
                np.full(n, math.nan),
                np.full(n, math.nan),
                np.zeros((n, n_det), dtype=bool),
                np.full((n, n_det), math.nan),
            )
            if detail
            else None
        )
        if n == 0:
            return BatchOutcome((), 0, 0, 0, out)
        slots = self._slots(twins, names, n)
        t_all = np.asarray(times, dtype=np.int64).reshape(n)
        v_all = _to_floats(values, n)

        # Per stream in time order; drop repeats of an instant (the last wins) and stale points.
        # Ingest hands batches over in event-time order: then a stable sort by stream alone
        # orders each stream by time (ties by position), which is what the general
        # (stream, time, position) sort gives.
        in_time_order = n < 2 or bool((t_all[1:] >= t_all[:-1]).all())
        # (lexsort is stable too: ties keep their position.)
        order = np.argsort(slots, kind="stable") if in_time_order else np.lexsort((t_all, slots))
        s_sorted, t_sorted = slots[order], t_all[order]
        keep = np.isfinite(v_all[order]) & (t_sorted > self._last_time[s_sorted])
        if n > 1:
            keep[:-1] &= ~((s_sorted[1:] == s_sorted[:-1]) & (t_sorted[1:] == t_sorted[:-1]))
        kept = order[keep]
        skipped = n - kept.size
        if kept.size == 0:
            return BatchOutcome((), 0, 0, skipped, out)

        # Rounds: the k-th distinct event time of each twin within the batch. Points by
        # (twin, time, position); in time order, (time, position) is the position's order.
        if in_time_order:
            by_position = np.zeros(n, dtype=bool)
            by_position[kept] = True
            kept = np.flatnonzero(by_position)
            rows = self._s_twin[slots[kept]]
            by_twin = np.argsort(rows, kind="stable")
        else:
            rows = self._s_twin[slots[kept]]
            by_twin = np.lexsort((kept, t_all[kept], rows))
        kept = kept[by_twin]
        rows = rows[by_twin]
        t_k = t_all[kept]
        same_twin = rows[1:] == rows[:-1]
        step = np.concatenate(([0], (same_twin & (t_k[1:] != t_k[:-1])).astype(np.intp)))
        climb = np.cumsum(step)
        group = np.cumsum(np.concatenate(([0], (~same_twin).astype(np.intp))))
        starts = np.flatnonzero(np.concatenate(([True], ~same_twin)))
        rank = climb - climb[starts][group]
        last = int(rank.max())
        if last == 0:
            rounds = [kept]
        else:
            by_round = np.argsort(rank, kind="stable")
            bounds = np.searchsorted(rank[by_round], np.arange(last + 2)).tolist()
            rounds = [kept[by_round[bounds[r] : bounds[r + 1]]] for r in range(last + 1)]

        # Every round's model inputs first (they depend on the values, not on predictions),
        # predicted together when the predictor takes several rounds at once; then the
        # residuals go to the detectors round after round.
        steps = [
            self._advance(points, slots[points], t_all[points], v_all[points]) for points in rounds
        ]
        predictions = self._predict([inputs for *_, inputs in steps])
        alerts: list[DriftAlert] = []
        checked = warming = 0
        for (points, s, t, v, _), predicted in zip(steps, predictions, strict=True):
            c, w, k = self._score(points, s, t, v, predicted, alerts, out)
            checked += c
            warming += w
            skipped += k
        return BatchOutcome(tuple(alerts), checked, warming, skipped, out)

    def _advance(
        self, points: IntArray, s: IntArray, t: NDArray[np.int64], v: FloatArray
    ) -> tuple[IntArray, IntArray, NDArray[np.int64], FloatArray, StepInputs]:
        """Move distinct streams ``s`` on by one point each; answer what predicts the points."""
        first = self._count[s] == 0
        prev = self._last_value[s]
        dt = (t - self._last_time[s]) / 1e6
        dt[first] = math.nan
        rows = self._s_twin[s]
        cols = self._s_col[s]
        if self._width:
            has = cols >= 0
            self._latest[rows[has], cols[has]] = v[has]
            snapshot = self._latest[rows]
            snapshot[np.flatnonzero(has), cols[has]] = prev[has]
        else:
            snapshot = np.empty((len(s), 0))
        level = self._level[s]
        inputs = StepInputs(cols, snapshot, prev, level, dt, rows, self._twin_ids, True)
        if self._tau > 0:
            weight = -np.expm1(-dt / self._tau)
            self._level[s] = np.where(first, v, level + weight * (v - level))
        else:
            self._level[s] = v
        self._last_value[s] = v
        self._last_time[s] = t
        self._count[s] += 1
        return points, s, t, v, inputs

    def _predict(self, rounds: list[StepInputs]) -> list[FloatArray]:
        """Each round's predictions: one call for them all if the predictor takes groups."""
        if len(rounds) == 1 or not predicts_groups(self.predictor):
            return [np.asarray(self.predictor.predict(i), dtype=np.float64) for i in rounds]
        sizes = [len(i.column) for i in rounds]
        inputs = StepInputs(
            np.concatenate([i.column for i in rounds]),
            np.concatenate([i.snapshot for i in rounds]),
            np.concatenate([i.previous for i in rounds]),
            np.concatenate([i.level for i in rounds]),
            np.concatenate([i.dt for i in rounds]),
            np.concatenate([i.twin for i in rounds]),
            self._twin_ids,
            True,
            np.repeat(np.arange(len(rounds), dtype=np.intp), sizes),
        )
        predicted = np.asarray(self.predictor.predict(inputs), dtype=np.float64)
        return np.split(predicted, np.cumsum(sizes[:-1]).tolist())

    def _score(
        self,
        points: IntArray,
        s: IntArray,
        t: NDArray[np.int64],
        v: FloatArray,
        predicted: FloatArray,
        alerts: list[DriftAlert],
        out: BatchDetail | None,
    ) -> tuple[int, int, int]:
        """One round's residuals: warm-up, evidence, detectors, alerts."""
        residual = v - predicted
        ok = np.isfinite(residual)
        ready = self._ready[s]
        n = len(s)
        n_ok = int(np.count_nonzero(ok))
        live = ok & ready
        n_live = int(np.count_nonzero(live))
        n_warm = n_ok - n_live
        if n_warm:
            warm = ok & ~ready
            self._warm_up(s[warm], residual[warm])
        if out is not None:
            out.predicted[points] = predicted
            out.residual[points] = residual
        # Once streams are warm, every point of a round usually goes on: no selection then.
        if n_ok == n:
            self._push_evidence(s, residual, t)
        elif n_ok:
            self._push_evidence(s[ok], residual[ok], t[ok])
        if n_live == 0:
            return 0, n_warm, n - n_ok
        if n_live == n:
            ls, lr, lt, lp = s, residual, t, points
        else:
            ls, lr, lt, lp = s[live], residual[live], t[live], points[live]
        z = (lr - self._center[ls]) / self._scale[ls]
        ref = self._ref[ls]
        if out is not None:
            out.z[lp] = z
        for j, detector in enumerate(self.policy.detectors):
            alarm, statistic, threshold = detector.update(self._states[j], ls, z, lr, ref)
            if out is not None:
                out.alarms[lp, j] = alarm
                out.statistics[lp, j] = statistic
            if alarm.any():
                self._alert(j, ls[alarm], lt[alarm], statistic[alarm], threshold[alarm], alerts)
        return n_live, n_warm, n - n_ok

    def _warm_up(self, ws: IntArray, wr: FloatArray) -> None:
        """Accumulate warm-up residuals; streams that have enough get their scale."""
        self._warm_n[ws] += 1.0
        self._warm_sum[ws] += wr
        self._warm_sq[ws] += wr * wr
        done = ws[self._warm_n[ws] >= self.policy.warmup_points]
        if done.size == 0:
            return
        count = self._warm_n[done]
        mean = self._warm_sum[done] / count
        var = np.maximum(self._warm_sq[done] / count - mean * mean, 0.0) * count / (count - 1)
        self._center[done] = mean
        self._scale[done] = np.maximum(np.sqrt(var), self.policy.min_sd)
        rms = np.sqrt(self._warm_sq[done] / count)
        validation = self.policy.validation_rmse
        if validation:
            given = [validation.get(self._stream_keys[i][1], math.nan) for i in done]
            rms = np.where(np.isfinite(given), given, rms)
        inflation = self.policy.scale_inflation
        if inflation:
            factor = np.array([inflation.get(self._stream_keys[i][1], 1.0) for i in done])
            self._scale[done] *= factor
            rms = rms * factor
        self._ref[done] = np.maximum(rms, self.policy.min_sd)
        self._ready[done] = True

    def _push_evidence(self, es: IntArray, er: FloatArray, et: NDArray[np.int64]) -> None:
        position = self._ev_pos[es]
        self._ev_r[es, position] = er
        self._ev_t[es, position] = et
        self._ev_pos[es] = (position + 1) % self.policy.evidence_points
        self._ev_n[es] = np.minimum(self._ev_n[es] + 1, self.policy.evidence_points)

    def _alert(
        self,
        j: int,
        slots: IntArray,
        times: NDArray[np.int64],
        statistic: FloatArray,
        threshold: FloatArray,
        alerts: list[DriftAlert],
    ) -> None:
        """Alerts for alarmed (distinct) streams outside their cooldown, with the evidence
        figures of all of them computed together."""
        name = self.policy.detectors[j].name
        due = times - self._last_alert[slots, j] >= self._cooldown_us
        if not due.all():
            slots, times, statistic, threshold = (
                slots[due],
                times[due],
                statistic[due],
                threshold[due],
            )
            if slots.size == 0:
                return
        self._last_alert[slots, j] = times
        counts = self._ev_n[slots]
        mean = np.empty(slots.size)
        sd = np.zeros(slots.size)
        start = np.empty(slots.size, dtype=np.int64)
        end = np.empty(slots.size, dtype=np.int64)
        # Streams with as many residuals in evidence share one reduction over rows (the same
        # figures as the stream's own: each row is reduced along its length).
        for count in np.unique(counts).tolist():
            group = np.flatnonzero(counts == count)
            rows = slots[group]
            values = self._ev_r[rows, :count]
            stamps = self._ev_t[rows, :count]
            mean[group] = values.mean(axis=1)
            if count > 1:
                sd[group] = values.std(axis=1, ddof=1)
            start[group] = stamps.min(axis=1)
            end[group] = stamps.max(axis=1)
        keys = self._stream_keys
        for slot, time_us, stat, thr, count, m, d, t0, t1 in zip(
            slots.tolist(),
            times.tolist(),
            statistic.tolist(),
            threshold.tolist(),
            counts.tolist(),
            mean.tolist(),
            sd.tolist(),
            start.tolist(),
            end.tolist(),
            strict=True,
        ):
            twin, field = keys[slot]
            evidence = ResidualEvidence(m, d, count, t0, t1)
            alerts.append(DriftAlert(twin, field, name, time_us, stat, thr, evidence))


def check_series(
    monitor: DriftMonitor,
    twin: str,
    times: Iterable[int],
    columns: dict[str, FloatArray],
) -> BatchOutcome:
    """Feed a twin's table (one column per field, a row per instant) as one batch, with detail."""
    stamps = np.asarray(list(times), dtype=np.int64)
    names = list(columns)
    count = len(stamps)
    twins = [twin] * (count * len(names))
    fields = [name for _ in range(count) for name in names]
    all_times = np.repeat(stamps, len(names))
    values = np.column_stack([columns[name] for name in names]).reshape(-1)
    return monitor.update(twins, fields, all_times, values, detail=True)
