"""The residual detectors on synthetic series with known change points."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twinops.fidelity.drift import Cusum, PageHinkley, RollingError, StreamingDetector

CHANGE = 500


def shifted(shift: float, seed: int, n: int = 1000, sd: float = 1.0) -> np.ndarray:
    """Standard normal noise whose mean moves by ``shift`` at index CHANGE."""
    rng = np.random.default_rng(seed)
    series = rng.normal(0.0, sd, n)
    series[CHANGE:] += shift
    return series


def first_alarm(alarms: np.ndarray, start: int = 0) -> int | None:
    hits = np.flatnonzero(alarms[start:])
    return None if hits.size == 0 else int(hits[0])


@pytest.mark.parametrize("shift", [1.0, -1.0, 2.0])
def test_cusum_detects_mean_shift_within_bounded_delay(shift: float) -> None:
    delays = []
    for seed in range(10):
        alarms, _ = StreamingDetector(Cusum(k=0.5, h=5.0)).run(shifted(shift, seed))
        before = first_alarm(alarms[:CHANGE])
        if before is not None:
            continue  # an in-control false alarm (ARL ~ 465 per side): judged separately
        delay = first_alarm(alarms, CHANGE)
        assert delay is not None
        delays.append(delay)
    # Average run length after a 1-sd shift with k=0.5, h=5 is about 10 points.
    assert delays and np.mean(delays) < 12 / abs(shift) + 2
    assert max(delays) < 40


def test_cusum_false_alarms_on_stationary_noise_stay_within_budget() -> None:
    # h = 10: two-sided in-control ARL about 70,000 points (Siegmund), so <= 1 in 10,000.
    detector = StreamingDetector(Cusum(k=0.5, h=10.0))
    alarms, stats = detector.run(np.random.default_rng(1).normal(size=10_000))
    assert alarms.sum() <= 1
    assert stats.min() >= 0.0


def test_cusum_uses_the_reference_scale() -> None:
    # Raw residuals with sd 10: unscaled they alarm at once, scaled they behave.
    noise = np.random.default_rng(2).normal(0.0, 10.0, 2000)
    raw, _ = StreamingDetector(Cusum()).run(noise)
    scaled, _ = StreamingDetector(Cusum(h=8.0), scale=10.0).run(noise)
    assert raw.sum() > 20
    assert scaled.sum() == 0


def test_cusum_resets_after_an_alarm_and_alarms_again_on_a_persisting_shift() -> None:
    alarms, stats = StreamingDetector(Cusum()).run(np.full(100, 3.0))
    hits = np.flatnonzero(alarms)
    assert len(hits) >= 10
    # Right after an alarm the sums restart from zero: one step of 3 - k.
    assert np.all(stats[hits[:-1] + 1] <= 3.0 - 0.5 + 1e-9)


@pytest.mark.parametrize("shift", [1.5, -1.5])
def test_page_hinkley_detects_mean_shift_within_bounded_delay(shift: float) -> None:
    for seed in range(5):
        alarms, _ = StreamingDetector(PageHinkley(delta=0.1, lambda_=40.0)).run(
            shifted(shift, seed)
        )
        assert first_alarm(alarms[:CHANGE]) is None
        delay = first_alarm(alarms, CHANGE)
        assert delay is not None and delay < 60


def test_page_hinkley_with_forgetting_stays_quiet_on_stationary_noise() -> None:
    # Forgetting keeps the sum's spread near sqrt(1/(1 - alpha^2)) ~ 7 sd: lambda 60 is quiet.
    detector = StreamingDetector(PageHinkley(delta=0.1, lambda_=60.0, alpha=0.99))
    alarms, _ = detector.run(np.random.default_rng(3).normal(size=5000))
    assert alarms.sum() == 0


def test_rolling_error_alarms_when_the_error_grows_beyond_factor_times_reference() -> None:
    residuals = shifted(0.0, 4)
    residuals[CHANGE:] *= 4.0  # the model got four times worse
    detector = StreamingDetector(RollingError(window=30, factor=2.0), reference_rms=1.0)
    alarms, stats = detector.run(residuals)
    assert first_alarm(alarms[:CHANGE]) is None
    delay = first_alarm(alarms, CHANGE)
    assert delay is not None and delay < 30
    assert stats[CHANGE - 1] < 2.0


def test_rolling_error_waits_for_a_full_window_unless_told() -> None:
    big = np.full(10, 100.0)
    full, _ = StreamingDetector(RollingError(window=20)).run(big)
    early, _ = StreamingDetector(RollingError(window=20, min_points=5)).run(big)
    assert not full.any()
    assert first_alarm(early) == 4


def test_detector_configs_refuse_nonsense() -> None:
    with pytest.raises(ValueError):
        Cusum(h=0)
    with pytest.raises(ValueError):
        PageHinkley(alpha=1.5)
    with pytest.raises(ValueError):
        RollingError(window=0)


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@settings(max_examples=50, deadline=None)
@given(st.lists(finite, min_size=1, max_size=200), st.floats(0.0, 2.0), st.floats(0.5, 20.0))
def test_cusum_statistic_is_never_negative(values: list[float], k: float, h: float) -> None:
    _, stats = StreamingDetector(Cusum(k=k, h=h)).run(np.array(values))
    assert (stats >= 0).all()


@settings(max_examples=50, deadline=None)
@given(st.floats(-1e3, 1e3), st.integers(1, 300))
def test_a_detector_fed_its_reference_constant_residual_never_alarms(value: float, n: int) -> None:
    series = np.full(n, value)
    # The residual equals the reference level: zero deviation for every detector.
    for config in (Cusum(), PageHinkley(), RollingError(window=10, factor=2.0)):
        detector = StreamingDetector(config, center=value, reference_rms=max(abs(value), 1e-6))
        alarms, _ = detector.run(series)
        assert not alarms.any(), config


@settings(max_examples=30, deadline=None)
@given(st.floats(-50.0, 50.0), st.integers(1, 300))
def test_page_hinkley_fed_any_constant_never_alarms(value: float, n: int) -> None:
    # Its running mean absorbs any constant level.
    alarms, _ = StreamingDetector(PageHinkley()).run(np.full(n, value))
    assert not alarms.any()
