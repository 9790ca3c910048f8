"""Tests for the pump-fleet telemetry generator (faults on purpose) and the SKAB replay."""

from __future__ import annotations

import importlib.util
import itertools
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_DIR = ROOT / "examples" / "pump_fleet"
START = "2025-06-30T06:00:00Z"


def _load(name: str, path: Path) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tel() -> ModuleType:
    return _load("twinops_example_pump_telemetry", EXAMPLE_DIR / "telemetry.py")


@pytest.fixture(scope="module")
def skab() -> ModuleType:
    return _load("twinops_example_pump_skab", EXAMPLE_DIR / "skab.py")


@pytest.fixture(scope="module")
def fleet() -> Any:
    module = _load("twinops_example_pump_fleet", EXAMPLE_DIR / "fleet.py")
    return module.generate_fleet(stations=2, pumps_per_station=3, seed=5)


@pytest.fixture(scope="module")
def run(tel: ModuleType, fleet: Any) -> Any:
    """15 minutes of six pumps with the default faults."""
    return tel.generate(fleet, START, 900, seed=11)


@pytest.fixture(scope="module")
def clean(tel: ModuleType, fleet: Any) -> Any:
    return tel.generate(fleet, START, 900, seed=11, faults=tel.FaultConfig.none())


def _micros(tel: ModuleType, time: Any) -> int:
    return int(tel.to_micros(time))


def _pump_ids(fleet: Any) -> set[str]:
    return {t["$dtId"] for t in fleet.twins if t["$metadata"]["$model"].endswith(":Pump;1")}


def _reference_ingest(
    tel: ModuleType, points: list[dict[str, Any]], pumps: set[str]
) -> dict[tuple[str, str], list[tuple[datetime, float]]]:
    """What an ideal pipeline stores: invalid out, units converted, duplicates dropped,
    event-time order, the value of the first arrival kept."""
    stored: dict[tuple[str, str], dict[int, float]] = defaultdict(dict)
    for point in points:
        name, unit = point["name"], point.get("unit")
        if point["twin"] not in pumps or name not in tel.FIELDS:
            continue
        if not isinstance(point["value"], int | float):
            continue
        if unit is not None and unit not in tel.IMPERIAL_UNITS.get(name, ()):
            continue
        value = round(tel.to_canonical(point["value"], unit), tel.DECIMALS[name])
        stored[(point["twin"], name)].setdefault(_micros(tel, point["time"]), value)
    return {
        key: [(tel.from_micros(t), v) for t, v in sorted(values.items())]
        for key, values in stored.items()
    }


# --- determinism ------------------------------------------------------------------------


def test_same_seed_same_run_other_seed_other_run(tel: ModuleType, fleet: Any, run: Any) -> None:
    again = tel.generate(fleet, START, 900, seed=11)
    assert again.points == run.points
    assert again.arrivals == run.arrivals
    assert again.truth.to_dict() == run.truth.to_dict()
    other = tel.generate(fleet, START, 900, seed=12)
    assert other.points != run.points


def test_input_forms_are_equivalent(tel: ModuleType, fleet: Any) -> None:
    a = tel.generate(fleet, START, 60, seed=3)
    b = tel.generate(fleet.to_dict(), START, 60, seed=3)
    c = tel.generate(list(fleet.twins), datetime(2025, 6, 30, 6, tzinfo=UTC), 60, seed=3)
    d = tel.generate(fleet.twins, datetime(2025, 6, 30, 6), 60, seed=3)  # naive means UTC
    e = tel.generate(fleet.twins, datetime(2025, 6, 30, 6, tzinfo=UTC).timestamp(), 60, seed=3)
    assert a.points == b.points == c.points == d.points == e.points


def test_clean_values_do_not_depend_on_faults(run: Any, clean: Any) -> None:
    assert run.truth.series.keys() == clean.truth.series.keys()
    for key, series in run.truth.series.items():
        full = dict(clean.truth.series[key])
        assert all(full[t] == v for t, v in series)


# --- the clean run ----------------------------------------------------------------------


