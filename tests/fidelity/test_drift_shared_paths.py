"""The drift monitor's batch shortcuts give what the plain per-point path gives: one model
step shared by a twin's fields at an instant, stream lookup by column, filtering by twin."""

from __future__ import annotations

import dataclasses
from itertools import pairwise
from typing import Any

import numpy as np
from fidelityhelp import generate, nameplate, running_pumps

from twinops.fidelity.drift import (
    BatchOutcome,
    BehaviorModelPredictor,
    Cusum,
    DriftAlert,
    DriftMonitor,
    DriftPolicy,
    PageHinkley,
    RollingError,
    StepInputs,
)
from twinops.sim.library.pump import PumpModel
from twinops.timeutil import parse_time

POLICY = DriftPolicy(detectors=(Cusum(), PageHinkley(), RollingError(window=20)), warmup_points=10)


class PerPointPredictor:
    """The wrapped predictor, told that no two points share an instant (one step each)."""

    def __init__(self, inner: BehaviorModelPredictor) -> None:
        self.inner = inner

    @property
    def fields(self) -> tuple[str, ...] | None:
        """The wrapped predictor's fields."""
        return self.inner.fields

    @property
    def smoothing_seconds(self) -> float:
        """The wrapped predictor's smoothing."""
        return self.inner.smoothing_seconds

    def predict(self, inputs: StepInputs) -> Any:
        """The wrapped prediction, stepping the model once per point."""
        return self.inner.predict(dataclasses.replace(inputs, one_instant_per_twin=False))


def _pump_predictor(pumps: list[dict[str, Any]]) -> BehaviorModelPredictor:
    twin_params = {p["$dtId"]: nameplate(p) for p in pumps}
    return BehaviorModelPredictor(PumpModel(), {"wearNoise": 0.0}, twin_params)


def _columns(points: list[dict[str, Any]]) -> tuple[list[str], list[str], Any, list[Any]]:
    ordered = sorted(points, key=lambda p: p["time"])
    return (
        [p["twin"] for p in ordered],
        [p["name"] for p in ordered],
        np.array([parse_time(p["time"]) for p in ordered], dtype=np.int64),
        [p["value"] for p in ordered],
    )


def _same_outcome(a: BatchOutcome, b: BatchOutcome) -> None:
    assert a.alerts == b.alerts
    assert (a.checked, a.warming, a.skipped) == (b.checked, b.warming, b.skipped)
    assert a.detail is not None and b.detail is not None
    for name in ("predicted", "residual", "z", "alarms", "statistics"):
        np.testing.assert_array_equal(getattr(a.detail, name), getattr(b.detail, name))


def test_shared_model_step_gives_same_prediction_as_per_field() -> None:
    _, pumps = running_pumps(3)
    predictor = _pump_predictor(pumps)
    fields = predictor.fields
    assert fields is not None
    rng = np.random.default_rng(5)
    twins = [p["$dtId"] for p in pumps]
    # Every field of every twin at one instant, plus a field the model does not know (-1);
    # a point's own column holds its previous value, as in a monitor round.
    rows = np.repeat(np.arange(len(twins)), len(fields) + 1)
    column = np.tile(np.arange(-1, len(fields)), len(twins))
    latest = rng.uniform(10.0, 1500.0, (len(twins), len(fields)))
    latest[0, fields.index("speed")] = np.nan  # not reported yet: the input's default
    previous = rng.uniform(10.0, 1500.0, len(rows))
    snapshot = latest[rows]
    has = column >= 0
    snapshot[np.flatnonzero(has), column[has]] = previous[has]
    dt = np.full(len(rows), 1.0)
    shared = StepInputs(column, snapshot, previous, previous, dt, rows, twins, True)
    alone = dataclasses.replace(shared, one_instant_per_twin=False)
    np.testing.assert_array_equal(predictor.predict(shared), predictor.predict(alone))


def test_monitor_rounds_with_shared_steps_match_per_point_steps() -> None:
    _, pumps = running_pumps(3)
    points = generate(pumps, hours=1.0, step_s=10.0, seed=2).points
    # A clogged impeller on one pump halfway through, so that detectors alarm.
    cut = sorted({p["time"] for p in points})[180]
    points = [
        {**p, "value": p["value"] * 0.8}
        if p["twin"] == pumps[0]["$dtId"] and p["name"] == "flowRate" and p["time"] >= cut
        else p
        for p in points
    ]
    columns = _columns(points)
    shared = DriftMonitor(POLICY, _pump_predictor(pumps))
    alone = DriftMonitor(POLICY, PerPointPredictor(_pump_predictor(pumps)))
    outcome = shared.update(*columns, detail=True)
    _same_outcome(outcome, alone.update(*columns, detail=True))
    assert outcome.alerts


def test_stream_lookup_registers_new_streams_in_order_of_first_sight() -> None:
    monitor = DriftMonitor(POLICY, capacity=1)
    t0 = 1_700_000_000_000_000
    first = monitor.update(["a", "b", "a"], ["x", "y", "y"], [t0, t0, t0], [1.0, 2.0, 3.0])
    # A known twin with a new field, a new twin with a known field, and known streams.
    later = monitor.update(
        ["b", "c", "a", "b", "c"],
        ["x", "y", "x", "y", "y"],
        [t0 + 1, t0 + 1, t0 + 1, t0 + 1, t0 + 2],
        [4.0, 5.0, 6.0, 7.0, 8.0],
    )
    # A stream's first point has no previous value to predict it by: skipped, still counted.
    assert (first.skipped, later.skipped) == (3, 2)
    assert monitor.stream_count == 5
    counts = {
        (twin, field): status.points
        for twin, field in [("a", "x"), ("b", "y"), ("a", "y"), ("b", "x"), ("c", "y")]
        if (status := monitor.status(twin, field)) is not None
    }
    assert counts == {("a", "x"): 2, ("b", "y"): 2, ("a", "y"): 1, ("b", "x"): 1, ("c", "y"): 2}
    assert monitor._stream_keys == [("a", "x"), ("b", "y"), ("a", "y"), ("b", "x"), ("c", "y")]


def test_batches_mixing_known_and_new_streams_match_one_batch_per_instant() -> None:
    _, pumps = running_pumps(2)
    twins, names, times, values = _columns(generate(pumps, hours=0.5, step_s=10.0).points)
    whole = DriftMonitor(POLICY, _pump_predictor(pumps), capacity=2)
    whole_outcome = whole.update(twins, names, times, values, detail=True)
    split = DriftMonitor(POLICY, _pump_predictor(pumps), capacity=2)
    # Cuts that put a pump's first points in a later batch than the other pump's.
    cuts = [0, 7, 40, 41, len(twins)]
    parts = [
        split.update(twins[a:b], names[a:b], times[a:b], values[a:b], detail=True)
        for a, b in pairwise(cuts)
    ]

    def key(alert: DriftAlert) -> tuple[int, str, str, str]:
        return alert.time_us, alert.twin, alert.field, alert.detector

    split_alerts = sorted((a for p in parts for a in p.alerts), key=key)
    assert split_alerts == sorted(whole_outcome.alerts, key=key)
    assert whole_outcome.detail is not None
    predicted = np.concatenate([p.detail.predicted for p in parts if p.detail is not None])
    np.testing.assert_array_equal(predicted, whole_outcome.detail.predicted)
