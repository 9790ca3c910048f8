"""The monitor's fast paths replay what the plain semantics give, on an edge-case set: batches
in time order whose rounds are found without sorting, twins left out by ``admit`` (one lookup
per point instead of a filtered batch), and a per-point reference of the whole check.

Edge cases throughout: twins the monitor does not check, twins reporting different fields and
some fields now and then, values that are not numbers, points out of order and older than their
stream's last, repeated instants of a stream, streams (and twins) starting mid-batch."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from itertools import pairwise
from typing import Any

import numpy as np
import pytest

from twinops.fidelity.drift import (
    BatchOutcome,
    BehaviorModelPredictor,
    Cusum,
    DriftMonitor,
    DriftPolicy,
    PageHinkley,
    PersistencePredictor,
    RollingError,
    StreamingDetector,
)
from twinops.sim.library.pump import PumpModel

S = 1_000_000
T0 = 1_700_000_000 * S
POLICY = DriftPolicy(
    detectors=(Cusum(h=3.0), PageHinkley(lambda_=4.0), RollingError(window=5, factor=1.5)),
    warmup_points=4,
    cooldown_seconds=2.0,
    evidence_points=6,
)
LEVELS = {
    "speed": 1450.0,
    "suctionPressure": 120.0,
    "flowRate": 90.0,
    "dischargePressure": 520.0,
    "motor.current": 32.0,
    "vibration": 0.2,
    "status": 1.0,  # no model field
}
Point = tuple[str, str, int, Any]


def _telemetry(seed: int, *, shuffle: bool, repeat: bool | None = None) -> list[Point]:
    """Pumps ``p*`` (checked) and sensors ``s*`` (left out by ``_pumps_only``) at their own
    pace and start, each with its own fields and gaps; odd values; a shift on p1."""
    rng = np.random.default_rng(seed)
    points: list[Point] = []
    twins = {"p0": 1, "p1": 1, "p2": 2, "p3": 3, "s0": 1, "s1": 2}
    for j, (twin, period) in enumerate(twins.items()):
        fields = list(LEVELS)[: 3 + (j * 2) % 5] if twin.startswith("p") else ["reading"]
        start = int(rng.integers(0, 12))
        for k in range(start, 80, period):
            for name in fields:
                if rng.random() < 0.08:
                    continue  # a field missing at an instant
                level = LEVELS.get(name, 5.0) * (1.3 if twin == "p1" and k > 40 else 1.0)
                value: Any = level * (1.0 + 0.01 * rng.normal())
                odd = rng.random()
                if odd < 0.03:
                    value = None if odd < 0.01 else (math.nan if odd < 0.02 else math.inf)
                if twin.startswith("s") and odd > 0.9:
                    value = "ok"  # a sensor's text: not a number
                elif odd > 0.98:
                    value = str(round(level, 1))  # a number as text: NumPy reads it
                points.append((twin, name, T0 + k * S, value))
    points.sort(key=lambda p: p[2])
    if shuffle:
        for _ in range(12):  # out of order within a batch, and older than the stream's last
            i = int(rng.integers(0, len(points) - 40))
            points.insert(i + int(rng.integers(1, 40)), points.pop(i))
    if shuffle if repeat is None else repeat:
        for _ in range(6):  # a stream's instant repeated (in time order still)
            i = int(rng.integers(0, len(points)))
            twin, name, t, _ = points[i]
            points.insert(i + 1, (twin, name, t, LEVELS.get(name, 5.0)))
    return points


def _batches(points: list[Point], seed: int) -> list[list[Point]]:
    rng = np.random.default_rng(seed)
    cuts = sorted({0, len(points), *rng.integers(1, len(points), 14).tolist()})
    # One long batch too: many rounds, found by a stable sort of rounds.
    cuts = [c for c in cuts if not 100 < c < 600]
    batches = [points[a:b] for a, b in pairwise(cuts)]
    # A batch sent again later (older than its streams' last points), and a batch of one.
    return [*batches[:-2], batches[1], batches[-2][:1], batches[-2][1:], batches[-1]]


def _feed(monitor: DriftMonitor, batch: Sequence[Point], **kwargs: Any) -> BatchOutcome:
    twins, names, times, values = zip(*batch, strict=True)
    return monitor.update(list(twins), list(names), np.array(times), list(values), **kwargs)


def _same(a: BatchOutcome, b: BatchOutcome, at: list[int] | None = None) -> None:
    """The same outcome (``b``'s detail at positions ``at``)."""
    assert a.alerts == b.alerts  # same alerts, in the same order
    assert (a.checked, a.warming, a.skipped) == (b.checked, b.warming, b.skipped)
    assert a.detail is not None and b.detail is not None
    for name in ("predicted", "residual", "z", "alarms", "statistics"):
        mine = getattr(b.detail, name)
        np.testing.assert_array_equal(getattr(a.detail, name), mine if at is None else mine[at])


def _same_streams(a: DriftMonitor, b: DriftMonitor) -> None:
    assert a._stream_keys == b._stream_keys
    for key in a._stream_keys:
        assert a.status(*key) == b.status(*key)


def _predictors() -> dict[str, Callable[[], Any]]:
    return {
        "persistence": PersistencePredictor,
        "model": lambda: BehaviorModelPredictor(PumpModel(), {"wearNoise": 0.0}),
    }


@pytest.mark.parametrize("make", list(_predictors().values()), ids=list(_predictors()))
@pytest.mark.parametrize(("shuffle", "repeat"), [(False, False), (False, True), (True, True)])
def test_rounds_found_without_sorting_match_the_sorted_rounds(
    make: Callable[[], Any], shuffle: bool, repeat: bool
) -> None:
    fast = DriftMonitor(POLICY, make(), capacity=2)
    plain = DriftMonitor(POLICY, make(), capacity=2)
    plain._rounds_in_time_order = lambda *_: None  # type: ignore[method-assign]
    used = 0
    original = fast._rounds_in_time_order

    def counted(*args: Any) -> Any:
        nonlocal used
        found = original(*args)
        used += found is not None
        return found

    fast._rounds_in_time_order = counted  # type: ignore[method-assign]
    alerts = 0
    batches = _batches(_telemetry(3, shuffle=shuffle, repeat=repeat), 4)
    for batch in batches:
        outcome = _feed(fast, batch, detail=True)
        _same(outcome, _feed(plain, batch, detail=True))
        alerts += len(outcome.alerts)
    _same_streams(fast, plain)
    assert alerts > 0
    # In time order without repeats, every batch takes the fast path; else not all.
    assert used == len(batches) if not repeat else 0 < used < len(batches)


def _pumps_only(once: set[str]) -> Callable[[list[str]], tuple[set[str], set[str]]]:
    def admit(twins: list[str]) -> tuple[set[str], set[str]]:
        assert len(set(twins)) == len(twins)
        return {t for t in twins if t.startswith("p")}, once & set(twins)

    return admit


@pytest.mark.parametrize("make", list(_predictors().values()), ids=list(_predictors()))
@pytest.mark.parametrize("shuffle", [False, True])
def test_twins_left_out_by_admit_are_as_if_never_given(
    make: Callable[[], Any], shuffle: bool
) -> None:
    whole = DriftMonitor(POLICY, make(), capacity=2)
    alone = DriftMonitor(POLICY, make(), capacity=2)
    asked: list[list[str]] = []
    # s0's verdict holds for a batch only: it is asked about whenever met.
    settled = _pumps_only({"s0"})

    def admit(twins: list[str]) -> tuple[set[str], set[str]]:
        asked.append(twins)
        return settled(twins)

    alerts = 0
    for i, batch in enumerate(_batches(_telemetry(5, shuffle=shuffle), 6)):
        if i == 5:
            whole.reconsider()  # the twins' models read anew: every twin is asked again
        outcome = _feed(whole, batch, detail=True, admit=admit)
        mine = [j for j, p in enumerate(batch) if p[0].startswith("p")]
        if mine:
            _same(_feed(alone, [batch[j] for j in mine], detail=True), outcome, mine)
        left = [j for j, p in enumerate(batch) if not p[0].startswith("p")]
        assert outcome.detail is not None
        assert np.isnan(outcome.detail.residual[left]).all()
        alerts += len(outcome.alerts)
    _same_streams(whole, alone)
    assert alerts > 0
    assert {t for twins in asked for t in twins} == {"p0", "p1", "p2", "p3", "s0", "s1"}
    # Settled verdicts are not asked for again until reconsidered; s0's in every batch.
    assert sum(twins.count("p0") for twins in asked) == 2
    assert sum(twins.count("s0") for twins in asked) == sum(
        any(p[0] == "s0" for p in batch) for batch in _batches(_telemetry(5, shuffle=shuffle), 6)
    )


def _reference(policy: DriftPolicy, batches: list[list[Point]]) -> tuple[list[Any], list[Any]]:
    """The check point by point with the persistence predictor: each stream's points of a batch
    by time (an instant's last), skipped when not finite or not newer than the stream's last;
    warm-up, then scalar detectors; alerts outside the cooldown with the evidence ring's
    figures. Answers the alerts as (twin, field, detector, time, statistic, evidence) and each
    batch's residuals."""
    streams: dict[tuple[str, str], dict[str, Any]] = {}
    alerts: list[Any] = []
    residuals: list[Any] = []
    size = policy.evidence_points
    for batch in batches:
        text = any(isinstance(v, str) for *_, v in batch)
        residual = np.full(len(batch), math.nan)
        by_stream: dict[tuple[str, str], dict[int, int]] = {}
        for i, (twin, name, t, _v) in enumerate(batch):
            by_stream.setdefault((twin, name), {})[t] = i  # an instant's last point
        for key, at in by_stream.items():
            s = streams.setdefault(
                key, {"last": None, "prev": math.nan, "n": 0, "sum": 0.0, "sq": 0.0,
                      "ring": [0.0] * size, "stamps": [0] * size, "pos": 0, "count": 0,
                      "detectors": None, "alerted": {}},
            )  # fmt: skip
            before = s["last"]
            for t in sorted(at):
                i = at[t]
                raw = batch[i][3]
                # A batch holding text converts point by point (None and text are NaN);
                # otherwise as NumPy does (None is NaN too).
                value = math.nan if raw is None or isinstance(raw, str) else float(raw)
                assert not text or not isinstance(raw, bool)
                if not math.isfinite(value) or (before is not None and t <= before):
                    continue
                prev, s["prev"], s["last"] = s["prev"], value, t
                r = value - prev
                if not math.isfinite(r):
                    continue  # a stream's first point: nothing to predict it by
                residual[i] = r
                ready = s["detectors"] is not None
                if not ready:
                    s["n"] += 1
                    s["sum"] += r
                    s["sq"] += r * r
                s["ring"][s["pos"]], s["stamps"][s["pos"]] = r, t
                s["pos"], s["count"] = (s["pos"] + 1) % size, min(s["count"] + 1, size)
                if not ready:
                    if s["n"] >= policy.warmup_points:
                        n, mean = s["n"], s["sum"] / s["n"]
                        var = max(s["sq"] / n - mean * mean, 0.0) * n / (n - 1)
                        scale = max(math.sqrt(var), policy.min_sd)
                        ref = max(math.sqrt(s["sq"] / n), policy.min_sd)
                        s["detectors"] = [
                            StreamingDetector(d, scale, mean, ref) for d in policy.detectors
                        ]
                    continue
                for detector in s["detectors"]:
                    step = detector.update(r)
                    last = s["alerted"].get(detector.config.name)
                    cooldown = policy.cooldown_seconds * S
                    if step.alarm and (last is None or t - last >= cooldown):
                        s["alerted"][detector.config.name] = t
                        ring = np.array(s["ring"][: s["count"]])
                        stamps = s["stamps"][: s["count"]]
                        sd = float(ring.std(ddof=1)) if ring.size > 1 else 0.0
                        evidence = (float(ring.mean()), sd, ring.size, min(stamps), max(stamps))
                        alerts.append((*key, detector.config.name, t, step.statistic, evidence))
        residuals.append(residual)
    return alerts, residuals


@pytest.mark.parametrize("shuffle", [False, True])
def test_the_batch_path_replays_the_point_by_point_check(shuffle: bool) -> None:
    points = [p for p in _telemetry(7, shuffle=shuffle) if not isinstance(p[3], str)]
    batches = _batches(points, 8)
    monitor = DriftMonitor(POLICY, PersistencePredictor(), capacity=2)
    got: list[Any] = []
    for batch, want in zip(batches, _reference(POLICY, batches)[1], strict=True):
        outcome = _feed(monitor, batch, detail=True, admit=_pumps_only(set()))
        assert outcome.detail is not None
        mine = [i for i, p in enumerate(batch) if p[0].startswith("p")]
        np.testing.assert_array_equal(outcome.detail.residual[mine], want[mine])
        got += [
            (a.twin, a.field, a.detector, a.time_us, a.statistic, dataclasses.astuple(a.evidence))
            for a in outcome.alerts
        ]
    pumps = [[p for p in batch if p[0].startswith("p")] for batch in batches]
    want_alerts = _reference(POLICY, pumps)[0]
    assert len(want_alerts) > 3

    def order(alert: Any) -> tuple[int, str, str, str]:
        return alert[3], alert[0], alert[1], alert[2]

    assert sorted(got, key=order) == sorted(want_alerts, key=order)
