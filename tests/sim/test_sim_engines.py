"""Each engine against an answer known in closed form, and the FMU against NumPy."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest
from simhelp import batch_of

from twinops.sim.engines import SimulationError, simulate
from twinops.sim.engines.base import Batch
from twinops.sim.engines.fmu import FmuModel
from twinops.sim.inputs import InputPlan, InputSeries
from twinops.sim.library.bearing import BearingTemperature
from twinops.sim.library.crew import MaintenanceCrew
from twinops.sim.library.thermal import CasingTemperature
from twinops.sim.model import (
    Arrays,
    FloatArray,
    ModelSignature,
    Output,
    StateVar,
    StepContext,
    VectorModel,
)
from twinops.sim.sinks import SeriesSink


def run(model: object, batch: Batch) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    sink = SeriesSink(batch.outputs, len(batch.record_steps), batch.n)
    final = simulate(model, batch, sink)  # type: ignore[arg-type]
    return sink.values, final


def test_vectorized_bearing_heats_towards_its_steady_state_exponentially() -> None:
    resistance = np.array([0.1, 0.2, 0.3])
    batch = batch_of(
        BearingTemperature(),
        n=3,
        steps=240,
        step_s=30.0,
        params={"thermalResistance": resistance, "timeConstant": 900.0},
        inputs={"heat": 200.0, "ambientTemperature": 20.0},
    )
    values, final = run(BearingTemperature(), batch)
    t = batch.record_steps * 30.0
    target = 20.0 + resistance * 200.0
    expected = target + (40.0 - target) * np.exp(-t[:, None] / 900.0)
    np.testing.assert_allclose(values["temperature"], expected, rtol=1e-12)
    np.testing.assert_allclose(final["temperature"], expected[-1], rtol=1e-12)


class Decay(VectorModel):
    """x' = -k x with explicit Euler: x_k = x0 (1 - k dt)^k; noise-free."""

    signature = ModelSignature(
        name="decay", version="1", states=(StateVar("x", None, 1.0),), outputs=(Output("x", None),)
    )

    def step(
        self, ctx: StepContext, state: Arrays, inputs: Arrays, params: Arrays
    ) -> tuple[dict[str, FloatArray], dict[str, FloatArray]]:
        x = state["x"]
        return {"x": x * (1.0 - 0.01 * ctx.dt)}, {"x": x}


def test_vectorized_engine_records_the_chosen_steps_and_the_last_one() -> None:
    batch = batch_of(Decay(), n=2, steps=10, step_s=1.0, record_every=4)
    assert batch.record_steps.tolist() == [0, 4, 8, 10]
    values, final = run(Decay(), batch)
    np.testing.assert_allclose(values["x"][:, 0], 0.99 ** np.array([0, 4, 8, 10]), rtol=1e-14)
    np.testing.assert_allclose(final["x"], 0.99**10, rtol=1e-14)


class Broken(Decay):
    def step(
        self, ctx: StepContext, state: Arrays, inputs: Arrays, params: Arrays
    ) -> tuple[dict[str, FloatArray], dict[str, FloatArray]]:
        return dict(state), {}


def test_a_model_that_forgets_an_output_fails_with_a_clear_error() -> None:
    with pytest.raises(SimulationError, match="no output 'x'"):
        run(Broken(), batch_of(Broken(), n=1, steps=3, step_s=1.0))


def test_ode_casing_cools_like_exp_minus_t_over_rc() -> None:
    model = CasingTemperature()
    capacity = np.array([20_000.0, 50_000.0])
    batch = batch_of(
        model,
        n=2,
        steps=60,
        step_s=60.0,
        params={"heatCapacity": capacity, "thermalResistance": 0.05, "initialTemperature": 80.0},
        inputs={"ambientTemperature": 15.0, "heat": 0.0},
    )
    values, final = run(model, batch)
    t = batch.record_steps * 60.0
    expected = 15.0 + 65.0 * np.exp(-t[:, None] / (0.05 * capacity))
    np.testing.assert_allclose(values["temperature"], expected, rtol=1e-6)
    np.testing.assert_allclose(values["heatLoss"], (expected - 15.0) / 0.05, rtol=1e-6)
    np.testing.assert_allclose(final["temperature"], expected[-1], rtol=1e-6)


