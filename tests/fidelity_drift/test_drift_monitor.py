"""The drift monitor: per-stream state, alerts with evidence, ordering, predictors, policy."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twinops.fidelity.drift import (
    BehaviorModelPredictor,
    Cusum,
    DriftMonitor,
    DriftPolicy,
    EwmaPredictor,
    PageHinkley,
    RegressionPredictor,
    RollingError,
    check_series,
)
from twinops.sim.library.pump import PumpModel
from twinops.state.entities import AcceptedPoint

S = 1_000_000
T0 = 1_700_000_000 * S


def noisy_points(twin: str, field: str, n: int, shift_at: int | None, seed: int) -> list[tuple]:
    rng = np.random.default_rng(seed)
    values = 10.0 + rng.normal(0.0, 0.1, n)
    if shift_at is not None:
        values[shift_at:] += 2.0
    return [(twin, field, T0 + i * S, float(v)) for i, v in enumerate(values)]


def feed(monitor: DriftMonitor, points: list[tuple], **kwargs: bool):  # type: ignore[no-untyped-def]
    twins, names, times, values = zip(*points, strict=True) if points else ((), (), (), ())
    return monitor.update(list(twins), list(names), np.array(times), list(values), **kwargs)


def policy(**overrides: object) -> DriftPolicy:
    base: dict[str, object] = {
        "detectors": (Cusum(h=10.0), RollingError(window=20, factor=3.0)),
        "warmup_points": 50,
        "cooldown_seconds": 60.0,
    }
    return DriftPolicy(**(base | overrides))  # type: ignore[arg-type]


def test_monitor_alerts_on_the_shifted_field_only_with_its_evidence() -> None:
    monitor = DriftMonitor(policy(), EwmaPredictor(tau_seconds=20.0))
    points = noisy_points("pump-1", "flowRate", 300, 200, 1) + noisy_points(
        "pump-1", "speed", 300, None, 2
    )
    points.sort(key=lambda p: p[2])
    outcome = feed(monitor, points)
    assert outcome.alerts, "a 20-sd level shift must be noticed"
    assert {a.field for a in outcome.alerts} == {"flowRate"}
    first = min(outcome.alerts, key=lambda a: a.time_us)
    assert T0 + 200 * S <= first.time_us <= T0 + 210 * S
    assert first.statistic > first.threshold
    assert first.evidence.count == 30
    assert first.evidence.end_us == first.time_us
    assert first.evidence.mean > 0
    assert outcome.warming == 2 * 50
    assert outcome.checked + outcome.warming + outcome.skipped == len(points)


def test_cooldown_limits_alerts_per_stream_and_detector() -> None:
    monitor = DriftMonitor(policy(cooldown_seconds=1000.0), EwmaPredictor(5.0))
    outcome = feed(monitor, noisy_points("p", "f", 400, 100, 3))
    per_detector: dict[str, int] = {}
    for alert in outcome.alerts:
        per_detector[alert.detector] = per_detector.get(alert.detector, 0) + 1
    assert per_detector and all(count == 1 for count in per_detector.values())


def test_stale_duplicate_and_non_numeric_points_are_skipped() -> None:
    monitor = DriftMonitor(policy())
    feed(monitor, [("t", "x", T0 + 10 * S, 1.0)])
    outcome = feed(
        monitor,
        [
            ("t", "x", T0 + 5 * S, 2.0),  # older than the stream's last point
            ("t", "x", T0 + 10 * S, 2.0),  # same instant as the last point
            ("t", "x", T0 + 11 * S, "on"),  # not a number
            ("t", "x", T0 + 12 * S, float("nan")),
            ("t", "x", T0 + 13 * S, 3.0),
            ("t", "x", T0 + 13 * S, 4.0),  # a repeat of the instant: the last one wins
        ],
        detail=True,
    )
    assert outcome.skipped == 5
    status = monitor.status("t", "x")
    assert status is not None and status.points == 2 and status.last_time_us == T0 + 13 * S
    assert outcome.detail is not None
    assert outcome.detail.predicted[5] == 1.0  # persistence: the previous kept value


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=6), st.randoms(use_true_random=False))
def test_batching_and_interleaving_do_not_change_the_alerts(cuts: list[int], rnd) -> None:  # type: ignore[no-untyped-def]
    points = noisy_points("a", "f", 120, 70, 5) + noisy_points("b", "f", 120, None, 6)
    points += noisy_points("a", "g", 120, 90, 7)
    points.sort(key=lambda p: p[2])
    whole = DriftMonitor(policy(warmup_points=20), EwmaPredictor(3.0))
    expected = feed(whole, points).alerts
    # Same points, different batches, streams interleaved differently within each instant.
    pieces = DriftMonitor(policy(warmup_points=20), EwmaPredictor(3.0))
    shuffled = sorted(points, key=lambda p: (p[2], rnd.random()))
    got = []
    start = 0
    for size in itertools.cycle(cuts):
        if start >= len(shuffled):
            break
        got.extend(feed(pieces, shuffled[start : start + size]).alerts)
        start += size
    key = lambda a: (a.time_us, a.twin, a.field, a.detector)  # noqa: E731
    assert sorted(got, key=key) == sorted(expected, key=key)


def test_alerts_come_out_in_event_time_order_per_stream() -> None:
    monitor = DriftMonitor(policy(cooldown_seconds=0.0), EwmaPredictor(5.0))
    points = noisy_points("a", "f", 300, 100, 8) + noisy_points("b", "f", 300, 150, 9)
    outcome = feed(monitor, sorted(points, key=lambda p: p[2]))
    for twin in ("a", "b"):
        times = [a.time_us for a in outcome.alerts if a.twin == twin and a.detector == "cusum"]
        assert times == sorted(times) and len(times) > 1


def test_update_points_reads_ingest_accepted_points() -> None:
    monitor = DriftMonitor(policy(warmup_points=5))
    accepted = [AcceptedPoint("t", "x", T0 + i * S, float(i % 2), "bench") for i in range(20)]
    outcome = monitor.update_points(accepted)
    assert outcome.checked + outcome.warming + outcome.skipped == 20
    assert monitor.stream_count == 1


def test_regression_predictor_explains_a_field_by_the_others() -> None:
    rng = np.random.default_rng(10)
    speed = rng.uniform(1000, 1500, 500)
    flow = 0.07 * speed + rng.normal(0, 0.5, 500)
    predictor = RegressionPredictor.fit(("speed", "flow"), np.column_stack([speed, flow]))
    monitor = DriftMonitor(policy(warmup_points=100), predictor)
    times = T0 + np.arange(400) * S
    new_speed = rng.uniform(1000, 1500, 400)
    new_flow = 0.07 * new_speed + rng.normal(0, 0.5, 400)
    new_flow[300:] *= 0.8  # a clogged impeller: less flow for the same speed
    outcome = check_series(monitor, "pump", times, {"speed": new_speed, "flow": new_flow})
    assert outcome.detail is not None
    residual = outcome.detail.residual.reshape(400, 2)[:, 1]
    assert np.nanstd(residual[:300]) < 1.0  # the relation holds: residual ~ the noise
    flow_alerts = [a for a in outcome.alerts if a.field == "flow"]
    assert flow_alerts and min(a.time_us for a in flow_alerts) >= times[300]


def test_behavior_model_predictor_predicts_bound_outputs_from_the_twin_state() -> None:
    predictor = BehaviorModelPredictor(PumpModel())
    assert predictor.fields is not None and "flowRate" in predictor.fields
    monitor = DriftMonitor(policy(warmup_points=10), predictor)
    outcome = feed(
        monitor,
        [("pump", "speed", T0 + i * S, 1450.0) for i in range(3)]
        + [("pump", "flowRate", T0 + i * S, 100.0) for i in range(3)],
        detail=True,
    )
    assert outcome.detail is not None
    predicted = outcome.detail.predicted
    assert np.isfinite(predicted[3:]).all()
    # At rated speed and design resistance the pump runs near its rated flow (100 m³/h).
    assert 60.0 < predicted[4] < 140.0


def test_rebaseline_restarts_warm_up() -> None:
    monitor = DriftMonitor(policy(warmup_points=5))
    feed(monitor, noisy_points("t", "x", 20, None, 11))
    before = monitor.status("t", "x")
    assert before is not None and before.ready
    assert monitor.rebaseline("t") == 1
    after = monitor.status("t", "x")
    assert after is not None and not after.ready


def test_policy_fills_the_recalibration_template_and_reads_json() -> None:
    policy_json = {
        "detectors": [{"kind": "cusum", "k": 0.5, "h": 6}, {"kind": "page-hinkley", "lambda": 30}],
        "warmupPoints": 40,
        "cooldownSeconds": 120,
        "recalibrate": {"kind": "calibration", "twin": "${twin}", "window": ["${start}", "${end}"]},
    }
    read = DriftPolicy.from_json(policy_json)
    assert read.detectors == (Cusum(0.5, 6), PageHinkley(lambda_=30))
    assert read.warmup_points == 40
    monitor = DriftMonitor(read, EwmaPredictor(5.0))
    alerts = feed(monitor, noisy_points("pump-7", "flowRate", 200, 100, 12)).alerts
    assert alerts
    request = read.recalibration_request(alerts[0])
    assert request is not None and request["twin"] == "pump-7"
    assert request["window"][1].endswith("Z")
    assert DriftPolicy().recalibration_request(alerts[0]) is None
    assert alerts[0].to_json()["detector"] in {"cusum", "page-hinkley"}
    with pytest.raises(ValueError):
        DriftPolicy.from_json({"detectors": [{"kind": "magic"}]})
    with pytest.raises(ValueError):
        DriftPolicy(detectors=(Cusum(), Cusum(h=3)))