def test_clean_run_is_every_point_once_in_order(tel: ModuleType, fleet: Any, clean: Any) -> None:
    pumps = _pump_ids(fleet)
    assert len(clean.points) == 900 * len(pumps) * len(tel.FIELDS)
    ids = [p["id"] for p in clean.points]
    assert len(set(ids)) == len(ids)
    assert all("unit" not in p and isinstance(p["time"], str) for p in clean.points)
    assert all(p["time"].endswith("Z") for p in clean.points)
    last: dict[tuple[str, str], int] = {}
    for p in clean.points:
        t = _micros(tel, p["time"])
        assert last.get((p["twin"], p["name"]), -1) < t
        last[(p["twin"], p["name"])] = t
    assert clean.truth.counts() == {
        "values": len(clean.points),
        "gaps": 0,
        "gap_missing": 0,
        "duplicates": 0,
        "idless_duplicates": 0,
        "out_of_order": 0,
        "late": 0,
        "unit_mixed": 0,
        "invalid": 0,
    }


def _pumps_by_id(fleet: Any) -> dict[str, dict[str, Any]]:
    return {t["$dtId"]: t for t in fleet.twins if t["$dtId"] in _pump_ids(fleet)}


def test_clean_values_are_physical(tel: ModuleType, fleet: Any, clean: Any) -> None:
    pumps = _pumps_by_id(fleet)
    truth = clean.truth
    assert set(truth.running) == set(pumps)
    assert any(truth.running.values())
    for (twin, name), series in truth.series.items():
        pump, motor = pumps[twin], pumps[twin]["motor"]
        values = [v for _, v in series]
        assert values and all(math.isfinite(v) for v in values)
        running = truth.running[twin]
        bounds = {
            "flowRate": (0.0, 1.15 * pump["ratedFlow"]),
            "dischargePressure": (0.0, 250.0 + 9.81 * 1.15 * pump["ratedHead"] + 30.0),
            "suctionPressure": (0.0, 300.0),
            "vibration": (0.0, 2.0),
            "fluidTemperature": (0.0, 40.0),
            "speed": (0.0, 1.06 * pump["ratedSpeed"]),
            "motor.current": (0.0, 1.2 * motor["ratedCurrent"]),
            "motor.voltage": (0.95 * motor["ratedVoltage"], 1.05 * motor["ratedVoltage"]),
            "motor.power": (0.0, 1.1 * motor["ratedPower"]),
            "motor.windingTemperature": (10.0, 155.0),  # insulation class F limit
        }[name]
        assert bounds[0] <= min(values) and max(values) <= bounds[1], (twin, name)
        if not running and name in ("flowRate", "speed", "motor.current", "motor.power"):
            assert set(values) == {0.0}


def test_affinity_laws_hold_roughly(tel: ModuleType, fleet: Any, clean: Any) -> None:
    pumps = _pumps_by_id(fleet)
    series = clean.truth.series
    for twin, running in clean.truth.running.items():
        if not running:
            continue
        pump = pumps[twin]
        speed = [v / pump["ratedSpeed"] for _, v in series[(twin, "speed")]]
        flow = [v / pump["ratedFlow"] for _, v in series[(twin, "flowRate")]]
        dp = [
            (d - s) / 9.80665 / pump["ratedHead"]
            for (_, d), (_, s) in zip(
                series[(twin, "dischargePressure")], series[(twin, "suctionPressure")], strict=True
            )
        ]
        power = [v for _, v in series[(twin, "motor.power")]]
        for s, q, h, p in zip(speed, flow, dp, power, strict=True):
            assert q == pytest.approx(s, rel=0.06)  # flow ∝ speed
            assert h == pytest.approx(s * s, rel=0.06, abs=0.02)  # head ∝ speed²
            assert p / s**3 == pytest.approx(power[0] / speed[0] ** 3, rel=0.08)  # power ∝ speed³


def test_daily_demand_cycle(tel: ModuleType) -> None:
    assert tel.demand(8.0) == pytest.approx(1.0)
    assert tel.demand(20.0) == pytest.approx(1.0)
    assert tel.demand(2.0) == pytest.approx(0.55)
    assert min(tel.demand(h / 10) for h in range(240)) > 0.5


