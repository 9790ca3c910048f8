"""run_scenario: every kind from a spec and a snapshot, deterministic to the byte."""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from simhelp import START, snapshot_of

from twinops.errors import InvalidInput
from twinops.sim.runner import ScenarioOutput, run_scenario
from twinops.sim.scenario import parse_spec
from twinops.sim.snapshot import replay_key

PUMP = "twinops.sim.library.pump:PumpModel"
TWINS = {
    "pump-a": {
        "ratedFlow": 250.0,
        "ratedHead": 60.0,
        "impellerDiameter": 420.0,
        "motorRatedPower": 75.0,
    },
    "pump-b": {"ratedFlow": 90.0, "ratedHead": 35.0, "ratedSpeed": 2950.0, "motorRatedPower": 15.0},
}


def spec(kind: str, **fields: Any) -> Any:
    raw: dict[str, Any] = {
        "kind": kind,
        "model": PUMP,
        "twins": ["pump-a", "pump-b"],
        "horizon": "10d",
        "step": "1h",
        "record": "1d",
        "outputs": ["flowRate", "motorPower", "energy", "wear", "remainingUsefulLife"],
    }
    raw.update(fields)
    return parse_spec(raw)


def run(scenario: Any, snapshot: dict[str, Any] | None = None) -> ScenarioOutput:
    return run_scenario(scenario, snapshot or snapshot_of(TWINS), lambda f, m: None)


def fingerprint(output: ScenarioOutput) -> str:
    """sha256 of every table as Parquet and of the summary and model as canonical JSON."""
    digest = hashlib.sha256()
    for name, table in output.tables.items():
        buffer = io.BytesIO()
        pq.write_table(table, buffer, compression="zstd")
        digest.update(name.encode() + buffer.getvalue())
    for part in (output.summary, output.model):
        digest.update(json.dumps(part, sort_keys=True, allow_nan=False).encode())
    return digest.hexdigest()


WHAT_IF = {
    "changes": {
        "inputs": {"speed": {"profile": "constant", "value": 1.1, "relativeTo": "ratedSpeed"}}
    }
}
SWEEP = {"grid": {"bepFlowRatio": [0.8, 1.0, 1.2], "staticHeadRatio": [0.2, 0.5]}}
MONTE_CARLO = {"runs": 200, "seed": 9}
SENSITIVITY = {"samples": 16, "seed": 3, "vary": ["wearRate", "initialWear", "wearFeedback"]}


@pytest.mark.parametrize(
    ("kind", "fields"),
    [
        ("what-if", WHAT_IF),
        ("sweep", SWEEP),
        ("monte-carlo", MONTE_CARLO),
        ("sensitivity", SENSITIVITY),
        ("sensitivity", {**SENSITIVITY, "method": "oat", "samples": None}),
    ],
)
def test_every_kind_gives_the_same_bytes_twice(kind: str, fields: dict[str, Any]) -> None:
    scenario = spec(kind, **{k: v for k, v in fields.items() if v is not None})
    first, second = run(scenario), run(parse_spec(json.loads(scenario.canonical_json())))
    assert fingerprint(first) == fingerprint(second)
    json.dumps(first.summary, allow_nan=False)  # JSON-serializable, no NaN
    assert first.summary["kind"] == kind and first.summary["spec"] == scenario.sha256
    assert first.model["reference"] == PUMP and len(first.model["codeSha256"]) == 64


def test_what_if_answers_per_output_deltas_against_the_baseline() -> None:
    output = run(spec("what-if", **WHAT_IF))
    deltas = output.summary["deltas"]["pump-a"]
    # With static head in the system, flow grows faster than speed (10 %): here by ~14 %.
    assert 250.0 * 0.1 < deltas["flowRate"]["final"]["delta"] < 250.0 * 0.2
    assert deltas["energy"]["final"]["delta"] > 0
    assert deltas["wear"]["final"]["delta"] > 0
    assert deltas["remainingUsefulLife"]["mean"]["delta"] < 0
    series = output.tables["series"]
    assert series.column_names == ["variant", "twin", "time", "output", "value"]
    assert series.num_rows == 2 * 2 * 11 * 5
    assert series.schema.field("time").type == pa.timestamp("us", tz="UTC")
    assert series.column("time")[0].value == START
    table = output.tables["deltas"].to_pylist()
    row = next(r for r in table if r["twin"] == "pump-a" and r["output"] == "energy")
    assert row["delta_final"] == pytest.approx(row["scenario_final"] - row["baseline_final"])


