"""Tests for the pump-fleet reference example: models on disk and the fleet generator."""

import importlib.util
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_DIR = ROOT / "examples" / "pump_fleet"
FLEET_PY = EXAMPLE_DIR / "fleet.py"
TWIN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
NS = "dtmi:twinops:example:"
EXPECTED_MODELS = {
    f"{NS}{name};1" for name in ("Site", "PumpStation", "Asset", "Pump", "Motor", "Sensor")
}


def _load_fleet_module() -> ModuleType:
    name = "twinops_example_pump_fleet"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, FLEET_PY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def fleet_module() -> ModuleType:
    return _load_fleet_module()


@pytest.fixture(scope="module")
def models(fleet_module: ModuleType) -> dict[str, dict[str, Any]]:
    docs = [json.loads(p.read_text(encoding="utf-8")) for p in fleet_module.model_paths()]
    return {doc["@id"]: doc for doc in docs}


def _contents(models: dict[str, dict[str, Any]], dtmi: str) -> dict[str, dict[str, Any]]:
    """Contents of an interface including the ones it inherits, by name."""
    doc = models[dtmi]
    result: dict[str, dict[str, Any]] = {}
    extends = doc.get("extends", [])
    for base in [extends] if isinstance(extends, str) else extends:
        result.update(_contents(models, base))
    for item in doc["contents"]:
        assert item["name"] not in result, f"{dtmi}: duplicate content {item['name']}"
        result[item["name"]] = item
    return result


def _kind(item: dict[str, Any]) -> str:
    types = item["@type"]
    return types if isinstance(types, str) else types[0]


# --- models ------------------------------------------------------------------------------


def test_model_files_are_the_six_example_interfaces(
    fleet_module: ModuleType, models: dict[str, dict[str, Any]]
) -> None:
    paths = fleet_module.model_paths()
    assert all(p.is_file() for p in paths)
    assert {p.name for p in paths} == {p.name for p in (EXAMPLE_DIR / "models").glob("*.json")}
    assert set(models) == EXPECTED_MODELS
    for doc in models.values():
        assert doc["@context"] == ["dtmi:dtdl:context;3", "dtmi:dtdl:extension:quantitativeTypes;1"]
        assert doc["@type"] == "Interface"
        assert doc["displayName"] and doc["description"]
        for item in doc["contents"]:
            assert item["displayName"] and item["description"], item["name"]


def test_model_references_resolve(models: dict[str, dict[str, Any]]) -> None:
    for doc in models.values():
        extends = doc.get("extends", [])
        for base in [extends] if isinstance(extends, str) else extends:
            assert base in models
        for item in doc["contents"]:
            if _kind(item) == "Relationship":
                assert item["target"] in models
            if _kind(item) == "Component":
                assert item["schema"] in models


@pytest.mark.parametrize(
    ("dtmi", "name", "semantic_type", "unit"),
    [
        ("PumpStation", "inletPressure", "Pressure", "kilopascal"),
        ("Pump", "ratedFlow", "VolumeFlowRate", "cubicMetrePerHour"),
        ("Pump", "ratedHead", "Length", "metre"),
        ("Pump", "impellerDiameter", "Length", "millimetre"),
        ("Pump", "vibration", "Acceleration", "gForce"),
        ("Pump", "fluidTemperature", "Temperature", "degreeCelsius"),
        ("Pump", "speed", "AngularVelocity", "revolutionPerMinute"),
        ("Motor", "ratedPower", "Power", "kilowatt"),
        ("Motor", "current", "Current", "ampere"),
        ("Motor", "voltage", "Voltage", "volt"),
    ],
)
def test_units(
    models: dict[str, dict[str, Any]], dtmi: str, name: str, semantic_type: str, unit: str
) -> None:
    item = _contents(models, f"{NS}{dtmi};1")[name]
    assert item["@type"][1] == semantic_type
    assert item["unit"] == unit


# --- generator ---------------------------------------------------------------------------


def test_deterministic_per_seed(fleet_module: ModuleType) -> None:
    a = fleet_module.generate_fleet(3, 4, seed=11)
    b = fleet_module.generate_fleet(3, 4, seed=11)
    c = fleet_module.generate_fleet(3, 4, seed=12)
    assert a == b
    assert a.to_json() == b.to_json()
    assert a.to_json() != c.to_json()


def test_counts_for_three_stations_of_four_pumps(fleet_module: ModuleType) -> None:
    fleet = fleet_module.generate_fleet(3, 4, seed=0)
    models = Counter(t["$metadata"]["$model"] for t in fleet.twins)
    assert models == {
        f"{NS}Site;1": 1,
        f"{NS}PumpStation;1": 3,
        f"{NS}Pump;1": 12,
        f"{NS}Sensor;1": 24,
    }
    rels = Counter(r["$relationshipName"] for r in fleet.relationships)
    assert rels["contains"] == 3
    assert rels["hasPump"] == 12
    assert rels["hasSensor"] == 24
    assert set(rels) <= {"contains", "hasPump", "hasSensor", "feeds"}