def test_bearing_wear_raises_vibration_and_temperature(tel: ModuleType, fleet: Any) -> None:
    days = 4
    run = tel.generate(
        fleet, "2025-06-01T00:00:00Z", days * 86_400, step_s=300, seed=3, faults=None
    )
    series = run.truth.series
    assert run.truth.wear
    for twin, running in run.truth.running.items():
        vib = [v for _, v in series[(twin, "vibration")]]
        winding = [v for _, v in series[(twin, "motor.windingTemperature")]]
        day = 288  # points per day at 300 s; the demand cycle repeats daily
        ratio = statistics.mean(vib[-day:]) / statistics.mean(vib[:day])
        rise = statistics.mean(winding[-day:]) - statistics.mean(winding[:day])
        wear = run.truth.wear.get(twin)
        if wear is not None and running:
            assert wear.end > wear.start
            assert ratio > 1.1
            assert rise > 0.5
        else:
            assert ratio == pytest.approx(1.0, abs=0.03)
            assert abs(rise) < 0.5


# --- faults -----------------------------------------------------------------------------


def test_points_are_in_arrival_order(run: Any) -> None:
    assert len(run.points) == len(run.arrivals)
    assert run.arrivals == sorted(run.arrivals)


def test_every_fault_is_injected_as_configured(tel: ModuleType, run: Any) -> None:
    config = tel.FaultConfig()
    counts = run.truth.counts()
    assert counts["gaps"] == config.gaps
    assert counts["duplicates"] == config.duplicates
    assert counts["idless_duplicates"] == config.idless_duplicates
    assert counts["late"] == config.late
    assert counts["invalid"] == config.invalid
    assert len(run.truth.unit_mixed_windows) == config.mixed_unit_pumps
    assert len(run.truth.epoch_time_twins) == config.epoch_time_pumps
    assert config.out_of_order_windows <= counts["out_of_order"]
    assert counts["out_of_order"] <= config.out_of_order_windows * config.out_of_order_window
    assert counts["unit_mixed"] > 0
    # Every point is a clean value, a duplicate copy or an invalid point.
    assert len(run.points) == (
        counts["values"] + counts["duplicates"] + counts["idless_duplicates"] + counts["invalid"]
    )


def test_duplicates_with_id(run: Any) -> None:
    by_id: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for p in run.points:
        if "id" in p:
            by_id[p["id"]].append(p)
    repeated = {i for i, ps in by_id.items() if len(ps) > 1}
    assert repeated == set(run.truth.duplicate_ids)
    for i in repeated:
        first, second = by_id[i]
        assert len(by_id[i]) == 2 and first == second


def test_duplicates_without_id(tel: ModuleType, run: Any) -> None:
    idless = [p for p in run.points if "id" not in p]
    keys = Counter(
        (p["twin"], p["name"], _micros(tel, p["time"]), p["value"], p.get("unit")) for p in idless
    )
    assert set(keys.values()) == {2}
    expected = {
        (d.twin, d.name, _micros(tel, d.time), d.value, d.unit) for d in run.truth.idless_duplicates
    }
    assert set(keys) == expected


def test_late_points(tel: ModuleType, run: Any) -> None:
    config = tel.FaultConfig()
    late_ids = {p.id for p in run.truth.late}
    for p in run.truth.late:
        assert config.late_delay_s[0] <= p.delay_s <= config.late_delay_s[1]
    delayed = {
        point["id"]
        for point, arrival in zip(run.points, run.arrivals, strict=True)
        if (arrival - tel.from_micros(_micros(tel, point["time"]))).total_seconds() >= 60
    }
    assert delayed == late_ids
    # Later points of the same stream overtake each late point (it was chosen early enough).
    position = {p.get("id"): i for i, p in enumerate(run.points)}
    for late in run.truth.late:
        overtaken = [
            p
            for p in run.points[: position[late.id]]
            if (p["twin"], p["name"]) == (late.twin, late.name)
            and _micros(tel, p["time"]) > _micros(tel, late.time)
        ]
        assert overtaken


def test_out_of_order_points(tel: ModuleType, run: Any) -> None:
    skip = {p.id for p in run.truth.late}
    seen: set[str] = set()
    streams: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
    for p in run.points:
        i = p.get("id")
        if i is None or i in skip or i in seen:  # id-less, late, or a duplicate copy
            continue
        seen.add(i)
        streams[(p["twin"], p["name"])].append((_micros(tel, p["time"]), i))
    inverted: set[str] = set()
    for items in streams.values():
        for a in range(len(items)):
            for b in range(a + 1, min(len(items), a + 20)):
                if items[a][0] > items[b][0]:
                    inverted.update((items[a][1], items[b][1]))
    assert inverted == set(run.truth.out_of_order_ids)