def test_ode_holds_inputs_over_each_step_and_restarts_where_they_change() -> None:
    model = CasingTemperature()
    steps, dt = 20, 100.0
    heat = np.where(np.arange(steps + 1) < 10, 0.0, 1000.0)  # heating starts at step 10
    batch = batch_of(
        model,
        n=1,
        steps=steps,
        step_s=dt,
        params={"heatCapacity": 10_000.0, "thermalResistance": 0.1, "initialTemperature": 20.0},
        inputs={"ambientTemperature": 20.0},
    )
    plan = InputPlan(
        [
            InputSeries("ambientTemperature", np.full((1, 1), 20.0)),
            InputSeries("heat", heat[:, None]),
        ],
        1,
        0,
    )
    batch = Batch(**{**batch.__dict__, "inputs": plan})
    values, _ = run(model, batch)
    t = np.arange(steps + 1) * dt
    heated = np.clip(t - 1000.0, 0.0, None)
    expected = 20.0 + 1000.0 * 0.1 * (1.0 - np.exp(-heated / 1000.0))
    np.testing.assert_allclose(values["temperature"][:, 0], expected, rtol=1e-7, atol=1e-7)


def test_discrete_event_single_crew_matches_the_mm1_queue() -> None:
    # lambda = 0.5 failures/h, mu = 1 repair/h: mean turnaround 1/(mu - lambda) = 2 h and
    # mean backlog rho/(1 - rho) = 1.
    model = MaintenanceCrew()
    runs, hours = 4, 20_000
    batch = batch_of(
        model,
        n=runs,
        steps=hours,
        step_s=3600.0,
        record_every=100,
        params={"failureRate": 0.5, "repairTime": 1.0, "crews": 1.0},
        seed=11,
    )
    values, _ = run(model, batch)
    turnaround = values["meanTurnaround"][-1]
    assert np.mean(turnaround) == pytest.approx(2.0, rel=0.08)
    time_average_backlog = values["downtime"][-1] / hours
    assert np.mean(time_average_backlog) == pytest.approx(1.0, rel=0.1)
    completed = values["completed"][-1]
    assert np.all(np.abs(completed - 0.5 * hours) < 5 * math.sqrt(0.5 * hours))


def test_discrete_event_runs_are_reproducible_per_member_whatever_the_batch() -> None:
    model = MaintenanceCrew()
    params = {"failureRate": 2.0, "repairTime": 0.3}
    small, _ = run(model, batch_of(model, n=2, steps=200, step_s=3600.0, params=params, seed=5))
    large, _ = run(model, batch_of(model, n=5, steps=200, step_s=3600.0, params=params, seed=5))
    np.testing.assert_array_equal(small["completed"], large["completed"][:, :2])


def _compare(fmu: FmuModel, numpy_model: BearingTemperature, **kw: object) -> None:
    fmu_values, _ = run(fmu, batch_of(fmu, **kw))  # type: ignore[arg-type]
    np_values, _ = run(numpy_model, batch_of(numpy_model, **kw))  # type: ignore[arg-type]
    np.testing.assert_allclose(fmu_values["temperature"], np_values["temperature"], rtol=1e-13)


def test_fmu_signature_comes_from_its_model_description(bearing_fmu: Path) -> None:
    model = FmuModel(bearing_fmu)
    assert model.engine == "fmu"
    assert model.signature.parameter_names == (
        "thermalResistance",
        "timeConstant",
        "initialTemperature",
    )
    assert model.signature.input_names == ("ambientTemperature", "heat")
    assert model.signature.output_names == ("temperature",)
    assert model.signature.parameter("timeConstant") is not None
    assert len(model.code_sha256()) == 64


def test_fmu_co_simulation_matches_the_same_model_in_numpy(bearing_fmu: Path) -> None:
    _compare(
        FmuModel(bearing_fmu),
        BearingTemperature(),
        n=4,
        steps=300,
        step_s=20.0,
        params={
            "thermalResistance": np.array([0.05, 0.1, 0.2, 0.4]),
            "initialTemperature": np.array([10.0, 40.0, 60.0, 90.0]),
        },
        inputs={"heat": 250.0, "ambientTemperature": 25.0},
        record_every=7,
    )


def test_fmu_follows_inputs_that_change_every_step(bearing_fmu: Path) -> None:
    steps = 50
    heat = 100.0 + 50.0 * np.sin(np.arange(steps + 1) / 5.0)
    results: list[Mapping[str, np.ndarray]] = []
    for model in (FmuModel(bearing_fmu), BearingTemperature()):
        batch = batch_of(model, n=2, steps=steps, step_s=60.0)
        plan = InputPlan(
            [
                InputSeries("ambientTemperature", np.full((1, 1), 18.0)),
                InputSeries("heat", heat[:, None]),
            ],
            2,
            0,
        )
        values, _ = run(model, Batch(**{**batch.__dict__, "inputs": plan}))
        results.append(values)
    np.testing.assert_allclose(results[0]["temperature"], results[1]["temperature"], rtol=1e-13)


def test_an_fmu_refusing_a_parameter_fails_the_run_with_the_reason(bearing_fmu: Path) -> None:
    model = FmuModel(bearing_fmu)
    with pytest.raises(SimulationError, match="BearingTemperature"):
        run(model, batch_of(model, n=1, steps=3, step_s=1.0, params={"timeConstant": 0.0}))