def test_default_sites_and_explicit_sites(fleet_module: ModuleType) -> None:
    site = f"{NS}Site;1"
    assert len(fleet_module.generate_fleet(10, 1).twins_of(site)) == 1
    assert len(fleet_module.generate_fleet(11, 1).twins_of(site)) == 2
    fleet = fleet_module.generate_fleet(5, 2, sites=3)
    assert len(fleet.twins_of(site)) == 3
    assert sum(r["$relationshipName"] == "contains" for r in fleet.relationships) == 5


def test_invalid_sizes_are_rejected(fleet_module: ModuleType) -> None:
    for args in ((0, 1), (1, 0)):
        with pytest.raises(ValueError):
            fleet_module.generate_fleet(*args)
    with pytest.raises(ValueError):
        fleet_module.generate_fleet(1, 1, sites=0)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_fleet_is_consistent(
    fleet_module: ModuleType, models: dict[str, dict[str, Any]], seed: int
) -> None:
    fleet = fleet_module.generate_fleet(12, 3, seed=seed, sites=2)
    ids = [t["$dtId"] for t in fleet.twins]
    assert len(ids) == len(set(ids))
    assert all(TWIN_ID.match(i) for i in ids)
    by_id = {t["$dtId"]: t for t in fleet.twins}

    for twin in fleet.twins:
        model = twin["$metadata"]["$model"]
        assert model in EXPECTED_MODELS and model != f"{NS}Asset;1"
        contents = _contents(models, model)
        for key, value in twin.items():
            if key.startswith("$"):
                continue
            assert key in contents, f"{model} has no {key}"
            kind = _kind(contents[key])
            assert kind in {"Property", "Component"}, key
            if kind == "Component":
                assert value["$metadata"] == {}
                motor = _contents(models, contents[key]["schema"])
                assert set(value) - {"$metadata"} <= set(motor)

    rel_ids = [r["$relationshipId"] for r in fleet.relationships]
    assert len(rel_ids) == len(set(rel_ids))
    for rel in fleet.relationships:
        assert TWIN_ID.match(rel["$relationshipId"])
        source, target = by_id[rel["$sourceId"]], by_id[rel["$targetId"]]
        definition = _contents(models, source["$metadata"]["$model"])[rel["$relationshipName"]]
        assert _kind(definition) == "Relationship"
        assert target["$metadata"]["$model"] == definition["target"]
        allowed = {p["name"] for p in definition.get("properties", [])}
        assert {k for k in rel if not k.startswith("$")} <= allowed

    sensors_per_pump = Counter(
        r["$sourceId"] for r in fleet.relationships if r["$relationshipName"] == "hasSensor"
    )
    pumps = fleet.twins_of(f"{NS}Pump;1")
    assert all(sensors_per_pump[p["$dtId"]] == 2 for p in pumps)


def test_values_are_realistic(fleet_module: ModuleType) -> None:
    fleet = fleet_module.generate_fleet(20, 4, seed=3)
    for pump in fleet.twins_of(f"{NS}Pump;1"):
        assert 50 <= pump["ratedFlow"] <= 500
        assert 20 <= pump["ratedHead"] <= 120
        assert pump["ratedSpeed"] in (1450, 2950)
        assert 0 < pump["efficiencyBestPoint"] < 1
        assert pump["status"] in {"running", "stopped", "faulted", "maintenance"}
        assert pump["installedOn"] <= pump["maintenance"]["lastServiceDate"] <= "2025-06-30"
        assert pump["serialNumber"] and pump["manufacturer"]
        motor = pump["motor"]
        hydraulic_kw = 9.81 * pump["ratedFlow"] / 3600 * pump["ratedHead"]
        assert motor["ratedPower"] >= hydraulic_kw / pump["efficiencyBestPoint"]
    for station in fleet.twins_of(f"{NS}PumpStation;1"):
        assert station["operatingMode"] in {"auto", "manual", "off"}


# --- command line ------------------------------------------------------------------------


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(FLEET_PY), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_cli_prints_valid_json(fleet_module: ModuleType) -> None:
    result = _run_cli("--stations", "3", "--pumps-per-station", "4", "--seed", "5")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == {"twins", "relationships"}
    assert len(data["twins"]) == 1 + 3 + 12 + 24
    assert data == fleet_module.generate_fleet(3, 4, seed=5).to_dict()


def test_cli_writes_out_file(tmp_path: Path) -> None:
    out = tmp_path / "fleet.json"
    result = _run_cli("--stations", "2", "--pumps-per-station", "1", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert len(json.loads(out.read_text(encoding="utf-8"))["twins"]) == 1 + 2 + 2 + 4


def test_cli_rejects_bad_sizes() -> None:
    result = _run_cli("--stations", "0", "--pumps-per-station", "1")
    assert result.returncode == 2
    assert "stations" in result.stderr
