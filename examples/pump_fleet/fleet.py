"""Generate a deterministic demo fleet of pump twins for the twinops reference example.

The fleet follows the DTDL models in ``models/``: sites contain pump stations, stations
house pumps (each with a ``motor`` component), and each pump carries two vibration sensors
(drive-end and non-drive-end bearing, like the two accelerometers of the SKAB test rig).

Usage::

    python examples/pump_fleet/fleet.py --stations 3 --pumps-per-station 4 --seed 7 --out fleet.json

The output is ``{"twins": [...], "relationships": [...]}`` with Azure Digital Twins style
bodies. Only the standard library is used, so the file can be imported by path.
"""

import argparse
import json
import math
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

MODELS_DIR = Path(__file__).resolve().parent / "models"
"""Folder holding the example's DTDL v3 interfaces, one per file."""

NAMESPACE = "dtmi:twinops:example:"
SITE_MODEL = f"{NAMESPACE}Site;1"
STATION_MODEL = f"{NAMESPACE}PumpStation;1"
ASSET_MODEL = f"{NAMESPACE}Asset;1"
PUMP_MODEL = f"{NAMESPACE}Pump;1"
MOTOR_MODEL = f"{NAMESPACE}Motor;1"
SENSOR_MODEL = f"{NAMESPACE}Sensor;1"

# Dependency order: base interfaces and component schemas before the interfaces using them.
_MODEL_FILES = ("Asset", "Motor", "Sensor", "Pump", "PumpStation", "Site")

STATIONS_PER_SITE = 10
"""Default number of stations per site when ``sites`` is not given."""

REFERENCE_DATE = date(2025, 6, 30)
"""The fleet's "today": no generated date lies after it, so output never depends on the clock."""

_CITIES: tuple[tuple[str, float, float, str], ...] = (
    ("Rotterdam", 51.9225, 4.4792, "Europe/Amsterdam"),
    ("Lyon", 45.7640, 4.8357, "Europe/Paris"),
    ("Leeds", 53.8008, -1.5491, "Europe/London"),
    ("Porto", 41.1579, -8.6291, "Europe/Lisbon"),
    ("Gdansk", 54.3520, 18.6466, "Europe/Warsaw"),
    ("Bergen", 60.3913, 5.3221, "Europe/Oslo"),
    ("Austin", 30.2672, -97.7431, "America/Chicago"),
    ("Denver", 39.7392, -104.9903, "America/Denver"),
    ("Osaka", 34.6937, 135.5023, "Asia/Tokyo"),
    ("Adelaide", -34.9285, 138.6007, "Australia/Adelaide"),
    ("Pune", 18.5204, 73.8567, "Asia/Kolkata"),
    ("Curitiba", -25.4284, -49.2733, "America/Sao_Paulo"),
)
_STATION_NAMES = (
    "North",
    "Harbour",
    "Hillside",
    "Riverside",
    "East Works",
    "Lakeview",
    "Mill Lane",
    "South Booster",
    "Quarry",
    "Westfield",
)
_PUMP_MAKERS: tuple[tuple[str, str], ...] = (
    ("Nordhavn Pumps", "NHP"),
    ("Aquadyne", "AQD"),
    ("Helix Hydraulics", "HLX"),
    ("Rotaflo Industries", "RFI"),
    ("Meridian Pump Co.", "MPC"),
)
_MOTOR_MAKERS: tuple[tuple[str, str], ...] = (
    ("Voltara Motors", "VLT"),
    ("Kestrel Electric", "KES"),
    ("Ampere Drives", "AMD"),
    ("Tern Electromotive", "TRN"),
)
# IEC standard motor ratings, kW.
_MOTOR_SIZES_KW = (
    0.75, 1.1, 1.5, 2.2, 3.0, 4.0, 5.5, 7.5, 11.0, 15.0, 18.5, 22.0, 30.0, 37.0, 45.0,
    55.0, 75.0, 90.0, 110.0, 132.0, 160.0, 200.0, 250.0, 315.0, 355.0, 400.0, 450.0, 500.0,
)  # fmt: skip
_SPEEDS_RPM = (1450.0, 2950.0)
_GRAVITY = 9.81  # m/s²
_WATER_DENSITY = 1000.0  # kg/m³
_SENSOR_MOUNTS = (("de", "drive-end bearing"), ("nde", "non-drive-end bearing"))


