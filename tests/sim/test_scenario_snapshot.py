"""take_snapshot on a real platform (SQLite and PostgreSQL), and the example specs end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from twinops.demo import load_demo
from twinops.errors import InvalidInput
from twinops.platform import Platform
from twinops.sim.runner import run_scenario
from twinops.sim.scenario import load_spec, parse_spec
from twinops.sim.snapshot import take_snapshot
from twinops.timeutil import format_rfc3339, parse_time

SCENARIOS = Path(__file__).resolve().parents[2] / "examples" / "pump_fleet" / "scenarios"
PUMP = "twinops.sim.library.pump:PumpModel"
T0 = parse_time("2025-06-30T06:00:00Z")
HOUR = 3_600_000_000


def snapshot(platform: Platform, raw: dict[str, Any], max_steps: int = 1_000_000) -> dict[str, Any]:
    return take_snapshot(
        parse_spec(raw),
        tenant=platform.settings.default_tenant,
        twins=platform.twins,
        state=platform.state,
        models=platform.models,
        max_steps=max_steps,
        clock=lambda: T0 + 5 * HOUR,
    )


def what_if(*twins: str, **fields: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "kind": "what-if",
        "model": PUMP,
        "twins": list(twins or ["pump-01-01-01"]),
        "horizon": "6h",
        "step": "1min",
        "changes": {"parameters": {"wearRate": 1e-4}},
    }
    raw.update(fields)
    return raw


def send(platform: Platform, twin: str, name: str, points: list[tuple[int, float]]) -> None:
    report = platform.ingest.ingest(
        platform.settings.default_tenant,
        [{"twin": twin, "name": name, "value": v, "time": format_rfc3339(t)} for t, v in points],
        source="test",
    )
    assert report.result.accepted == len(points), report


@pytest.fixture
def demo(platform: Platform) -> Platform:
    load_demo(platform)
    return platform


def test_a_snapshot_holds_the_twins_bound_values_and_the_model_record(demo: Platform) -> None:
    taken = snapshot(demo, what_if("pump-01-01-01", "pump-01-01-02"))
    json.dumps(taken, allow_nan=False)
    twin = demo.twins.get(demo.settings.default_tenant, "pump-01-01-01")
    entry = taken["twins"][0]
    assert entry["id"] == "pump-01-01-01"
    assert entry["parameters"]["ratedFlow"] == twin.contents["ratedFlow"]
    assert entry["parameters"]["motorRatedPower"] == twin.contents["motor"]["ratedPower"]
    assert entry["sources"]["ratedHead"] == "property ratedHead"
    assert taken["model"]["reference"] == PUMP and taken["model"]["version"] == "1.0.0"
    assert taken["start"] == T0 + 5 * HOUR  # now, from the injected clock


def test_initial_state_comes_from_telemetry_now_or_as_of(demo: Platform) -> None:
    send(demo, "pump-01-01-01", "motor.windingTemperature", [(T0, 55.0), (T0 + HOUR, 61.0)])
    now = snapshot(demo, what_if())
    assert now["twins"][0]["states"]["windingTemperature"] == 61.0
    before = snapshot(demo, what_if(asOf=format_rfc3339(T0 + HOUR // 2)))
    assert before["twins"][0]["states"]["windingTemperature"] == 55.0
    assert before["start"] == T0 + HOUR // 2
    assert (
        "telemetry motor.windingTemperature at"
        in before["twins"][0]["sources"]["windingTemperature"]
    )


def test_unknown_twins_and_twins_of_other_models_are_named(demo: Platform) -> None:
    with pytest.raises(InvalidInput) as caught:
        snapshot(demo, what_if("pump-01-01-01", "pump-99"))
    assert [(v.field, v.rule) for v in caught.value.violations] == [("twins[1]", "unknownTwin")]
    with pytest.raises(InvalidInput) as caught:
        snapshot(demo, what_if("site-01"))
    assert [(v.field, v.rule) for v in caught.value.violations] == [("twins[0]", "modelMismatch")]


def test_a_horizon_over_the_tenant_quota_is_refused(demo: Platform) -> None:
    with pytest.raises(InvalidInput) as caught:
        snapshot(demo, what_if(), max_steps=100)
    assert [(v.field, v.rule) for v in caught.value.violations] == [("horizon", "quota")]


def test_replay_reads_the_recorded_period_and_the_run_follows_it(demo: Platform) -> None:
    twin = demo.twins.get(demo.settings.default_tenant, "pump-01-01-01")
    rated = float(twin.contents["ratedSpeed"])
    points = [(T0 - HOUR, rated)] + [(T0 + k * HOUR, rated * (1.0 - 0.05 * k)) for k in range(4)]
    send(demo, "pump-01-01-01", "speed", points)
    raw = what_if(
        horizon="6h",
        step="30min",
        inputs={"speed": {"profile": "replay", "start": format_rfc3339(T0 + HOUR // 2)}},
    )
    taken = snapshot(demo, raw)
    (recorded,) = taken["replay"].values()
    data = recorded["pump-01-01-01"]
    assert data["initial"] == rated
    assert data["times"] == [HOUR // 2, 3 * HOUR // 2, 5 * HOUR // 2]
    output = run_scenario(parse_spec(raw), taken, lambda f, m: None)
    series = output.tables["series"].to_pandas()
    speed = series[(series.variant == "baseline") & (series.output == "speed")]
    assert speed["value"].tolist() == pytest.approx(
        [
            rated,
            rated * 0.95,
            rated * 0.95,
            rated * 0.9,
            rated * 0.9,
            rated * 0.85,
            rated * 0.85,
            rated * 0.85,
            rated * 0.85,
            rated * 0.85,
            rated * 0.85,
            rated * 0.85,
            rated * 0.85,
        ]
    )


def test_replaying_a_field_without_history_is_refused(demo: Platform) -> None:
    raw = what_if(inputs={"speed": {"profile": "replay", "start": format_rfc3339(T0)}})
    with pytest.raises(InvalidInput) as caught:
        snapshot(demo, raw)
    assert [(v.field, v.rule) for v in caught.value.violations] == [("inputs.speed", "noHistory")]


def test_bound_values_are_converted_to_the_model_units(
    demo: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWINOPS_SIM_MODEL_MODULES", "simmodels")
    send(demo, "pump-01-01-01", "fluidTemperature", [(T0, 20.0)])
    taken = snapshot(
        demo,
        what_if(
            model="simmodels:HeadInFeet",
            changes=None,
            outputs=["head"],
            kind="monte-carlo",
            runs=1,
        ),
    )
    entry = taken["twins"][0]
    twin = demo.twins.get(demo.settings.default_tenant, "pump-01-01-01")
    assert entry["parameters"]["ratedHead"] == pytest.approx(twin.contents["ratedHead"] / 0.3048)
    assert entry["states"]["fluid"] == pytest.approx(293.15)


@pytest.mark.parametrize("name", ["what-if", "monte-carlo", "sweep", "sensitivity"])
def test_example_specs_run_on_the_demo_fleet(demo: Platform, name: str) -> None:
    spec = load_spec(SCENARIOS / f"{name}.yaml")
    taken = take_snapshot(
        spec,
        tenant=demo.settings.default_tenant,
        twins=demo.twins,
        state=demo.state,
        models=demo.models,
        max_steps=100_000,
    )
    output = run_scenario(spec, json.loads(json.dumps(taken)), lambda f, m: None)
    assert output.summary["kind"] == name
    assert all(table.num_rows > 0 for table in output.tables.values())
    json.dumps(output.summary, allow_nan=False)
