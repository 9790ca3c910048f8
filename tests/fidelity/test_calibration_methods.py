"""The other fit paths on known truth: a global search from a poor start, bootstrap intervals,
and one shared parameter set for a fleet."""

from __future__ import annotations

from typing import Any

import pytest
from fidelityhelp import calibration_spec, generate, pure_problem, running_pumps

from twinops.fidelity.calibration import FitOptions, calibrate

TWO = {"shutoffHeadRatio": {"initial": 1.9}, "staticHeadRatio": {"initial": 0.85}}


@pytest.fixture(scope="module")
def generated() -> Any:
    _, pumps = running_pumps(1)
    return generate(pumps, hours=3.0, step_s=120.0, seed=8)


def test_a_global_search_then_polish_recovers_from_a_poor_start(generated: Any) -> None:
    raw = calibration_spec(generated.twins, hours=3.0, fit=["flowRate", "dischargePressure"])
    raw["parameters"] = TWO
    _, problem, fit = pure_problem(raw, generated)
    result = calibrate(problem, fit, FitOptions(method="global", generations=15, seed=3))
    truth = generated.truth[0]
    for i, name in enumerate(fit.names):
        assert result.estimates[0, i] == pytest.approx(truth[name], rel=0.02)


def test_bootstrap_spreads_agree_with_the_jacobian_and_cover_the_truth(generated: Any) -> None:
    raw = calibration_spec(generated.twins, hours=3.0, fit=["flowRate", "dischargePressure"])
    raw["parameters"] = ["shutoffHeadRatio", "staticHeadRatio"]
    _, problem, fit = pure_problem(raw, generated)
    jacobian = calibrate(problem, fit, FitOptions())
    boot = calibrate(problem, fit, FitOptions(intervals="bootstrap", bootstrap=20, seed=1))
    assert boot.bootstrap_replicates >= 10
    for i, name in enumerate(fit.names):
        assert boot.low[0, i] < boot.estimates[0, i] < boot.high[0, i]
        # Twenty refits estimate the spread only roughly: the same order as the Jacobian's.
        assert 0.3 < boot.stderr[0, i] / jacobian.stderr[0, i] < 3.0, name
        error = abs(boot.estimates[0, i] - generated.truth[0][name])
        assert error < 4.0 * boot.stderr[0, i], name


def test_a_shared_fleet_fit_gives_one_set_between_the_twins_truths() -> None:
    _, pumps = running_pumps(3)
    data = generate(pumps, hours=3.0, step_s=120.0, seed=9)
    raw = calibration_spec(data.twins, hours=3.0, shared=True)
    _, problem, fit = pure_problem(raw, data)
    result = calibrate(problem, fit, FitOptions(shared=True))
    assert result.estimates.shape == (1, len(fit.names))
    for i, name in enumerate(fit.names):
        values = [truth[name] for truth in data.truth]
        # The twins' truths differ by ±2 %: one set for all lies among them.
        assert min(values) * 0.98 <= result.estimates[0, i] <= max(values) * 1.02, name