@dataclass(frozen=True)
class Fleet:
    """A generated fleet: ADT-style twin bodies and relationships."""

    twins: list[dict[str, Any]] = field(default_factory=list)
    relationships: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, list[dict[str, Any]]]:
        """Return the fleet as ``{"twins": [...], "relationships": [...]}``."""
        return {"twins": self.twins, "relationships": self.relationships}

    def to_json(self, indent: int | None = 2) -> str:
        """Serialize the fleet to JSON."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def twins_of(self, model: str) -> list[dict[str, Any]]:
        """Return the twins whose ``$metadata.$model`` is ``model``."""
        return [t for t in self.twins if t["$metadata"]["$model"] == model]


def model_paths() -> list[Path]:
    """Return the example's DTDL model files, base interfaces first."""
    return [MODELS_DIR / f"{name}.json" for name in _MODEL_FILES]


def load_models() -> list[dict[str, Any]]:
    """Return the example's DTDL documents, in the order of :func:`model_paths`."""
    return [json.loads(path.read_text(encoding="utf-8")) for path in model_paths()]


def _width(count: int) -> int:
    return max(2, len(str(count)))


def _random_date(rng: random.Random, start: date, end: date) -> date:
    if end <= start:
        return start
    return start + timedelta(days=rng.randint(0, (end - start).days))


def _serial(rng: random.Random, prefix: str, year: int) -> str:
    return f"{prefix}-{year}-{rng.randint(0, 999_999):06d}"


def _relationship(source: str, name: str, target: str, **properties: Any) -> dict[str, Any]:
    return {
        "$relationshipId": f"{source}-{name}-{target}",
        "$sourceId": source,
        "$relationshipName": name,
        "$targetId": target,
        **properties,
    }