def test_mixed_units_convert_back_to_the_truth(tel: ModuleType, run: Any) -> None:
    truth = {key: dict(series) for key, series in run.truth.series.items()}
    assert run.truth.unit_mixed
    for p in run.truth.unit_mixed:
        assert p.unit in {"psi", "gal/min", "degF"}
        assert p.unit == tel.IMPERIAL_UNITS[p.name][0]
        start, end = run.truth.unit_mixed_windows[p.twin]
        assert start <= p.time < end
        back = round(tel.to_canonical(p.value, p.unit), tel.DECIMALS[p.name])
        assert back == truth[(p.twin, p.name)][p.time] == p.canonical
    sent = {
        (p["twin"], p["name"], _micros(tel, p["time"]))
        for p in run.points
        if "unit" in p and p["name"] in tel.IMPERIAL_UNITS and p["unit"] != "barg"
    }
    assert sent == {(p.twin, p.name, _micros(tel, p.time)) for p in run.truth.unit_mixed}


def test_dtdl_unit_style(tel: ModuleType, fleet: Any) -> None:
    run = tel.generate(fleet, START, 120, seed=1, faults=tel.FaultConfig(unit_style="dtdl"))
    units = {p.unit for p in run.truth.unit_mixed}
    assert units == {"poundPerSquareInch", "gallonPerMinute", "degreeFahrenheit"}


def test_unit_conversions(tel: ModuleType) -> None:
    assert tel.to_canonical(14.503773773, "psi") == pytest.approx(100.0)
    assert tel.to_canonical(1.0, "gal/min") == pytest.approx(0.2271247)
    assert tel.to_canonical(212.0, "degF") == pytest.approx(100.0)
    for unit in ("psi", "gal/min", "degF", "poundPerSquareInch", "gpm", "degreeFahrenheit"):
        assert tel.to_canonical(tel.to_unit(42.5, unit), unit) == pytest.approx(42.5)
    assert tel.to_canonical(3.0, None) == 3.0
    with pytest.raises(ValueError):
        tel.to_canonical(1.0, "barg")


def test_invalid_points(tel: ModuleType, fleet: Any, run: Any) -> None:
    pumps = _pump_ids(fleet)
    invalid = {p.id: p for p in run.truth.invalid}
    assert {p.reason for p in invalid.values()} == set(tel.INVALID_KINDS)
    sent = {p["id"]: p for p in run.points if p.get("id") in invalid}
    assert sent.keys() == invalid.keys()
    for i, point in sent.items():
        assert point == invalid[i].point
        reason = invalid[i].reason
        if reason == "unknown_twin":
            assert point["twin"] not in pumps
        elif reason == "unknown_field":
            assert point["name"] not in tel.FIELDS
        elif reason == "non_numeric":
            assert isinstance(point["value"], str)
        elif reason == "unknown_unit":
            assert point["unit"] == "barg"
        else:
            assert (point["name"], point["unit"]) == ("vibration", "mm/s")
        # Invalid points never take the place of a valid one.
        key = (point["twin"], point["name"])
        times = {t for t, _ in run.truth.series.get(key, [])}
        assert tel.from_micros(_micros(tel, point["time"])) not in times


def test_gaps(tel: ModuleType, run: Any) -> None:
    assert run.truth.gaps
    for gap in run.truth.gaps:
        series = run.truth.series[(gap.twin, gap.name)]
        assert len(series) == 900 - gap.missing
        assert not [t for t, _ in series if gap.start <= t < gap.end]
        assert (gap.end - gap.start).total_seconds() == gap.missing
    gapped = {(g.twin, g.name) for g in run.truth.gaps}
    assert all(len(s) == 900 for k, s in run.truth.series.items() if k not in gapped)


def test_epoch_times(run: Any) -> None:
    epoch = set(run.truth.epoch_time_twins)
    for p in run.points:
        if p["twin"] in epoch:
            assert isinstance(p["time"], int | float)
        else:
            assert isinstance(p["time"], str)


