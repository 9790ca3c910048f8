"""Known-truth pump data for the fidelity tests: the pump model run with chosen parameters.

Pumps come from the example fleet generator (nameplates); a varying speed and suction pressure
drive :class:`PumpModel` with the "true" parameters; Gaussian noise is added to what the
sensors report. The data is given as ingest points (for a real platform) and as
:class:`TwinData` (for pure tests).
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from twinops.fidelity.arrays import TwinData
from twinops.sim.engines import simulate
from twinops.sim.engines.base import Batch
from twinops.sim.inputs import InputPlan, InputSeries
from twinops.sim.library.pump import PumpModel
from twinops.sim.model import SimClock
from twinops.sim.sinks import SeriesSink
from twinops.timeutil import format_rfc3339, parse_time

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "pump_fleet"
START = parse_time("2025-06-02T00:00:00Z")
MODEL = "twinops.sim.library.pump:PumpModel"
# Output -> telemetry field, and the sensor noise (relative sd, absolute sd).
SENSORS: dict[str, tuple[str, float, float]] = {
    "flowRate": ("flowRate", 0.01, 0.0),
    "dischargePressure": ("dischargePressure", 0.003, 0.2),
    "motorPower": ("motor.power", 0.01, 0.0),
    "motorCurrent": ("motor.current", 0.01, 0.0),
    "windingTemperature": ("motor.windingTemperature", 0.0, 0.1),
}
TRUTH = {
    "shutoffHeadRatio": 1.32,
    "staticHeadRatio": 0.3,
    "bepFlowRatio": 1.08,
    "efficiencyBestPoint": 0.74,
    "powerFactor": 0.83,
    "windingRise": 68.0,
}
FIXED = {"wearNoise": 0.0, "initialWear": 0.05}


def fleet_module() -> Any:
    """The example fleet generator."""
    if "twinops_pump_fleet" not in sys.modules:
        spec = importlib.util.spec_from_file_location("twinops_pump_fleet", EXAMPLES / "fleet.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["twinops_pump_fleet"] = module
        spec.loader.exec_module(module)
    return sys.modules["twinops_pump_fleet"]


def running_pumps(count: int, seed: int = 7) -> tuple[Any, list[dict[str, Any]]]:
    """A fleet and ``count`` of its running pumps."""
    module = fleet_module()
    fleet = module.generate_fleet(3, 4, seed=seed)
    pumps = [t for t in fleet.twins_of(module.PUMP_MODEL) if t["status"] == "running"]
    assert len(pumps) >= count
    return fleet, pumps[:count]


def nameplate(twin: dict[str, Any]) -> dict[str, float]:
    """The bound parameters of a pump twin (what the platform's snapshot reads)."""
    motor = twin["motor"]
    return {
        "ratedFlow": twin["ratedFlow"],
        "ratedHead": twin["ratedHead"],
        "ratedSpeed": twin["ratedSpeed"],
        "impellerDiameter": twin["impellerDiameter"],
        "efficiencyBestPoint": twin["efficiencyBestPoint"],
        "motorRatedPower": motor["ratedPower"],
        "motorRatedVoltage": motor["ratedVoltage"],
    }


@dataclass(frozen=True)
class Generated:
    """The true run: inputs and noisy observations per twin, as points and as TwinData."""

    twins: list[str]
    points: list[dict[str, Any]]
    data: dict[str, TwinData]
    truth: list[dict[str, float]]


def generate(
    pumps: list[dict[str, Any]],
    *,
    hours: float = 12.0,
    step_s: float = 120.0,
    seed: int = 1,
    truth: dict[str, float] | None = None,
) -> Generated:
    """Run the pump model with ``truth`` (per twin, scaled a little) and sample its sensors."""
    model = PumpModel()
    signature = model.signature
    rng = np.random.default_rng(seed)
    steps = int(hours * 3600 / step_s)
    n = len(pumps)
    values = []
    for j, twin in enumerate(pumps):
        own = {**(truth or TRUTH)}
        # Each twin differs a little, so per-twin fits have something to tell apart.
        own = {k: v * (1.0 + 0.02 * ((j % 3) - 1)) for k, v in own.items()}
        values.append({**nameplate(twin), **FIXED, **own})
    params = {
        p.name: np.array([float(v.get(p.name, p.default)) for v in values])
        for p in signature.parameters
    }
    hours_axis = np.arange(steps + 1) * step_s / 3600.0
    speed = np.empty((steps + 1, n))
    suction = np.empty((steps + 1, n))
    for j in range(n):
        wander = np.cumsum(rng.normal(0.0, 0.02, steps + 1))
        wander -= np.linspace(0, wander[-1], steps + 1)
        ratio = 0.78 + 0.16 * np.sin(2 * np.pi * hours_axis / 6.0 + j) + 0.3 * wander
        speed[:, j] = params["ratedSpeed"][j] * np.clip(ratio, 0.6, 1.0)
        suction[:, j] = 120.0 + 15.0 * np.sin(2 * np.pi * hours_axis / 9.0)
    inputs = [
        InputSeries("speed", speed),
        InputSeries("suctionPressure", suction),
        InputSeries("running", np.ones((1, 1))),
        InputSeries("systemResistance", np.ones((1, 1))),
        InputSeries("inletTemperature", np.full((1, 1), 15.0)),
        InputSeries("ambientTemperature", np.full((1, 1), 20.0)),
        InputSeries("maintenance", np.zeros((1, 1))),
    ]
    states = {
        s.name: np.full(n, 40.0 if "Temperature" in s.name else 0.0) for s in signature.states
    }
    states["wear"] = params["initialWear"].copy()
    states["fluidTemperature"] = np.full(n, 15.0)
    step_us = int(step_s * 1_000_000)
    clock = SimClock(START, step_us, steps)
    outputs = tuple(SENSORS)
    sink = SeriesSink(outputs, steps + 1, n)
    batch = Batch(
        n, params, states, InputPlan(inputs, n, 0), clock, np.arange(steps + 1), outputs, 0
    )
    simulate(model, batch, sink)
    times = START + np.arange(steps + 1, dtype=np.int64) * step_us
    points: list[dict[str, Any]] = []
    data: dict[str, TwinData] = {}
    ids = [t["$dtId"] for t in pumps]
    for j, twin in enumerate(ids):
        series: dict[str, tuple[Any, Any]] = {
            "speed": (times, speed[:, j]),
            "suctionPressure": (times, suction[:, j]),
        }
        for output, (field, relative, absolute) in SENSORS.items():
            clean = sink.values[output][:, j]
            noisy = clean + rng.normal(0.0, 1.0, clean.shape) * (
                relative * np.abs(clean) + absolute
            )
            series[field] = (times, noisy)
        for field, (stamps, vals) in series.items():
            points += [
                {"twin": twin, "name": field, "value": float(v), "time": format_rfc3339(int(t))}
                for t, v in zip(stamps, vals, strict=True)
            ]
        data[twin] = TwinData(
            parameters=nameplate(pumps[j]),
            states={"windingTemperature": 40.0, "fluidTemperature": 15.0},
            series=series,
            model="dtmi:twinops:example:Pump;1",
        )
    return Generated(ids, points, data, values)


def calibration_spec(
    twins: list[str], hours: float = 12.0, step: str = "2min", **extra: Any
) -> dict[str, Any]:
    """A calibration spec over the generated window for the identifiable parameters."""
    end = START + int(hours * 3600 * 1_000_000)
    return {
        "kind": "calibrate",
        "model": MODEL,
        "twins": twins,
        "window": {"start": format_rfc3339(START), "end": format_rfc3339(end)},
        "step": step,
        "parameters": sorted(TRUTH),
        "fixed": FIXED,
        "fit": list(SENSORS),
        "inputs": {"speed": {"profile": "replay"}, "suctionPressure": {"profile": "replay"}},
        **extra,
    }


def pure_problem(raw: dict[str, Any], generated: Generated) -> tuple[Any, Any, Any]:
    """Spec, replay problem and fit parameters of ``raw`` on generated data (no database)."""
    from twinops.fidelity.arrays import snapshot_from_data
    from twinops.fidelity.jobs import fit_parameters
    from twinops.fidelity.problem import build_problem
    from twinops.fidelity.spec import parse_calibration

    spec = parse_calibration(raw)
    snapshot = snapshot_from_data(spec, spec.fit, generated.data)
    problem = build_problem(spec, snapshot, spec.fit, spec.fixed)
    return spec, problem, fit_parameters(spec, problem)
