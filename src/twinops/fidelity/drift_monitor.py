"""The drift monitor: residuals of a step predictor, fed to detectors, per (twin, field).

Built to run inside ingest. State lives in NumPy arrays with one slot per stream (a twin's
field); a batch is split into *rounds* — the k-th distinct event time of each twin in the batch
— and every round advances all its streams in a handful of vectorized calls, so the per-point
work is reading the points' attributes and two dictionary lookups that ``map`` runs in C (the
twin's row, then the field name's column of a table of slots). The twin's lookup also says
whether its points are checked at all: a monitor may be given a whole ingest batch and an
``admit`` callback, asked only about twins it has not met. Points are expected in event-time
order per stream: a point not newer than its stream's last one is skipped (and counted), as is
a value that is not a finite number. A batch in event-time order (ingest's) finds its rounds
without sorting; any other is sorted.

Each stream first spends ``policy.warmup_points`` residuals estimating the residual's mean and
sd (the detectors' scale) and its RMS (the rolling-error reference unless the policy carries a
validation RMSE for the field); detection starts after that.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from itertools import compress, pairwise
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


Admit = Callable[[list[str]], tuple[Collection[str], Collection[str]]]
"""Asked by a monitor's ``update`` about the twins of a batch it has no verdict on (in order of
first sight): the twins whose points it checks, and the twins whose verdict holds for this batch
only (asked about again next time; the others' holds until :meth:`DriftMonitor.reconsider`)."""

_UNKNOWN = 0  # the slot table's row of twins without a verdict (and column of unknown names)
_LEFT_OUT = 1  # its row of twins whose points are left out
_FIRST_ROW = 2  # its row of the monitor's twin 0


class _Index(dict[str, int]):
    """Rows or columns of the slot table by name; an unknown name reads as 0, so a column of
    names is looked up by ``map`` without Python code per name, and a point's slot by one flat
    index without checking for unknowns."""

    def __missing__(self, key: str) -> int:
        return _UNKNOWN


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
        # The monitor's twins numbered in order of first sight (rows of ``_twin_ids``)...
        self._twin_row: dict[str, int] = {}
        # ... and the slot table's row of each twin with a verdict: its row + _FIRST_ROW if its
        # points are checked, _LEFT_OUT if not; field names' columns, from 1 (0: unknown).
        self._row_of = _Index()
        self._code_of = _Index()
        # Stream slot by (table row, name column); -1: no such stream (yet), also in the row
        # of twins without a verdict and the column of unknown names; -2: a point left out.
        self._slot_table = np.full((max(capacity // 4, 1) + _FIRST_ROW, 17), -1, dtype=np.intp)
        self._slot_table[_LEFT_OUT] = -2
        self._twin_ids: list[str] = []
        self._stream_keys: list[tuple[str, str]] = []
        self._cooldown_us = int(policy.cooldown_seconds * 1_000_000)
        n_det = len(policy.detectors)
        e = policy.evidence_points
        cap = max(capacity, 1)
        self._cap = cap
        self._s_twin = np.zeros(cap, dtype=np.intp)
        self._s_col = np.full(cap, -1, dtype=np.intp)
        self._s_cell = np.full(cap, -1, dtype=np.intp)
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
        # Rings of the last residuals and their times, (position, stream): streams that push
        # at one position (the usual round) write one contiguous stretch.
        self._ev_r = np.zeros((e, cap))
        self._ev_t = np.zeros((e, cap), dtype=np.int64)
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

        def grow_columns(array: NDArray[Any], fill: float) -> NDArray[Any]:
            extra = np.full((array.shape[0], cap - array.shape[1]), fill, dtype=array.dtype)
            return np.concatenate([array, extra], axis=1)

        self._s_twin = grow(self._s_twin, 0)
        self._s_col = grow(self._s_col, -1)
        self._s_cell = grow(self._s_cell, -1)
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
        self._ev_r = grow_columns(self._ev_r, 0.0)
        self._ev_t = grow_columns(self._ev_t, 0)
        self._ev_pos = grow(self._ev_pos, 0)
        self._ev_n = grow(self._ev_n, 0)
        for state in self._states:
            state.grow(cap)
        self._cap = cap

    def reconsider(self) -> None:
        """Forget which twins' points are checked: ``admit`` is asked about each twin again
        (their streams keep their state)."""
        self._row_of.clear()

    def _admit(self, twins: list[str], admit: Admit | None) -> Collection[str]:
        """Verdicts on twins without one (all checked without ``admit``); answer the twins
        whose verdict is for this batch only. Twins new to the monitor are numbered in order
        of first sight."""
        members, once = (twins, ()) if admit is None else admit(twins)
        chosen = set(members)
        for twin in twins:
            if twin in chosen:
                row = self._twin_row.get(twin)
                if row is None:
                    row = self._twin_row[twin] = len(self._twin_ids)
                    self._twin_ids.append(twin)
                self._row_of[twin] = row + _FIRST_ROW
            else:
                self._row_of[twin] = _LEFT_OUT
        while self._latest.shape[0] < len(self._twin_ids):
            extra = np.full((self._latest.shape[0], self._width), math.nan)
            self._latest = np.concatenate([self._latest, extra])
        self._fit_table()
        return once

    def _fit_table(self) -> None:
        """Room in the slot table for every twin and field name."""
        height, width = self._slot_table.shape
        rows = len(self._twin_ids) + _FIRST_ROW
        columns = len(self._code_of) + 1
        if rows > height or columns > width:
            table = np.full((max(height, 2 * rows), max(width, 2 * columns)), -1, dtype=np.intp)
            table[:height, :width] = self._slot_table
            table[_LEFT_OUT] = -2
            self._slot_table = table

    def _register(self, keys: Sequence[tuple[str, str]]) -> None:
        """New streams of twins with a row, given as distinct unknown (twin, field), numbered
        in that order."""
        first = len(self._stream_keys)
        self._grow_streams(first + len(keys))
        code_of = self._code_of
        key_fields = [field for _, field in keys]
        # Field names new to the monitor are numbered in order of first sight.
        for field in dict.fromkeys(key_fields):
            if field not in code_of:
                code_of[field] = len(code_of) + 1
        self._fit_table()
        rows = np.array([self._twin_row[twin] for twin, _ in keys], dtype=np.intp)
        codes = np.array(list(map(code_of.__getitem__, key_fields)), dtype=np.intp)
        self._slot_of.update(zip(keys, range(first, first + len(keys)), strict=True))
        self._stream_keys.extend(keys)
        slots = np.arange(first, len(self._stream_keys), dtype=np.intp)
        self._slot_table[rows + _FIRST_ROW, codes] = slots
        self._s_twin[slots] = rows
        cols = np.array([self._columns.get(field, -1) for field in key_fields], dtype=np.intp)
        self._s_col[slots] = cols
        # A stream's cell in the flat table of the twins' latest values (-1: not a column).
        self._s_cell[slots] = np.where(cols >= 0, rows * self._width + cols, -1)

    def _twin_rows(self, twins: Sequence[str], admit: Admit | None) -> IntArray:
        """Each point's twin's row of the slot table, _LEFT_OUT if its points are left out
        (twins without a verdict get one): one lookup per point."""
        rows = np.fromiter(map(self._row_of.__getitem__, twins), dtype=np.intp, count=len(twins))
        if rows.size and rows.min() == _UNKNOWN:
            unknown = np.flatnonzero(rows == _UNKNOWN).tolist()
            asked = list(dict.fromkeys(map(twins.__getitem__, unknown)))
            once = self._admit(asked, admit)
            rows[unknown] = [self._row_of[twins[i]] for i in unknown]
            for twin in once:
                self._row_of.pop(twin, None)
        return rows

    def _slots(self, twins: Sequence[str], names: Sequence[str], rows: IntArray) -> IntArray:
        """Each point's stream slot from its twin's row of the slot table (new streams are
        numbered in order of first sight)."""
        n = len(names)
        codes = np.fromiter(map(self._code_of.__getitem__, names), dtype=np.intp, count=n)
        # One flat gather; an unknown field name (0) finds the table's column of -1.
        slots: IntArray = self._slot_table.reshape(-1).take(
            rows * self._slot_table.shape[1] + codes
        )
        if slots.min() < 0:
            at = np.flatnonzero(slots < 0).tolist()
            pairs = zip(map(twins.__getitem__, at), map(names.__getitem__, at), strict=True)
            self._register(list(dict.fromkeys(pairs)))
            return self._slots(twins, names, rows)  # every stream is known now
        return slots

    # -- batches --------------------------------------------------------------------------------

    def update_points(
        self, points: Sequence[PointLike], *, detail: bool = False, admit: Admit | None = None
    ) -> BatchOutcome:
        """Check a batch of ingest points (``twin_id``, ``name``, ``event_time``, ``value``);
        with ``admit``, as :meth:`update` (the points left out are read no further)."""
        # One attribute per pass: list comprehensions are the fastest attribute reads.
        twins = [p.twin_id for p in points]
        n = len(twins)
        rows = self._twin_rows(twins, admit)
        chosen = self._chosen(rows)
        if chosen is not None:
            keep = (rows != _LEFT_OUT).tolist()
            points = list(compress(points, keep))
            twins = list(compress(twins, keep))
            rows = rows[chosen]
        return self._check(
            twins,
            [p.name for p in points],
            np.array([p.event_time for p in points], dtype=np.int64),
            [p.value for p in points],
            rows,
            chosen,
            n,
            detail,
        )

    def update(
        self,
        twins: Sequence[str],
        names: Sequence[str],
        times: Sequence[int] | NDArray[np.int64],
        values: Sequence[Any] | FloatArray,
        *,
        detail: bool = False,
        admit: Admit | None = None,
    ) -> BatchOutcome:
        """Check a batch given as columns; points of a stream must come in event-time order
        (across the batch they may interleave freely). With ``admit``, the points of twins it
        does not admit are left out (not counted, NaN in the detail)."""
        n = len(twins)
        if not (len(names) == n and len(times) == n and len(values) == n):
            raise ValueError("twins, names, times and values must have the same length")
        rows = self._twin_rows(twins, admit)
        t_all = np.asarray(times, dtype=np.int64).reshape(n)
        chosen = self._chosen(rows)
        if chosen is not None:
            keep = (rows != _LEFT_OUT).tolist()
            twins = list(compress(twins, keep))
            names = list(compress(names, keep))
            values = list(compress(values, keep))
            rows, t_all = rows[chosen], t_all[chosen]
        return self._check(twins, names, t_all, values, rows, chosen, n, detail)

    @staticmethod
    def _chosen(rows: IntArray) -> IntArray | None:
        """The positions of the points not left out (None: all of them)."""
        if rows.size == 0 or rows.min() != _LEFT_OUT:
            return None
        chosen: IntArray = np.flatnonzero(rows != _LEFT_OUT)
        return chosen

    def _check(
        self,
        twins: Sequence[str],
        names: Sequence[str],
        times: Sequence[int] | NDArray[np.int64],
        values: Sequence[Any] | FloatArray,
        rows: IntArray,
        chosen: IntArray | None,
        n: int,
        detail: bool,
    ) -> BatchOutcome:
        """Check the points of a batch of ``n`` that are not left out (at positions
        ``chosen``, None: all), their twins' rows of the slot table known."""
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
        m = len(twins)
        if m == 0:
            return BatchOutcome((), 0, 0, 0, out)
        slots = self._slots(twins, names, rows)
        t_all = np.asarray(times, dtype=np.int64).reshape(m)
        v_all = _to_floats(values, m)
        rounds = self._rounds_in_time_order(slots, t_all, v_all)
        in_order = rounds is not None
        if rounds is None:
            rounds = self._rounds_sorted(slots, t_all, v_all)
        kept = sum(r.size for r in rounds)
        skipped = m - kept
        if kept == 0:
            return BatchOutcome((), 0, 0, skipped, out)

        # Every round's model inputs first (they depend on the values, not on predictions),
        # predicted together when the predictor takes several rounds at once; then the
        # residuals go to the detectors round after round. A round's points are positions in
        # the batch as given.
        if in_order and len(rounds) == 1 and kept == m:
            # Every point in one round, in order (a batch of one instant): no gathers.
            points = rounds[0] if chosen is None else chosen
            steps = [self._advance(points, slots, t_all, v_all)]
        else:
            steps = [
                self._advance(r if chosen is None else chosen[r], slots[r], t_all[r], v_all[r])
                for r in rounds
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

    def _rounds_in_time_order(
        self, slots: IntArray, t: NDArray[np.int64], v: FloatArray
    ) -> list[IntArray] | None:
        """The rounds of a batch in event-time order in which no stream repeats an instant,
        found without sorting: each round's points in input order (None: not such a batch, or
        its tables would be large, for :meth:`_rounds_sorted`)."""
        n = slots.size
        if n > 1:
            if not (t[1:] >= t[:-1]).all():
                return None
            moved = t[1:] != t[:-1]
            epochs = int(np.count_nonzero(moved)) + 1
        else:
            epochs = 1
        # Tables of (stream, instant) and (twin, instant) cells: no bigger than a few sorts.
        limit = 8 * n + 4096
        streams = len(self._stream_keys)
        if max(streams, len(self._twin_ids)) * epochs > limit:
            return None
        # Each point's instant among the batch's (0, 1, ...), and its (stream, instant) cell.
        epoch = np.concatenate(([0], np.cumsum(moved))) if epochs > 1 else None
        key = slots if epoch is None else slots * epochs + epoch
        seen = np.zeros(streams * epochs, dtype=bool)
        seen[key] = True
        if np.count_nonzero(seen) < n:
            return None  # a repeated instant of a stream: the sorted path keeps its last point
        # Stale points and values that are not finite numbers are skipped.
        fresh = np.isfinite(v)
        fresh &= t > self._last_time[slots]
        kept = np.flatnonzero(fresh)
        if epoch is None or kept.size == 0:
            return [kept]
        # A point's round: how many of the batch's instants its twin had before (its kept
        # points'), counted along each twin's row of a (twin, instant) table.
        cell = self._s_twin[slots[kept]] * epochs + epoch[kept]
        present = np.zeros(len(self._twin_ids) * epochs, dtype=np.intp)
        present[cell] = 1
        rank = present.reshape(-1, epochs).cumsum(axis=1).reshape(-1).take(cell)
        rank -= 1
        return self._split_rounds(kept, rank)

    @staticmethod
    def _split_rounds(kept: IntArray, rank: IntArray) -> list[IntArray]:
        """``kept`` split by ``rank`` (0, 1, ... without gaps), in order within each round."""
        last = int(rank.max())
        if last == 0:
            return [kept]
        if last < 4:  # a few masks cost less than a sort
            return [kept[rank == r] for r in range(last + 1)]
        by_round = np.argsort(rank, kind="stable")
        bounds = np.searchsorted(rank[by_round], np.arange(last + 2)).tolist()
        return [kept[by_round[bounds[r] : bounds[r + 1]]] for r in range(last + 1)]

    def _rounds_sorted(
        self, slots: IntArray, t_all: NDArray[np.int64], v_all: FloatArray
    ) -> list[IntArray]:
        """The rounds of any batch, found by sorting (points by twin within a round)."""
        n = slots.size
        # Per stream in time order; drop repeats of an instant (the last wins) and stale points.
        # In event-time order, a stable sort by stream alone orders each stream by time (ties
        # by position), which is what the general (stream, time, position) sort gives.
        in_time_order = n < 2 or bool((t_all[1:] >= t_all[:-1]).all())
        # (lexsort is stable too: ties keep their position.)
        order = np.argsort(slots, kind="stable") if in_time_order else np.lexsort((t_all, slots))
        s_sorted, t_sorted = slots[order], t_all[order]
        keep = np.isfinite(v_all[order]) & (t_sorted > self._last_time[s_sorted])
        if n > 1:
            keep[:-1] &= ~((s_sorted[1:] == s_sorted[:-1]) & (t_sorted[1:] == t_sorted[:-1]))
        kept = order[keep]
        if kept.size == 0:
            return [kept]

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
        return self._split_rounds(kept, rank)

    def _advance(
        self, points: IntArray, s: IntArray, t: NDArray[np.int64], v: FloatArray
    ) -> tuple[IntArray, IntArray, NDArray[np.int64], FloatArray, StepInputs]:
        """Move distinct streams ``s`` on by one point each; answer what predicts the points."""
        count = self._count[s]
        first = count == 0
        prev = self._last_value[s]
        dt = (t - self._last_time[s]) / 1e6
        dt[first] = math.nan
        rows = self._s_twin[s]
        cols = self._s_col[s]
        width = self._width
        if width:
            # Flat indices: a 2-D fancy index costs about twice as much; ``take`` of rows
            # several times less than ``latest[rows]``. (``_latest`` is C-contiguous.)
            cells = self._s_cell[s]
            has = cells >= 0
            own = np.arange(len(s), dtype=np.intp) * width
            own += cols
            if has.all():
                self._latest.reshape(-1)[cells] = v
                snapshot = self._latest.take(rows, axis=0)
                snapshot.reshape(-1)[own] = prev
            else:
                self._latest.reshape(-1)[cells[has]] = v[has]
                snapshot = self._latest.take(rows, axis=0)
                snapshot.reshape(-1)[own[has]] = prev[has]
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
        count += 1
        self._count[s] = count
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
        bounds = [0, *np.cumsum(sizes).tolist()]
        return [predicted[a:b] for a, b in pairwise(bounds)]

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
                self._alert(
                    j, ls[alarm], lt[alarm], statistic[alarm], threshold[alarm], lp[alarm], alerts
                )
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
        size = self.policy.evidence_points
        position = self._ev_pos[es]
        cell = position * self._cap
        cell += es
        # Flat indices into the rings: cheaper than a 2-D fancy index.
        self._ev_r.reshape(-1)[cell] = er
        self._ev_t.reshape(-1)[cell] = et
        position += 1
        position %= size
        self._ev_pos[es] = position
        self._ev_n[es] = np.minimum(self._ev_n[es] + 1, size)

    def _alert(
        self,
        j: int,
        slots: IntArray,
        times: NDArray[np.int64],
        statistic: FloatArray,
        threshold: FloatArray,
        points: IntArray,
        alerts: list[DriftAlert],
    ) -> None:
        """Alerts for alarmed (distinct) streams outside their cooldown, with the evidence
        figures of all of them computed together; in the order of their twins' rows, then of
        their points (a round's points may come in input order)."""
        name = self.policy.detectors[j].name
        if slots.size > 1:
            order = np.lexsort((points, self._s_twin[slots]))
            slots, times, statistic, threshold = (
                slots[order],
                times[order],
                statistic[order],
                threshold[order],
            )
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
        low, high = int(counts.min()), int(counts.max())
        for count in [low] if low == high else np.unique(counts).tolist():
            group = np.flatnonzero(counts == count)
            rows = slots[group]
            # Each stream's row, contiguous: reduced as the stream's own figures would be.
            values = np.ascontiguousarray(self._ev_r[:count, rows].T)
            stamps = self._ev_t[:count, rows].T
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
