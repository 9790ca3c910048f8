"""Validation metrics: exact on known cases, and their invariants for any data (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from twinops.fidelity.metrics import check_thresholds, compare

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
series = arrays(np.float64, st.integers(2, 60), elements=finite)


def test_metrics_of_a_known_case() -> None:
    observed = np.array([1.0, 2.0, 3.0, 4.0])
    simulated = np.array([1.5, 2.0, 2.5, 5.0])
    m = compare(observed, simulated, observed - 0.6, observed + 0.6)
    assert m.n == 4
    assert m.bias == pytest.approx(0.25)
    assert m.mae == pytest.approx(0.5)
    assert m.rmse == pytest.approx(math.sqrt((0.25 + 0 + 0.25 + 1) / 4))
    assert m.mape == pytest.approx(100 * (0.5 + 0 + 0.5 / 3 + 0.25) / 4)
    assert m.r2 == pytest.approx(1 - 1.5 / 5.0)
    assert m.coverage == 1.0


def test_gaps_are_skipped_and_no_pairs_give_undefined_metrics() -> None:
    m = compare(np.array([1.0, np.nan, 3.0]), np.array([1.0, 2.0, np.inf]))
    assert m.n == 1 and m.rmse == 0.0 and m.r2 is None
    empty = compare(np.array([np.nan]), np.array([1.0]))
    assert empty.n == 0 and empty.rmse is None and empty.bias is None


@settings(max_examples=200, deadline=None)
@given(series, st.data())
def test_rmse_bounds_mae_bounds_the_absolute_bias(
    observed: np.ndarray, data: st.DataObject
) -> None:
    simulated = data.draw(arrays(np.float64, observed.shape, elements=finite))
    m = compare(observed, simulated)
    assert m.rmse is not None and m.mae is not None and m.bias is not None
    tolerance = 1e-9 * (1 + m.rmse)
    assert m.rmse + tolerance >= m.mae >= abs(m.bias) - tolerance
    if m.r2 is not None:
        assert m.r2 <= 1.0 + 1e-12


@settings(max_examples=200, deadline=None)
@given(series, st.floats(-1e3, 1e3, allow_nan=False))
def test_a_constant_offset_is_all_bias(observed: np.ndarray, offset: float) -> None:
    m = compare(observed, observed + offset)
    assert m.bias == pytest.approx(offset, abs=1e-6)
    assert m.rmse == pytest.approx(abs(offset), abs=1e-6)
    assert m.mae == pytest.approx(abs(offset), abs=1e-6)


@settings(max_examples=200, deadline=None)
@given(series)
def test_a_perfect_prediction_scores_perfectly(observed: np.ndarray) -> None:
    m = compare(observed, observed.copy(), observed, observed)
    assert m.rmse == 0.0 and m.bias == 0.0 and m.coverage == 1.0
    assert m.r2 is None or m.r2 == 1.0


@settings(max_examples=100, deadline=None)
@given(series, st.floats(0.01, 10.0), st.data())
def test_coverage_is_a_fraction_that_grows_with_the_interval(
    observed: np.ndarray, width: float, data: st.DataObject
) -> None:
    simulated = data.draw(arrays(np.float64, observed.shape, elements=finite))
    narrow = compare(observed, simulated, simulated - width, simulated + width)
    wide = compare(observed, simulated, simulated - 2 * width, simulated + 2 * width)
    assert narrow.coverage is not None and wide.coverage is not None
    assert 0.0 <= narrow.coverage <= wide.coverage <= 1.0


def test_thresholds_pass_and_fail_per_metric() -> None:
    m = compare(np.array([1.0, 2.0, 3.0]), np.array([1.1, 2.1, 3.1]))
    verdict = check_thresholds(m, {"rmse": 0.2, "r2": 0.9, "bias": 0.05})
    assert verdict["passed"] is False
    assert verdict["checks"]["rmse"]["passed"] is True
    assert verdict["checks"]["bias"]["passed"] is False
    undefined = check_thresholds(compare(np.ones(3), np.ones(3)), {"r2": 0.5})
    assert undefined["passed"] is False and undefined["checks"]["r2"]["reason"] == "undefined"
