"""Monte Carlo of the pump behavior model: ours (``run_scenario``) beside a bare NumPy loop.

The run: one pump of the example fleet (nameplate 250 m³/h, 60 m, 1450 rpm, 420 mm impeller,
75 kW motor), its eight uncertain parameters drawn from the model's priors, ``--runs`` runs
(default 100,000) x ``--steps`` steps of one hour (default 1,000), speed following a daily sine
(0.9 ± 0.1 x rated), wear noise on. Every ``--record-every`` steps (default 10) the five
``--outputs`` are reduced over the runs to p5/p25/p50/p75/p95, mean and sd.

Ours: ``twinops.sim.runner.run_scenario`` of a ``monte-carlo`` spec (``parse_spec``) with a
hand-made snapshot (no database: the snapshot is what a worker receives), including building
the result tables.

Raw engine, same run: the same equations written out by hand in one NumPy loop over arrays
of shape ``(runs,)`` — parameters drawn with one ``numpy.random.Generator``, constants as
Python floats, outputs computed only at recorded steps, the same percentile reductions.

The JSON reports both times, member-steps per second and ``ratio`` = bare time / our time
(goal, issue #5: >= 0.5), plus the final mean wear of both as a sanity check (they differ only
by sampling noise: the random streams differ).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as b

GOAL_RATIO = 0.5
G = 9.80665
PUMP = {
    "ratedFlow": 250.0,
    "ratedHead": 60.0,
    "ratedSpeed": 1450.0,
    "impellerDiameter": 420.0,
    "efficiencyBestPoint": 0.8,
    "motorRatedPower": 75.0,
    "motorRatedVoltage": 400.0,
}
PERCENTILES = (5.0, 25.0, 50.0, 75.0, 95.0)
DEFAULT_OUTPUTS = "wear,remainingUsefulLife,vibration,motorPower,windingTemperature"
START = 1_751_270_400_000_000  # 2025-06-30T08:00:00Z


def spec_for(args: argparse.Namespace) -> dict[str, Any]:
    """The Monte Carlo spec both sides run."""
    return {
        "kind": "monte-carlo",
        "model": "twinops.sim.library.pump:PumpModel",
        "twins": ["pump-01-01-01"],
        "horizon": f"{args.steps}h",
        "step": "1h",
        "record": f"{args.record_every}h",
        "runs": args.runs,
        "seed": args.seed,
        "outputs": args.outputs.split(","),
        "percentiles": list(PERCENTILES),
        "inputs": {
            "speed": {
                "profile": "sine",
                "mean": 0.9,
                "amplitude": 0.1,
                "period": "24h",
                "relativeTo": "ratedSpeed",
            },
        },
    }


def run_ours(args: argparse.Namespace) -> tuple[float, float]:
    """Seconds of ``run_scenario`` and the final mean wear."""
    from twinops.sim.runner import run_scenario
    from twinops.sim.scenario import parse_spec

    spec = parse_spec(spec_for(args))
    snapshot = {
        "format": 1,
        "start": START,
        "twins": [{"id": "pump-01-01-01", "parameters": dict(PUMP), "states": {}, "sources": {}}],
        "replay": {},
    }
    begin = time.perf_counter()
    output = run_scenario(spec, snapshot, lambda fraction, message: None)
    seconds = time.perf_counter() - begin
    final = output.summary["final"]["pump-01-01-01"]
    return seconds, final["wear"]["mean"] if "wear" in final else math.nan


def run_bare(args: argparse.Namespace) -> tuple[float, float]:
    """Seconds of the hand-written loop and the final mean wear."""
    begin = time.perf_counter()
    n, steps, every = args.runs, args.steps, args.record_every
    rng = np.random.default_rng(args.seed)
    # Priors of the uncertain parameters (as in twinops.sim.library.pump), clipped to bounds.
    wear_rate = np.clip(rng.lognormal(math.log(3.8e-5), 0.35, n), 0.0, 1.0)
    feedback = rng.uniform(0.5, 1.5, n)
    wear = rng.uniform(0.0, 0.3, n)
    vib_base = rng.uniform(0.05, 0.2, n)
    shutoff_ratio = np.clip(rng.triangular(1.15, 1.25, 1.4, n), 1.02, 2.0)
    bep_ratio = stats.truncnorm.rvs(-2.5, 2.5, loc=1.0, scale=0.08, size=n, random_state=rng)
    tau_w = np.clip(rng.normal(900.0, 90.0, n), 1.0, 86400.0)
    r_bearing = np.clip(rng.normal(0.2, 0.02, n), 0.0, 10.0)
    qr, hr, d = PUMP["ratedFlow"], PUMP["ratedHead"], PUMP["impellerDiameter"]
    eta_bep, motor_kw = PUMP["efficiencyBestPoint"], PUMP["motorRatedPower"]
    rho_g = 1000.0 * G
    dt, dt_h = 3600.0, 1.0
    shutoff = shutoff_ratio * hr
    static = 0.4 * hr
    kp = (shutoff - hr) / (qr * qr)
    ks = (hr - static) / (qr * qr)
    bep_flow = bep_ratio * qr
    area = 0.05 * (d / 1000.0) ** 2
    rated_load = 2000.0 + 0.02 * rho_g * hr * area
    decay_w = np.exp(-dt / tau_w)
    decay_f = math.exp(-dt / 600.0)
    decay_b = math.exp(-dt / 1200.0)
    noise = 2e-4 * math.sqrt(dt_h)
    failed = np.zeros(n)
    winding = np.full(n, 40.0)
    fluid = np.full(n, 15.0)
    bearing = np.full(n, 40.0)
    energy = np.zeros(n)
    hours = np.zeros(n)
    outputs = args.outputs.split(",")
    kept: dict[str, list[np.ndarray]] = {name: [] for name in outputs}
    for k in range(steps + 1):
        s = 0.9 + 0.1 * math.sin(2.0 * math.pi * (k * dt) / 86400.0)
        run = (failed < 0.5).astype(np.float64)
        s2 = s * s
        lift = s2 * shutoff - static
        flow = np.sqrt(np.maximum(lift, 0.0) / (kp + ks)) * run
        head = (s2 * shutoff - kp * flow * flow) * run
        q = flow / (s * bep_flow)
        off = q - 1.0
        eta = np.maximum(eta_bep * (1.0 - off * off), 0.05)
        hydraulic = rho_g * (flow / 3600.0) * head / 1000.0
        shaft = hydraulic / eta * (1.0 + 0.04 * wear)
        electrical = shaft / 0.94
        thrust = 0.36 * np.abs(1.0 - q * q) + 0.02
        load = (2000.0 + thrust * rho_g * head * area) / rated_load
        base_rate = wear_rate * s * load * load * load * run
        increment = base_rate * (1.0 + feedback * wear) * dt_h + noise * run * rng.standard_normal(
            n
        )
        next_wear = np.maximum(wear + increment, 0.0)
        next_failed = np.maximum(failed, (next_wear >= 1.0).astype(np.float64))
        motor_load = shaft / motor_kw
        w_target = 20.0 + 75.0 * motor_load * motor_load + 12.0 * wear * run
        volume_flow = np.maximum(flow / 3600.0, 1e-4)
        rise = (shaft - hydraulic) * 1000.0 / (1000.0 * 4186.0 * volume_flow)
        f_target = 15.0 + (np.minimum(rise, 50.0) + 0.4 * wear) * run
        b_target = 20.0 + r_bearing * (150.0 * s * (1.0 + 2.0 * wear) * run)
        if k % every == 0 or k == steps:
            values = {
                "wear": wear,
                "vibration": vib_base
                * (0.3 + 0.7 * s2)
                * (1.0 + 4.0 * wear * wear)
                * (1.0 + 0.5 * np.abs(off))
                * run
                + 0.004 * (1.0 - run),
                "motorPower": electrical,
                "windingTemperature": winding,
                "remainingUsefulLife": _rul(base_rate, feedback, wear, failed),
                "flowRate": flow,
                "fluidTemperature": fluid,
                "bearingTemperature": bearing,
                "energy": energy,
            }
            for name in outputs:
                v = values[name]
                kept[name].append(
                    np.concatenate([np.percentile(v, PERCENTILES), [v.mean(), v.std(ddof=1)]])
                )
        if k == steps:
            break
        winding = w_target + (winding - w_target) * decay_w
        fluid = f_target + (fluid - f_target) * decay_f
        bearing = b_target + (bearing - b_target) * decay_b
        energy = energy + electrical * dt_h
        hours = hours + run * dt_h
        wear, failed = next_wear, next_failed
    seconds = time.perf_counter() - begin
    return seconds, float(kept["wear"][-1][5]) if "wear" in kept else math.nan


def _rul(rate: np.ndarray, b: np.ndarray, wear: np.ndarray, failed: np.ndarray) -> np.ndarray:
    left = np.maximum(1.0 - wear, 0.0)
    wearing = rate > 0.0
    hours = np.log1p(b * left / (1.0 + b * wear)) / (np.where(wearing, rate, 1.0) * b)
    hours = np.where(wearing, np.minimum(hours, 1e6), 1e6)
    return np.where((failed > 0.5) | (left <= 0.0), 0.0, hours)


def main() -> None:
    """Run both, print one JSON object."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=100_000, help="Monte Carlo runs (100000)")
    parser.add_argument("--steps", type=int, default=1000, help="steps of 1 h (1000)")
    parser.add_argument("--record-every", type=int, default=10, help="steps between records (10)")
    parser.add_argument("--outputs", default=DEFAULT_OUTPUTS, help="recorded outputs")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1, help="alternate ours/bare N times; best")
    parser.add_argument("--quick", action="store_true", help="2,000 runs x 200 steps (smoke)")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.steps = 2000, 200
    b.log(f"pump Monte Carlo: {args.runs} runs x {args.steps} steps, {args.repeat} round(s)")
    ours: list[float] = []
    bare: list[float] = []
    wear = {"ours": math.nan, "bare": math.nan}
    for round_ in range(args.repeat):
        seconds, wear["ours"] = run_ours(args)
        ours.append(seconds)
        b.log(f"  round {round_ + 1}: ours {seconds:.2f} s")
        seconds, wear["bare"] = run_bare(args)
        bare.append(seconds)
        b.log(f"  round {round_ + 1}: bare {seconds:.2f} s")
    member_steps = args.runs * (args.steps + 1)
    best_ours, best_bare = min(ours), min(bare)
    b.emit(
        {
            "benchmark": "sim_monte_carlo_pump",
            "machine": b.machine(),
            "runs": args.runs,
            "steps": args.steps,
            "record_every": args.record_every,
            "outputs": args.outputs.split(","),
            "ours": {
                "seconds": round(best_ours, 3),
                "member_steps_per_s": round(member_steps / best_ours),
                "all_seconds": [round(s, 3) for s in ours],
            },
            "bare_numpy": {
                "seconds": round(best_bare, 3),
                "member_steps_per_s": round(member_steps / best_bare),
                "all_seconds": [round(s, 3) for s in bare],
            },
            "ratio": b.ratio(best_bare, best_ours),
            "goal_ratio": GOAL_RATIO,
            "final_mean_wear": {k: round(v, 6) for k, v in wear.items()},
        }
    )


if __name__ == "__main__":
    main()
