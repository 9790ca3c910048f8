"""Bad calibration inputs fail clearly, naming the parameter and the reason — never a silently
poor model marked as a success."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pytest
from fidelityhelp import FIXED, calibration_spec, generate, pure_problem, running_pumps

from twinops.errors import InvalidInput
from twinops.fidelity.calibration import CalibrationError, FitOptions, calibrate
from twinops.fidelity.spec import parse_calibration
from twinops.sim.library.pump import PUMP_SIGNATURE, PumpModel
from twinops.sim.model import Arrays, FloatArray, ModelSignature, StepContext


@pytest.fixture(scope="module")
def generated() -> Any:
    _, pumps = running_pumps(1)
    return generate(pumps, hours=4.0, step_s=120.0, seed=5)


def test_a_parameter_without_effect_is_named_as_insensitive(generated: Any) -> None:
    raw = calibration_spec(generated.twins, hours=4.0, fit=["flowRate"])
    raw["parameters"] = ["staticHeadRatio", "vibrationWearGain"]
    _, problem, fit = pure_problem(raw, generated)
    with pytest.raises(CalibrationError, match="vibrationWearGain has no effect") as caught:
        calibrate(problem, fit, FitOptions())
    assert "flowRate" in str(caught.value)


def test_parameters_that_only_act_together_are_named_as_correlated(generated: Any) -> None:
    raw = calibration_spec(generated.twins, hours=4.0, fit=["motorPower"])
    raw["parameters"] = ["efficiencyBestPoint", "motorEfficiency"]
    _, problem, fit = pure_problem(raw, generated)
    with pytest.raises(CalibrationError, match="not separately identifiable") as caught:
        calibrate(problem, fit, FitOptions())
    assert "efficiencyBestPoint" in str(caught.value) and "motorEfficiency" in str(caught.value)


def test_a_prior_makes_an_insensitive_parameter_identifiable(generated: Any) -> None:
    raw = calibration_spec(generated.twins, hours=4.0, fit=["flowRate"], priors=True)
    raw["parameters"] = ["staticHeadRatio", "bearingThermalResistance"]
    _, problem, fit = pure_problem(raw, generated)
    result = calibrate(problem, fit, FitOptions(), use_priors=True)
    i = fit.names.index("bearingThermalResistance")
    # No data speaks about it: the estimate is the prior's mean, the interval its spread.
    assert result.estimates[0, i] == pytest.approx(0.2, rel=1e-3)
    assert result.stderr[0, i] == pytest.approx(0.02, rel=0.05)


def test_a_stochastic_model_is_refused_with_the_fix(generated: Any) -> None:
    raw = calibration_spec(generated.twins, hours=4.0)
    raw["fixed"] = {k: v for k, v in FIXED.items() if k != "wearNoise"}
    _, problem, fit = pure_problem(raw, generated)
    with pytest.raises(CalibrationError, match=r"stochastic.*wearNoise: 0"):
        calibrate(problem, fit, FitOptions())


def test_a_fit_that_does_not_converge_fails_instead_of_reporting(generated: Any) -> None:
    raw = calibration_spec(generated.twins, hours=4.0)
    raw["parameters"] = {"shutoffHeadRatio": {"initial": 1.9}, "staticHeadRatio": {"initial": 0.9}}
    _, problem, fit = pure_problem(raw, generated)
    with pytest.raises(CalibrationError, match="did not converge within 5 evaluations"):
        calibrate(problem, fit, FitOptions(max_evaluations=5))


class DivergingPump(PumpModel):
    """The pump, whose flow is NaN when the static head ratio is above 0.5."""

    signature: ClassVar[ModelSignature] = PUMP_SIGNATURE

    def step(
        self, ctx: StepContext, state: Arrays, inputs: Arrays, params: Arrays
    ) -> tuple[dict[str, FloatArray], dict[str, FloatArray]]:
        next_state, outputs = super().step(ctx, state, inputs, params)
        if outputs:
            bad = params["staticHeadRatio"] > 0.5
            outputs["flowRate"] = np.where(bad, np.nan, outputs["flowRate"])
        return next_state, outputs


def test_a_model_that_diverges_names_the_output_and_the_values(
    generated: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWINOPS_SIM_MODEL_MODULES", __name__)
    raw = calibration_spec(generated.twins, hours=4.0, model=f"{__name__}:DivergingPump")
    raw["parameters"] = {"staticHeadRatio": {"initial": 0.7}, "shutoffHeadRatio": {}}
    _, problem, fit = pure_problem(raw, generated)
    with pytest.raises(CalibrationError, match=r"diverged: output flowRate of pump-01-01-01"):
        calibrate(problem, fit, FitOptions())


def test_too_few_observations_for_the_parameters_fail(generated: Any) -> None:
    raw = calibration_spec(generated.twins, hours=4.0, fit=["flowRate"])
    _, problem, fit = pure_problem(raw, generated)
    problem.observed[:, 3:, :] = np.nan  # three points left for six parameters
    with pytest.raises(CalibrationError, match="only 3 observations for 6 parameters"):
        calibrate(problem, fit, FitOptions())


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"parameters": ["noSuchThing"]}, "parameters.noSuchThing", "unknownParameter"),
        ({"fit": ["noSuchOutput"]}, "fit.noSuchOutput", "unknownOutput"),
        ({"fit": ["head"]}, "fit.head", "required"),
        (
            {"parameters": {"staticHeadRatio": {"lower": 0.5, "upper": 0.2}}},
            "parameters.staticHeadRatio",
            "range",
        ),
        (
            {"parameters": {"staticHeadRatio": {"initial": 2.0}}},
            "parameters.staticHeadRatio.initial",
            "range",
        ),
        (
            {"fixed": {"staticHeadRatio": 0.3}, "parameters": ["staticHeadRatio"]},
            "parameters.staticHeadRatio",
            "conflict",
        ),
        (
            {"window": {"start": "2025-06-02T00:00:00Z", "end": "2025-06-01T00:00:00Z"}},
            "window",
            "value",
        ),
        ({"bootstrap": 50}, "bootstrap", "kind"),
        ({"method": "newton"}, "method", "enum"),
    ],
)
def test_bad_calibration_specs_name_the_field_and_rule(
    change: dict[str, Any], field: str, rule: str
) -> None:
    raw = {**calibration_spec(["pump-01-01-01"]), **change}
    with pytest.raises(InvalidInput) as caught:
        parse_calibration(raw)
    assert (field, rule) in {(v.field, v.rule) for v in caught.value.violations}, (
        caught.value.violations
    )