def test_a_change_to_the_same_value_gives_zero_deltas() -> None:
    output = run(spec("what-if", changes={"parameters": {"fluidDensity": 1000.0}}))
    for per_output in output.summary["deltas"].values():
        for statistics in per_output.values():
            assert all(s["delta"] == 0.0 for s in statistics.values())


def test_monte_carlo_answers_ordered_percentiles_and_a_confidence_interval() -> None:
    output = run(spec("monte-carlo", **MONTE_CARLO))
    wear = output.summary["final"]["pump-a"]["wear"]
    assert wear["p5"] <= wear["p25"] <= wear["p50"] <= wear["p75"] <= wear["p95"]
    assert wear["ciLow"] < wear["mean"] < wear["ciHigh"]
    assert wear["p95"] > wear["p5"]  # the priors make runs differ
    percentiles = output.tables["percentiles"]
    assert {"p5", "p50", "p95", "mean", "sd", "ci_low", "ci_high"} <= set(percentiles.column_names)
    assert percentiles.num_rows == 2 * 11 * 5
    assert output.tables["finals"].num_rows == 200 * 2 * 5
    assert set(output.tables["samples"].column("parameter").to_pylist()) == set(
        output.summary["sampled"]
    )
    assert "wearRate" in output.summary["sampled"]


def test_monte_carlo_runs_do_not_depend_on_how_many_there_are() -> None:
    few = run(spec("monte-carlo", runs=50, seed=4)).tables["finals"].to_pandas()
    many = run(spec("monte-carlo", runs=120, seed=4)).tables["finals"].to_pandas()
    shared = many[many["run"] < 50].reset_index(drop=True)
    mine = few.reset_index(drop=True)
    key = ["output", "run", "twin"]
    left = mine.sort_values(key).reset_index(drop=True)
    right = shared.sort_values(key).reset_index(drop=True)
    assert left["value"].tolist() == right["value"].tolist()


def test_a_different_seed_gives_different_runs() -> None:
    a = run(spec("monte-carlo", runs=20, seed=1)).summary["final"]["pump-a"]["wear"]["mean"]
    b = run(spec("monte-carlo", runs=20, seed=2)).summary["final"]["pump-a"]["wear"]["mean"]
    assert a != b


def test_fixed_parameters_are_not_sampled_and_distributions_override_priors() -> None:
    output = run(
        spec(
            "monte-carlo",
            runs=30,
            parameters={"initialWear": 0.2},
            distributions={"wearRate": {"distribution": "uniform", "low": 1e-5, "high": 2e-5}},
            usePriors=False,
        )
    )
    assert output.summary["sampled"] == ["wearRate"]
    samples = output.tables["samples"].column("value").to_numpy()
    assert samples.min() >= 1e-5 and samples.max() <= 2e-5
    wear0 = output.tables["percentiles"].to_pandas()
    first = wear0[(wear0["output"] == "wear")].sort_values("time").iloc[0]
    assert first["p5"] == first["p95"] == pytest.approx(0.2)


def test_grid_sweep_runs_every_point_for_every_twin() -> None:
    output = run(spec("sweep", **SWEEP))
    assert output.summary["points"] == 6
    points = output.tables["points"].to_pandas()
    assert sorted(points["parameter"].unique()) == ["bepFlowRatio", "staticHeadRatio"]
    metrics = output.tables["metrics"]
    assert metrics.num_rows == 6 * 2 * 5
    assert {"point", "twin", "output", "final", "mean", "max"} == set(metrics.column_names)
    worst = output.summary["extremes"]["wear"]["max"]
    assert worst["parameters"]["bepFlowRatio"] in (0.8, 1.2)  # off the BEP wears most
    assert "series" in output.tables


def test_random_sweep_draws_its_points_from_the_seed() -> None:
    fields = {"random": {"wearRate": {"low": 1e-5, "high": 1e-4}}, "samples": 7, "seed": 5}
    a = run(spec("sweep", **fields)).tables["points"].column("value").to_pylist()
    b = run(spec("sweep", **fields)).tables["points"].column("value").to_pylist()
    assert a == b and len(a) == 7 and all(1e-5 <= v <= 1e-4 for v in a)


