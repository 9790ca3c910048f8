"""Scoring drift detection against labelled anomalies, in the terms of the SKAB benchmark.

SKAB (Skoltech Anomaly Benchmark) scores outlier detection point by point over all files:
F1, FAR (false alarm rate, % of normal points flagged) and MAR (missed alarm rate, % of
anomalous points not flagged). Detection delay is measured per labelled segment: seconds from
the segment's first point to the first flagged point inside it. A file's rows are read with
:func:`read_skab_csv` (``;``-separated, naive ``datetime`` taken as UTC).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from twinops.fidelity.drift_monitor import DriftMonitor, check_series
from twinops.fidelity.drift_policy import DriftPolicy
from twinops.fidelity.drift_predictors import (
    EwmaPredictor,
    PersistencePredictor,
    RegressionPredictor,
    StepPredictor,
)
from twinops.timeutil import to_micros

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.int64]

SKAB_FIELDS = (
    "Accelerometer1RMS",
    "Accelerometer2RMS",
    "Current",
    "Pressure",
    "Temperature",
    "Thermocouple",
    "Voltage",
    "Volume Flow RateRMS",
)


@dataclass(frozen=True)
class LabelledSeries:
    """A multivariate series: event times (epoch µs), values ``(rows, fields)``, labels."""

    name: str
    fields: tuple[str, ...]
    times: IntArray
    values: FloatArray
    anomaly: BoolArray
    """All False when the file carries no labels."""


def read_skab_csv(path: Path, fields: tuple[str, ...] = SKAB_FIELDS) -> LabelledSeries:
    """One SKAB file as a :class:`LabelledSeries` (rows in file order)."""
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    times = np.array(
        [
            to_micros(datetime.strptime(r["datetime"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC))
            for r in rows
        ],
        dtype=np.int64,
    )
    values = np.array([[float(r[f]) for f in fields] for r in rows], dtype=np.float64)
    labelled = bool(rows) and "anomaly" in rows[0]
    anomaly = np.array([float(r["anomaly"]) > 0.5 if labelled else False for r in rows], dtype=bool)
    return LabelledSeries(f"{path.parent.name}/{path.name}", fields, times, values, anomaly)


def flags_from_alarms(times: IntArray, alarms: BoolArray, hold_us: int) -> BoolArray:
    """Point-wise flags: a point is flagged when an alarm fired at it or within ``hold_us``
    before it (a detector resets after alarming, so an alarm marks an episode, not a point)."""
    flags = np.zeros(len(times), dtype=bool)
    alarm_times = times[alarms]
    if alarm_times.size == 0:
        return flags
    # The latest alarm at or before each point.
    latest = np.searchsorted(alarm_times, times, side="right") - 1
    has = latest >= 0
    flags[has] = times[has] - alarm_times[latest[has]] <= hold_us
    return flags


@dataclass(frozen=True)
class PointScore:
    """Point-wise confusion counts and SKAB's figures."""

    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def f1(self) -> float:
        """2TP / (2TP + FP + FN)."""
        denominator = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denominator if denominator else 0.0

    @property
    def far(self) -> float:
        """False alarm rate, %: FP / (FP + TN)."""
        return 100.0 * self.fp / (self.fp + self.tn) if self.fp + self.tn else 0.0

    @property
    def mar(self) -> float:
        """Missed alarm rate, %: FN / (FN + TP)."""
        return 100.0 * self.fn / (self.fn + self.tp) if self.fn + self.tp else 0.0

    def __add__(self, other: PointScore) -> PointScore:
        return PointScore(
            self.tp + other.tp, self.fp + other.fp, self.fn + other.fn, self.tn + other.tn
        )


def score_points(labels: BoolArray, flags: BoolArray) -> PointScore:
    """Confusion counts of flags against labels."""
    return PointScore(
        int(np.count_nonzero(labels & flags)),
        int(np.count_nonzero(~labels & flags)),
        int(np.count_nonzero(labels & ~flags)),
        int(np.count_nonzero(~labels & ~flags)),
    )


@dataclass(frozen=True)
class SegmentResult:
    """One labelled anomaly segment: its span and the delay to its first flag (None: missed)."""

    start_us: int
    end_us: int
    delay_s: float | None


def segment_delays(times: IntArray, labels: BoolArray, flags: BoolArray) -> list[SegmentResult]:
    """Every contiguous labelled segment, with the delay from its start to its first flag."""
    results: list[SegmentResult] = []
    edges = np.diff(np.concatenate(([0], labels.astype(np.int8), [0])))
    for start, stop in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
        hit = np.flatnonzero(flags[start:stop])
        delay = None if hit.size == 0 else (times[start + hit[0]] - times[start]) / 1e6
        results.append(SegmentResult(int(times[start]), int(times[stop - 1]), delay))
    return results


def trivial_scores(labels: BoolArray) -> dict[str, PointScore]:
    """The scores of always alarming and never alarming on ``labels`` (the floor to beat)."""
    return {
        "always": score_points(labels, np.ones_like(labels)),
        "never": score_points(labels, np.zeros_like(labels)),
    }


# -- running the monitor over labelled files ---------------------------------------------------

PredictorKind = Literal["persistence", "ewma", "regression"]


