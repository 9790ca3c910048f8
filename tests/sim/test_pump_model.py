"""The pump-fleet behavior model: hydraulics, power, wear, failure, maintenance, RUL."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from simhelp import batch_of

from twinops.ingest.units import default_converter
from twinops.sim.engines import simulate
from twinops.sim.engines.base import Batch
from twinops.sim.inputs import InputPlan, InputSeries
from twinops.sim.library.pump import G, PumpModel
from twinops.sim.sinks import SeriesSink

MODELS = Path(__file__).resolve().parents[2] / "examples" / "pump_fleet" / "models"
QUIET = {"wearNoise": 0.0}


def simulate_pump(
    *, n: int = 1, steps: int = 10, step_s: float = 3600.0, **kw: Any
) -> dict[str, np.ndarray]:
    model = PumpModel()
    params = {**QUIET, **kw.pop("params", {})}
    batch = batch_of(model, n=n, steps=steps, step_s=step_s, params=params, **kw)
    sink = SeriesSink(batch.outputs, len(batch.record_steps), batch.n)
    simulate(model, batch, sink)
    return sink.values


def with_inputs(batch: Batch, **tables: np.ndarray) -> Batch:
    series = [s for s in batch.inputs.series if s.name not in tables]
    series += [InputSeries(name, table[:, None]) for name, table in tables.items()]
    return Batch(**{**batch.__dict__, "inputs": InputPlan(series, batch.n, batch.seed)})


def test_at_rated_speed_on_the_design_system_the_pump_runs_at_its_rated_point() -> None:
    out = simulate_pump(params={"ratedFlow": 180.0, "ratedHead": 45.0, "efficiencyBestPoint": 0.78})
    assert out["flowRate"][0, 0] == pytest.approx(180.0)
    assert out["head"][0, 0] == pytest.approx(45.0)
    assert out["efficiency"][0, 0] == pytest.approx(0.78)
    hydraulic_kw = 1000.0 * G * (180.0 / 3600.0) * 45.0 / 1000.0
    assert out["hydraulicPower"][0, 0] == pytest.approx(hydraulic_kw)
    assert out["dischargePressure"][0, 0] == pytest.approx(100.0 + G * 45.0)


@pytest.mark.parametrize("ratio", [0.7, 0.9, 1.1])
def test_affinity_laws_flow_head_power_scale_with_speed(ratio: float) -> None:
    # Without static head the system curve is a parabola through the origin, like the
    # affinity parabola, so the operating point moves along it: Q ~ n, H ~ n², P ~ n³.
    params = {"staticHeadRatio": 0.0, "ratedSpeed": 1450.0, "initialWear": 0.0}
    rated = simulate_pump(params=params)
    scaled = simulate_pump(params=params, inputs={"speed": 1450.0 * ratio})
    assert scaled["flowRate"][0, 0] == pytest.approx(rated["flowRate"][0, 0] * ratio)
    assert scaled["head"][0, 0] == pytest.approx(rated["head"][0, 0] * ratio**2)
    assert scaled["shaftPower"][0, 0] == pytest.approx(rated["shaftPower"][0, 0] * ratio**3)
    assert scaled["efficiency"][0, 0] == pytest.approx(rated["efficiency"][0, 0])


def test_efficiency_drops_away_from_the_best_efficiency_point() -> None:
    at_bep = simulate_pump(params={"bepFlowRatio": 1.0})["efficiency"][0, 0]
    left = simulate_pump(params={"bepFlowRatio": 1.25})["efficiency"][0, 0]
    right = simulate_pump(params={"bepFlowRatio": 0.8})["efficiency"][0, 0]
    assert at_bep == pytest.approx(0.75)
    assert left < at_bep and right < at_bep


def test_throttling_the_system_lowers_flow_and_raises_head() -> None:
    open_valve = simulate_pump()
    throttled = simulate_pump(inputs={"systemResistance": 2.0})
    assert throttled["flowRate"][0, 0] < open_valve["flowRate"][0, 0]
    assert throttled["head"][0, 0] > open_valve["head"][0, 0]


def test_noise_free_wear_follows_its_discrete_growth_law_exactly() -> None:
    # W' = a(1 + bW) stepped explicitly: 1 + bW_k = (1 + bW_0)(1 + ab·dt)^k.
    a, b, w0, steps = 2e-4, 1.0, 0.1, 50
    out = simulate_pump(params={"wearRate": a, "wearFeedback": b, "initialWear": w0}, steps=steps)
    k = np.arange(steps + 1)
    expected = ((1 + b * w0) * (1 + a * b * 1.0) ** k - 1) / b
    np.testing.assert_allclose(out["wear"][:, 0], expected, rtol=1e-12)


def test_bearings_wear_faster_at_higher_speed_and_off_the_best_point() -> None:
    def wear_after(**kw: Any) -> float:
        return float(simulate_pump(steps=500, **kw)["wear"][-1, 0])

    nominal = wear_after()
    assert wear_after(inputs={"speed": 1450.0 * 1.1}) > nominal
    assert wear_after(params={"bepFlowRatio": 1.3}) > nominal


def test_wear_raises_vibration_and_temperatures() -> None:
    new = simulate_pump(steps=48, params={"initialWear": 0.0, "wearRate": 0.0})
    worn = simulate_pump(steps=48, params={"initialWear": 0.8, "wearRate": 0.0})
    for output in ("vibration", "windingTemperature", "bearingTemperature", "fluidTemperature"):
        assert worn[output][-1, 0] > new[output][-1, 0], output
    assert worn["vibration"][-1, 0] / new["vibration"][-1, 0] == pytest.approx(1 + 4 * 0.64)


def test_a_pump_fails_at_the_wear_threshold_and_stops() -> None:
    out = simulate_pump(steps=200, params={"wearRate": 0.01, "initialWear": 0.5})
    failed = out["failed"][:, 0]
    first = int(np.argmax(failed > 0.5))
    assert failed[-1] == 1.0 and first > 0
    assert out["wear"][first, 0] >= 1.0 > out["wear"][first - 1, 0]
    assert out["flowRate"][first:, 0].max() == 0.0
    assert out["motorPower"][first:, 0].max() == 0.0
    assert out["remainingUsefulLife"][first:, 0].max() == 0.0


def test_remaining_useful_life_predicts_the_failure_time() -> None:
    # Small steps, no noise, constant conditions: the predicted life at the start is when
    # the simulated wear crosses the threshold (up to the Euler error of the stepping).
    out = simulate_pump(steps=4000, step_s=60.0, params={"wearRate": 0.02, "initialWear": 0.2})
    predicted_h = out["remainingUsefulLife"][0, 0]
    failed_at_h = int(np.argmax(out["failed"][:, 0] > 0.5)) / 60.0
    assert failed_at_h == pytest.approx(predicted_h, rel=0.01)
    assert np.all(np.diff(out["remainingUsefulLife"][: int(failed_at_h * 60) - 1, 0]) < 0)


def test_maintenance_resets_wear_and_restarts_a_failed_pump() -> None:
    model = PumpModel()
    steps = 100
    batch = batch_of(
        model,
        n=1,
        steps=steps,
        step_s=3600.0,
        params={**QUIET, "wearRate": 0.01, "initialWear": 0.7},
    )
    service = np.zeros(steps + 1)
    service[80] = 1.0
    batch = with_inputs(batch, maintenance=service)
    sink = SeriesSink(batch.outputs, len(batch.record_steps), 1)
    simulate(model, batch, sink)
    out = sink.values
    assert out["failed"][79, 0] == 1.0
    assert out["failed"][80, 0] == 0.0 and out["wear"][80, 0] == 0.0
    assert out["flowRate"][80, 0] > 0.0
    assert out["wear"][-1, 0] < 0.3


def test_a_stopped_pump_neither_wears_nor_draws_power() -> None:
    out = simulate_pump(steps=24, inputs={"running": 0.0}, params={"initialWear": 0.3})
    assert out["wear"][-1, 0] == 0.3
    assert out["motorPower"].max() == 0.0
    assert out["remainingUsefulLife"][-1, 0] == 1e6


def test_members_are_independent_of_how_many_step_together() -> None:
    # Noise on, per-member parameters: the first 1,500 of 3,000 members are bit-identical to
    # a batch of 1,500 (random blocks are per member, not per batch).
    rng = np.random.default_rng(3)
    rates = rng.uniform(1e-5, 1e-4, 3000)

    def run(n: int) -> np.ndarray:
        return simulate_pump(n=n, steps=30, params={"wearNoise": 1e-3, "wearRate": rates[:n]})[
            "wear"
        ]

    np.testing.assert_array_equal(run(3000)[:, :1500], run(1500))


def test_every_unit_is_known_to_the_unit_converter() -> None:
    converter = default_converter()
    signature = PumpModel.signature
    items = [*signature.parameters, *signature.states, *signature.inputs, *signature.outputs]
    for item in items:
        if item.unit is not None:
            converter.parse_source_unit(item.unit)


def _dtdl_fields() -> dict[str, str | None]:
    """Every field name of Pump;1 (with Asset;1) and its motor component, with its unit."""
    documents = {path.stem: json.loads(path.read_text()) for path in MODELS.glob("*.json")}

    def fields(name: str) -> dict[str, str | None]:
        found = {c["name"]: c.get("unit") for c in documents[name]["contents"]}
        return {**fields("Asset"), **found} if name != "Asset" else found

    motor = {f"motor.{k}": v for k, v in fields("Motor").items()}
    return {**fields("Pump"), **motor}


def test_bindings_name_fields_of_the_pump_dtdl_model_in_compatible_units() -> None:
    dtdl = _dtdl_fields()
    signature = PumpModel.signature
    converter = default_converter()
    items = [*signature.parameters, *signature.states, *signature.inputs, *signature.outputs]
    bound = [item for item in items if item.binding is not None]
    assert {"ratedFlow", "ratedHead", "ratedSpeed", "impellerDiameter"} <= {
        i.binding for i in bound
    }
    for item in bound:
        assert item.binding in dtdl, item.binding
        unit = dtdl[item.binding]
        if unit is not None and item.unit is not None:
            converter.affine(item.unit, unit)  # raises when incompatible


def test_the_whole_fleet_steps_as_one_batch() -> None:
    n = 10_000
    rng = np.random.default_rng(1)
    flows = rng.uniform(50, 500, n)
    out = simulate_pump(n=n, steps=5, params={"ratedFlow": flows}, record_every=5)
    np.testing.assert_allclose(out["flowRate"][0], flows)
    assert out["wear"].shape == (2, n)
    assert math.isfinite(float(out["remainingUsefulLife"].sum()))