def test_sobol_indices_rank_the_wear_rate_first_for_wear() -> None:
    output = run(spec("sensitivity", **SENSITIVITY))
    indices = output.summary["indices"]["pump-a"]["wear"]
    total = {name: figures["ST"] for name, figures in indices.items()}
    assert max(total, key=lambda n: total[n]) in ("wearRate", "initialWear")
    table = output.tables["indices"]
    assert {"S1", "S1_conf", "ST", "ST_conf"} <= set(table.column_names)
    assert table.num_rows == 2 * 5 * 3
    assert output.tables["points"].num_rows == 16 * (3 + 2) * 3


def test_one_at_a_time_effects_have_the_expected_signs() -> None:
    output = run(spec("sensitivity", method="oat", vary=["wearRate"]))
    figures = output.summary["indices"]["pump-a"]
    assert figures["wear"]["wearRate"]["effect"] > 0
    assert figures["remainingUsefulLife"]["wearRate"]["effect"] < 0
    assert figures["wear"]["wearRate"]["elasticity"] > 0


def test_replayed_inputs_follow_the_recorded_telemetry() -> None:
    start = START - 86_400_000_000
    replay = {
        replay_key("speed", start, start + 10 * 86_400_000_000): {
            "pump-a": {
                "field": "speed",
                "times": [0, 3 * 86_400_000_000],
                "values": [1450.0, 1305.0],
                "initial": None,
            },
            "pump-b": {"field": "speed", "times": [], "values": [], "initial": 2950.0},
        }
    }
    scenario = spec(
        "what-if",
        inputs={"speed": {"profile": "replay", "start": start}},
        changes={"parameters": {"ratedHead": 50.0}},
    )
    output = run(scenario, snapshot_of(TWINS, replay=replay))
    series = output.tables["series"].to_pandas()
    flow = series[(series.variant == "baseline") & (series.output == "flowRate")]
    a = flow[flow.twin == "pump-a"].sort_values("time")["value"].to_numpy()
    assert a[0] == pytest.approx(250.0) and a[2] == pytest.approx(250.0)
    assert a[3] < 250.0 and np.allclose(a[3:], a[3])  # 90 % speed from day 3
    b = flow[flow.twin == "pump-b"]["value"].to_numpy()
    assert np.allclose(b, 90.0)


def test_progress_is_reported_in_order_and_not_per_step() -> None:
    seen: list[float] = []
    run_scenario(spec("what-if", **WHAT_IF), snapshot_of(TWINS), lambda f, m: seen.append(f))
    assert seen[0] == 0.0 and seen[-1] == 1.0
    assert seen == sorted(seen)
    assert len(seen) < 100  # 2 x 240 steps, reported about every 5 %


def test_other_engines_run_through_scenarios_too() -> None:
    crew = parse_spec(
        {
            "kind": "monte-carlo",
            "model": "twinops.sim.library.crew:MaintenanceCrew",
            "twins": ["fleet"],
            "horizon": "30d",
            "step": "1h",
            "record": "1d",
            "runs": 5,
            "seed": 1,
            "distributions": {"failureRate": {"distribution": "uniform", "low": 0.1, "high": 0.3}},
        }
    )
    completed = run(crew, snapshot_of(["fleet"])).summary["final"]["fleet"]["completed"]
    assert 0 < completed["p50"] < 30 * 24 * 0.3
    casing = parse_spec(
        {
            "kind": "what-if",
            "model": "twinops.sim.library.thermal:CasingTemperature",
            "twins": ["casing"],
            "horizon": "2h",
            "step": "1min",
            "changes": {"inputs": {"heat": {"profile": "constant", "value": 500.0}}},
        }
    )
    deltas = run(casing, snapshot_of(["casing"])).summary["deltas"]["casing"]
    assert deltas["temperature"]["final"]["delta"] > 0


def test_a_snapshot_missing_a_twin_or_of_another_format_is_refused() -> None:
    scenario = spec("what-if", **WHAT_IF)
    with pytest.raises(InvalidInput, match="lacks twins"):
        run(scenario, snapshot_of({"pump-a": {}}))
    with pytest.raises(InvalidInput, match="format"):
        run(scenario, {**snapshot_of(TWINS), "format": 99})