@dataclass(frozen=True)
class Protocol:
    """SKAB's protocol: the first ``train_rows`` of a file are normal and may be learnt from.

    A regression predictor is fitted on the first ``fit_rows`` and the remaining training rows
    are its warm-up (out-of-sample residuals, so the residual scale is not flattered by the
    fit); univariate predictors warm up on all training rows. Scoring covers the rows after
    the training part. An alarm flags the point it fires at and ``hold_seconds`` after it.
    """

    train_rows: int = 400
    fit_rows: int = 200
    hold_seconds: float = 60.0
    ewma_tau_seconds: float = 10.0


def field_flags(
    series: LabelledSeries, kind: PredictorKind, policy: DriftPolicy, protocol: Protocol
) -> BoolArray:
    """Per test row and field, whether the field's detectors flag it: ``(rows, fields)``."""
    predictor: StepPredictor
    if kind == "regression":
        predictor = RegressionPredictor.fit(series.fields, series.values[: protocol.fit_rows])
        start = protocol.fit_rows
        warmup = protocol.train_rows - protocol.fit_rows
    else:
        ewma = EwmaPredictor(protocol.ewma_tau_seconds)
        predictor = PersistencePredictor() if kind == "persistence" else ewma
        start = 0
        warmup = protocol.train_rows - 1
    monitor = DriftMonitor(
        replace(policy, warmup_points=warmup, cooldown_seconds=0.0), predictor, capacity=16
    )
    times = series.times[start:]
    columns = {name: series.values[start:, i] for i, name in enumerate(series.fields)}
    outcome = check_series(monitor, "series", times, columns)
    assert outcome.detail is not None
    shaped = outcome.detail.alarms.reshape(len(times), len(series.fields), -1)
    alarms: BoolArray = np.any(shaped, axis=2)
    hold = int(protocol.hold_seconds * 1_000_000)
    skip = protocol.train_rows - start
    flags = [flags_from_alarms(times, alarms[:, f], hold)[skip:] for f in range(alarms.shape[1])]
    return np.stack(flags, axis=1)


@dataclass(frozen=True)
class Evaluation:
    """Point-wise score and per-segment delays over a set of files (test rows only)."""

    score: PointScore
    segments: tuple[SegmentResult, ...]

    def to_json(self) -> dict[str, object]:
        """F1, FAR, MAR (%), segments detected/missed and the mean delay (s)."""
        delays = [s.delay_s for s in self.segments if s.delay_s is not None]
        return {
            "f1": round(self.score.f1, 3),
            "far_pct": round(self.score.far, 2),
            "mar_pct": round(self.score.mar, 2),
            "segments_detected": len(delays),
            "segments_missed": len(self.segments) - len(delays),
            "mean_delay_s": round(float(np.mean(delays)), 1) if delays else None,
            "median_delay_s": round(float(np.median(delays)), 1) if delays else None,
            "counts": {
                "tp": self.score.tp,
                "fp": self.score.fp,
                "fn": self.score.fn,
                "tn": self.score.tn,
            },
        }


def evaluate(
    series: Sequence[LabelledSeries],
    kind: PredictorKind,
    policy: DriftPolicy,
    protocol: Protocol = Protocol(),
) -> Evaluation:
    """Run the monitor over every file; a test row is flagged when any field flags it."""
    total = PointScore(0, 0, 0, 0)
    segments: list[SegmentResult] = []
    for item in series:
        if item.anomaly[: protocol.train_rows].any():
            raise ValueError(f"{item.name}: anomalies inside the training rows")
        flags: BoolArray = np.any(field_flags(item, kind, policy, protocol), axis=1)
        labels = item.anomaly[protocol.train_rows :]
        total = total + score_points(labels, flags)
        segments += segment_delays(item.times[protocol.train_rows :], labels, flags)
    return Evaluation(total, tuple(segments))


def chunks(series: LabelledSeries, rows: int) -> list[LabelledSeries]:
    """``series`` cut into consecutive pieces of ``rows`` rows (a shorter tail is dropped)."""
    return [
        LabelledSeries(
            f"{series.name}#{a}",
            series.fields,
            series.times[a : a + rows],
            series.values[a : a + rows],
            series.anomaly[a : a + rows],
        )
        for a in range(0, len(series.times) - rows + 1, rows)
    ]


INFLATION_GRID = (1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0, 64.0)


def tune_scale_inflation(
    normal: Sequence[LabelledSeries],
    kind: PredictorKind,
    policy: DriftPolicy,
    protocol: Protocol = Protocol(),
    *,
    budget: float = 0.01,
    grid: Sequence[float] = INFLATION_GRID,
) -> dict[str, float]:
    """Per field, the smallest scale inflation whose flagged fraction of test rows over
    ``normal`` (anomaly-free) files stays within ``budget``; fields never within it get the
    largest factor of the grid."""
    fields = normal[0].fields
    chosen: dict[str, float] = {}
    for factor in grid:
        trial = replace(policy, scale_inflation={f: factor for f in fields})
        flagged = np.zeros(len(fields))
        rows = 0
        for item in normal:
            flags = field_flags(item, kind, trial, protocol)
            flagged += flags.sum(axis=0)
            rows += flags.shape[0]
        for i, name in enumerate(fields):
            if name not in chosen and flagged[i] <= budget * rows:
                chosen[name] = factor
        if len(chosen) == len(fields):
            break
    return {name: chosen.get(name, grid[-1]) for name in fields}