def test_ids_are_unique_except_declared_duplicates(run: Any) -> None:
    ids = Counter(p["id"] for p in run.points if "id" in p)
    assert {i for i, n in ids.items() if n > 1} == set(run.truth.duplicate_ids)
    assert sum(1 for p in run.points if "id" not in p) == 2 * len(run.truth.idless_duplicates)


def test_an_ideal_pipeline_recovers_the_truth(tel: ModuleType, fleet: Any, run: Any) -> None:
    stored = _reference_ingest(tel, run.points, _pump_ids(fleet))
    assert stored == run.truth.series


def test_short_runs_clip_fault_counts(tel: ModuleType, fleet: Any) -> None:
    tiny = tel.generate(fleet, START, 2, seed=1)
    counts = tiny.truth.counts()
    assert counts["values"] <= 2 * 6 * len(tel.FIELDS)
    assert tel.generate(fleet, START, 0, seed=1).points == []
    with pytest.raises(ValueError):
        tel.generate(fleet, START, 10, step_s=0)


def test_truth_serializes(run: Any) -> None:
    data = json.loads(json.dumps(run.truth.to_dict()))
    assert data["counts"] == run.truth.counts()
    assert len(data["series"]) == len(run.truth.series)


# --- CLI --------------------------------------------------------------------------------


def _cli(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLE_DIR / script), *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONHASHSEED": "random"},
    )


def test_cli_json_and_ndjson(tel: ModuleType, tmp_path: Path) -> None:
    base = ("--stations", "1", "--pumps-per-station", "2", "--minutes", "2", "--seed", "1")
    array = json.loads(_cli("telemetry.py", *base).stdout)
    assert isinstance(array, list) and array
    assert all({"twin", "name", "value", "time"} <= p.keys() for p in array)
    lines = _cli("telemetry.py", *base, "--ndjson").stdout.splitlines()
    assert [json.loads(line) for line in lines] == array
    out, truth = tmp_path / "points.ndjson", tmp_path / "truth.json"
    _cli("telemetry.py", *base, "--ndjson", "--out", str(out), "--truth", str(truth))
    assert out.read_text(encoding="utf-8").splitlines() == lines
    assert json.loads(truth.read_text(encoding="utf-8"))["counts"]["duplicates"] == 10


# --- SKAB -------------------------------------------------------------------------------

SKAB_COLUMNS = {
    "datetime",
    "Accelerometer1RMS",
    "Accelerometer2RMS",
    "Current",
    "Pressure",
    "Temperature",
    "Thermocouple",
    "Voltage",
    "Volume Flow RateRMS",
}


def test_skab_data_dir_default(skab: ModuleType) -> None:
    expected = Path(os.environ.get("TWINOPS_DATA_DIR", ROOT.parent / "shared" / "data"))
    assert skab.data_dir() == expected
    files = skab.skab_files()
    assert files[0].name == "anomaly-free.csv"
    assert [f"{p.parent.name}/{p.stem}" for p in files[1:4]] == ["valve1/0", "valve1/1", "valve1/2"]


def test_skab_anomaly_free_reads(skab: ModuleType) -> None:
    rows = skab.read_skab("anomaly-free/anomaly-free.csv")
    assert len(rows) > 9000
    assert set(rows[0]) == SKAB_COLUMNS
    times = [r["datetime"] for r in rows]
    assert all(t.tzinfo is UTC for t in times)
    assert times[0] == datetime(2020, 2, 8, 13, 30, 47, tzinfo=UTC)
    assert all(a < b for a, b in itertools.pairwise(times))
    assert all(isinstance(r["Current"], float) for r in rows)
    assert skab.labels("anomaly-free/anomaly-free.csv") == []


def test_skab_quirks_are_kept(skab: ModuleType) -> None:
    for path in skab.skab_files():
        times = [r["datetime"] for r in skab.read_skab(path)]
        assert all(a < b for a, b in itertools.pairwise(times)), path
    rows = skab.read_skab("valve1/2.csv")
    steps = [(b["datetime"] - a["datetime"]).total_seconds() for a, b in itertools.pairwise(rows)]
    assert max(steps) > 60  # a gap of over a minute
    assert any(r["Pressure"] < 0 for r in rows)  # sensor offset


