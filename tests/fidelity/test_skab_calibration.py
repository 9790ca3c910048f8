"""The pump model calibrated against real pump data (SKAB anomaly-free): a sensible fit."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "pump_fleet" / "skab_calibrate.py"


def _script() -> Any:
    spec = importlib.util.spec_from_file_location("twinops_skab_calibrate", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["twinops_skab_calibrate"] = module
    spec.loader.exec_module(module)
    return module


def test_the_pump_model_fits_the_skab_anomaly_free_run_sensibly() -> None:
    summary = _script().calibrate_skab(step_s=20)
    assert summary["rows"] > 9000 and summary["converged"] is True
    fit = summary["fit"]
    # Levels right: small relative errors, no bias, residuals no wider than the data's spread.
    limits = {"flowRate": 3.0, "motorCurrent": 10.0, "windingTemperature": 1.0, "vibration": 3.0}
    for output, mape in limits.items():
        assert fit[output]["mape"] < mape, (output, fit[output])
        assert abs(fit[output]["bias"]) < 0.1 * summary["observedSd"][output]
        assert fit[output]["rmse"] <= 1.05 * summary["observedSd"][output]
    # The warm motor's temperature trend is partly explained, not just its level.
    assert fit["windingTemperature"]["r2"] > 0.2
    # About 125 l/min of flow is 7.5 m³/h.
    assert summary["estimates"]["ratedFlow"] == pytest.approx(125.2 * 0.06, rel=0.02)
    for name, estimate in summary["estimates"].items():
        interval = summary["intervals"][name]
        assert interval["low"] < estimate < interval["high"], name
