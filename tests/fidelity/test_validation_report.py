"""Validation on held-out known-truth data: metrics, interval coverage, verdicts, the report."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from fidelityhelp import FIXED, TRUTH, calibration_spec, generate, running_pumps

from twinops.fidelity.arrays import snapshot_from_data
from twinops.fidelity.jobs import run_validation
from twinops.fidelity.spec import parse_validation


@pytest.fixture(scope="module")
def generated() -> Any:
    _, pumps = running_pumps(2)
    return generate(pumps, hours=6.0, step_s=60.0, seed=11)


def _spec(twins: list[str], **extra: Any) -> dict[str, Any]:
    base = calibration_spec(twins, hours=6.0, step="1min")
    return {
        "kind": "validate",
        "model": base["model"],
        "twins": twins,
        "window": base["window"],
        "step": "1min",
        "inputs": base["inputs"],
        "outputs": ["flowRate", "motorPower"],
        **extra,
    }


def _run(raw: dict[str, Any], generated: Any) -> tuple[Any, Any]:
    spec = parse_validation(raw)
    snapshot = snapshot_from_data(spec, spec.outputs or {}, generated.data)
    canonical = spec.model_dump(mode="json", by_alias=True, exclude_none=True)
    return spec, run_validation(canonical, snapshot, lambda f, m: None)


def test_the_true_parameters_validate_with_calibrated_coverage(generated: Any) -> None:
    twin_parameters = {
        twin: {k: truth[k] for k in TRUTH}
        for twin, truth in zip(generated.twins, generated.truth, strict=True)
    }
    flow_sd = float(np.mean([0.01 * t["ratedFlow"] * 0.8 for t in generated.truth]))
    raw = _spec(
        generated.twins,
        parameters=FIXED,
        twinParameters=twin_parameters,
        uncertainty={"noise": {"flowRate": flow_sd}, "level": 0.9},
        thresholds={"flowRate": {"r2": 0.95, "mape": 3.0}, "motorPower": {"bias": 1e-6}},
    )
    _, output = _run(raw, generated)
    summary = output.summary
    flow = summary["outputs"]["flowRate"]
    assert flow["r2"] > 0.95 and flow["mape"] < 3.0
    assert 0.75 < flow["coverage"] < 1.0  # ~90 %, the noise sd being roughly right
    assert summary["thresholds"]["flowRate"]["passed"] is True
    # A bias limit no noisy data can meet: that output fails, and so does the whole.
    assert summary["thresholds"]["motorPower"]["passed"] is False
    assert summary["passed"] is False
    assert set(summary["byTwin"]) == set(generated.twins)
    assert output.tables["series"].num_rows == 2 * 361 * 2


def test_wrong_parameters_fail_their_thresholds(generated: Any) -> None:
    raw = _spec(
        generated.twins,
        parameters={**FIXED, "staticHeadRatio": 0.6},
        thresholds={"flowRate": {"mape": 3.0}},
    )
    _, output = _run(raw, generated)
    verdict = output.summary["thresholds"]["flowRate"]
    assert verdict["passed"] is False and verdict["checks"]["mape"]["value"] > 3.0


def test_the_report_is_self_contained_and_byte_for_byte_reproducible(generated: Any) -> None:
    raw = _spec(generated.twins, parameters=FIXED)
    _, first = _run(raw, generated)
    _, second = _run(raw, generated)
    page = first.blobs["report.html"]
    assert page == second.blobs["report.html"]
    assert first.blobs["report.json"] == second.blobs["report.json"]
    text = page.decode()
    assert text.count("<svg") == 2 and "flowRate" in text
    # No external asset: nothing loaded from elsewhere (XML namespaces are names, not loads).
    assert "src=" not in text and 'href="http' not in text
    assert "<script" not in text and "<link" not in text


def test_thresholds_and_noise_must_name_compared_outputs() -> None:
    from twinops.errors import InvalidInput

    raw = _spec(["pump-01-01-01"], thresholds={"vibration": {"rmse": 1.0}})
    with pytest.raises(InvalidInput) as caught:
        parse_validation(raw)
    assert caught.value.violations[0].field == "thresholds.vibration"