def test_skab_labels(skab: ModuleType) -> None:
    rows = skab.read_skab("valve1/0.csv")
    found = skab.labels("valve1/0.csv")
    assert len(found) == len(rows)
    assert found[0] == (datetime(2020, 3, 9, 10, 14, 33, tzinfo=UTC), 0, 0)
    assert {a for _, a, _ in found} == {0, 1}
    assert {c for _, _, c in found} == {0, 1}
    assert sum(c for _, _, c in found) < sum(a for _, a, _ in found)


def test_skab_points_carry_the_declared_units(tel: ModuleType, skab: ModuleType) -> None:
    rows = skab.read_skab("valve1/0.csv")
    points = skab.skab_points("valve1/0.csv", "pump-01-01-01")
    assert len(points) == len(rows) * len(skab.COLUMNS)
    assert {p["name"] for p in points} <= set(tel.FIELDS)
    assert {p["twin"] for p in points} == {"pump-01-01-01"}
    units = {p["name"]: p.get("unit") for p in points}
    assert units == {
        "vibration": None,
        "motor.current": None,
        "dischargePressure": "bar",
        "motor.windingTemperature": None,
        "fluidTemperature": None,
        "motor.voltage": None,
        "flowRate": "l/min",
    }
    first = {p["name"]: p for p in points[: len(skab.COLUMNS)]}
    assert first["flowRate"]["value"] == rows[0]["Volume Flow RateRMS"]
    assert first["dischargePressure"]["value"] == rows[0]["Pressure"]
    assert first["vibration"]["value"] == rows[0]["Accelerometer1RMS"]
    assert first["vibration"]["time"] == "2020-03-09T10:14:33Z"
    assert first["vibration"]["id"] == "skab-valve1-0-0-vibration@pump-01-01-01"
    assert any(p["value"] < 0 for p in points if p["name"] == "dischargePressure")
    ids = [p["id"] for p in points]
    assert len(set(ids)) == len(ids)
    assert skab.skab_points("valve1/0.csv", "pump-01-01-01") == points
    other = skab.skab_points("valve2/0.csv", "pump-01-01-01")
    assert not set(ids) & {p["id"] for p in other}


def test_skab_time_shift_and_sensors(skab: ModuleType) -> None:
    target = datetime(2025, 6, 30, 6, tzinfo=UTC)
    points = skab.skab_points(
        "valve1/0.csv", "pump-x", time_shift=target, sensor_twins=("s-de", "s-nde")
    )
    assert points[0]["time"] == "2025-06-30T06:00:00Z"
    assert points[0]["id"].startswith("skab-valve1-0-0-vibration@pump-x+")
    readings = [p for p in points[:9] if p["name"] == "reading"]
    rows = skab.read_skab("valve1/0.csv")
    assert [(p["twin"], p["value"]) for p in readings] == [
        ("s-de", rows[0]["Accelerometer1RMS"]),
        ("s-nde", rows[0]["Accelerometer2RMS"]),
    ]
    shifted = skab.skab_points("valve1/0.csv", "pump-x", time_shift=timedelta(hours=1))
    assert shifted[0]["time"] == "2020-03-09T11:14:33Z"
    assert shifted[0]["id"].endswith("+3600s")


def test_skab_data_dir_override(
    skab: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "skab" / "valve9").mkdir(parents=True)
    shutil.copy(skab.resolve("valve1/0.csv"), tmp_path / "skab" / "valve9" / "0.csv")
    monkeypatch.setenv("TWINOPS_DATA_DIR", str(tmp_path))
    assert skab.data_dir() == tmp_path
    assert [p.parent.name for p in skab.skab_files()] == ["valve9"]
    assert len(skab.read_skab("valve9/0.csv")) > 0


def test_skab_cli(skab: ModuleType) -> None:
    text = _cli(
        "skab.py", "valve1/0.csv", "--twin", "pump-01-01-01", "--start", START, "--ndjson"
    ).stdout
    points = [json.loads(line) for line in text.splitlines()]
    assert len(points) == len(skab.read_skab("valve1/0.csv")) * len(skab.COLUMNS)
    assert points[0]["time"] == "2025-06-30T06:00:00Z"