def _split(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def _site(rng: random.Random, site_id: str, index: int) -> tuple[dict[str, Any], str]:
    city, lat, lon, tz = _CITIES[index % len(_CITIES)]
    if index >= len(_CITIES):
        city = f"{city} {index // len(_CITIES) + 1}"
    twin = {
        "$dtId": site_id,
        "$metadata": {"$model": SITE_MODEL},
        "name": f"{city} Water Works",
        "location": {
            "latitude": round(lat + rng.uniform(-0.05, 0.05), 5),
            "longitude": round(lon + rng.uniform(-0.05, 0.05), 5),
        },
        "timezone": tz,
    }
    return twin, city


def _station(
    rng: random.Random, station_id: str, city: str, index: int
) -> tuple[dict[str, Any], date, str]:
    base = _STATION_NAMES[index % len(_STATION_NAMES)]
    suffix = f" {index // len(_STATION_NAMES) + 1}" if index >= len(_STATION_NAMES) else ""
    commissioned = _random_date(rng, date(1975, 1, 1), date(2018, 12, 31))
    mode = rng.choices(("auto", "manual", "off"), weights=(80, 15, 5))[0]
    twin = {
        "$dtId": station_id,
        "$metadata": {"$model": STATION_MODEL},
        "name": f"{city} {base}{suffix} Pumping Station",
        "commissionedOn": commissioned.isoformat(),
        "operatingMode": mode,
    }
    return twin, commissioned, mode


def _hydraulics(rng: random.Random) -> dict[str, float]:
    speed = rng.choice(_SPEEDS_RPM)
    flow = float(round(rng.uniform(50.0, 500.0) / 5.0) * 5)
    head = float(round(rng.uniform(40.0, 120.0) if speed > 2000 else rng.uniform(20.0, 70.0)))
    # Head coefficient psi = 2gH/u² of about 1.0-1.1 gives the impeller tip speed u.
    psi = rng.uniform(1.0, 1.1)
    tip_speed = math.sqrt(2.0 * _GRAVITY * head / psi)
    diameter_mm = float(round(60_000.0 * tip_speed / (math.pi * speed)))
    efficiency = 0.70 + 0.12 * math.log10(flow / 50.0) + rng.uniform(-0.02, 0.02)
    return {
        "ratedFlow": flow,
        "ratedHead": head,
        "ratedSpeed": speed,
        "impellerDiameter": diameter_mm,
        "efficiencyBestPoint": round(min(max(efficiency, 0.55), 0.9), 3),
    }


def _motor(rng: random.Random, hydraulics: dict[str, float], installed: date) -> dict[str, Any]:
    flow_m3s = hydraulics["ratedFlow"] / 3600.0
    shaft_kw = (_WATER_DENSITY * _GRAVITY * flow_m3s * hydraulics["ratedHead"]) / (
        1000.0 * hydraulics["efficiencyBestPoint"]
    )
    needed = shaft_kw * 1.15  # service margin
    power = next((size for size in _MOTOR_SIZES_KW if size >= needed), _MOTOR_SIZES_KW[-1])
    voltage = 690.0 if power >= 250.0 else 400.0
    motor_efficiency, power_factor = 0.95, 0.86
    current = power * 1000.0 / (math.sqrt(3.0) * voltage * motor_efficiency * power_factor)
    maker, prefix = rng.choice(_MOTOR_MAKERS)
    # A motor is occasionally a later replacement of the original.
    motor_installed = installed
    if rng.random() < 0.2:
        motor_installed = _random_date(rng, installed, REFERENCE_DATE)
    return {
        "$metadata": {},
        "manufacturer": maker,
        "serialNumber": _serial(rng, prefix, motor_installed.year),
        "installedOn": motor_installed.isoformat(),
        "tags": {"frame": f"IEC {_frame(power)}", "insulationClass": "F"},
        "ratedPower": power,
        "ratedVoltage": voltage,
        "ratedCurrent": round(current, 1),
    }


def _frame(power_kw: float) -> str:
    frames = ((4.0, "112M"), (11.0, "160M"), (30.0, "200L"), (75.0, "280S"), (160.0, "315M"))
    return next((frame for limit, frame in frames if power_kw <= limit), "355L")


def _pump(
    rng: random.Random,
    pump_id: str,
    commissioned: date,
    station_mode: str,
    role: str,
) -> dict[str, Any]:
    installed = _random_date(rng, commissioned, REFERENCE_DATE - timedelta(days=180))
    hydraulics = _hydraulics(rng)
    maker, prefix = rng.choice(_PUMP_MAKERS)
    # Pumps are serviced every one to three years.
    last_service = _random_date(
        rng, max(installed, REFERENCE_DATE - timedelta(days=3 * 365)), REFERENCE_DATE
    )
    duty_fraction = {"duty": 0.65, "assist": 0.35, "standby": 0.12}[role]
    hours = (last_service - installed).days * 24.0 * duty_fraction * rng.uniform(0.85, 1.15)
    if station_mode == "off":
        status = "stopped"
    else:
        normal = "running" if role != "standby" else "stopped"
        status = rng.choices((normal, "faulted", "maintenance"), weights=(92, 3, 5))[0]
    return {
        "$dtId": pump_id,
        "$metadata": {"$model": PUMP_MODEL},
        "manufacturer": maker,
        "serialNumber": _serial(rng, prefix, installed.year),
        "installedOn": installed.isoformat(),
        "tags": {
            "role": role,
            "criticality": rng.choices(("high", "medium", "low"), weights=(3, 5, 2))[0],
        },
        **hydraulics,
        "maintenance": {
            "lastServiceDate": last_service.isoformat(),
            "runningHoursAtService": round(hours, 1),
        },
        "status": status,
        "motor": _motor(rng, hydraulics, installed),
    }


def _sensor(rng: random.Random, sensor_id: str, installed: date) -> dict[str, Any]:
    earliest = max(installed, REFERENCE_DATE - timedelta(days=730))
    calibrated = _random_date(rng, earliest, REFERENCE_DATE)
    return {
        "$dtId": sensor_id,
        "$metadata": {"$model": SENSOR_MODEL},
        "kind": "vibration",
        "unit": "gForce",
        "calibratedOn": calibrated.isoformat(),
    }


def _role(index: int, count: int) -> str:
    if count > 1 and index == count - 1:
        return "standby"
    return "duty" if index == 0 else "assist"


def generate_fleet(
    stations: int, pumps_per_station: int, seed: int = 0, sites: int | None = None
) -> Fleet:
    """Generate a deterministic fleet of sites, stations, pumps and sensors for ``seed``."""
    if stations < 1:
        raise ValueError("stations must be at least 1")
    if pumps_per_station < 1:
        raise ValueError("pumps_per_station must be at least 1")
    if sites is None:
        sites = max(1, math.ceil(stations / STATIONS_PER_SITE))
    if sites < 1:
        raise ValueError("sites must be at least 1")

    rng = random.Random(seed)
    twins: list[dict[str, Any]] = []
    relationships: list[dict[str, Any]] = []
    per_site = _split(stations, sites)
    sw, stw, pw = _width(sites), _width(max(per_site)), _width(pumps_per_station)

    for s, station_count in enumerate(per_site, start=1):
        site_id = f"site-{s:0{sw}d}"
        site_twin, city = _site(rng, site_id, s - 1)
        twins.append(site_twin)
        for k in range(1, station_count + 1):
            station_key = f"{s:0{sw}d}-{k:0{stw}d}"
            station_id = f"station-{station_key}"
            station_twin, commissioned, mode = _station(rng, station_id, city, k - 1)
            twins.append(station_twin)
            relationships.append(_relationship(site_id, "contains", station_id))
            # Some multi-pump stations are boosters with their pumps in series.
            in_series = pumps_per_station > 1 and rng.random() < 0.2
            pump_ids: list[str] = []
            for p in range(1, pumps_per_station + 1):
                pump_key = f"{station_key}-{p:0{pw}d}"
                pump_id = f"pump-{pump_key}"
                pump = _pump(rng, pump_id, commissioned, mode, _role(p - 1, pumps_per_station))
                twins.append(pump)
                relationships.append(_relationship(station_id, "hasPump", pump_id))
                pump_ids.append(pump_id)
                installed = date.fromisoformat(pump["installedOn"])
                for suffix, mount in _SENSOR_MOUNTS:
                    sensor_id = f"sensor-{pump_key}-{suffix}"
                    twins.append(_sensor(rng, sensor_id, installed))
                    relationships.append(
                        _relationship(pump_id, "hasSensor", sensor_id, mountPoint=mount)
                    )
            if in_series:
                for upstream, downstream in pairwise(pump_ids):
                    relationships.append(_relationship(upstream, "feeds", downstream))
    return Fleet(twins=twins, relationships=relationships)


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Generate the twinops pump-fleet example as JSON "
        '({"twins": [...], "relationships": [...]}).'
    )
    parser.add_argument("--stations", type=int, required=True, help="number of pump stations")
    parser.add_argument(
        "--pumps-per-station", type=int, required=True, help="number of pumps in each station"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument(
        "--sites",
        type=int,
        default=None,
        help=f"number of sites (default: one per {STATIONS_PER_SITE} stations)",
    )
    parser.add_argument("--out", type=Path, default=None, help="output file (default: stdout)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command-line interface; return the exit status."""
    args = _parse_args(argv)
    try:
        fleet = generate_fleet(args.stations, args.pumps_per_station, args.seed, args.sites)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    text = fleet.to_json() + "\n"
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
