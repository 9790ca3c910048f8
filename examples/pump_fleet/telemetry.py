"""Generate realistic, deliberately imperfect telemetry for the pump-fleet example.

Every pump of a fleet (see ``fleet.py``) reports, once per step (default 1 s), its flow
rate, discharge and suction pressure, vibration, fluid temperature and speed, and its
``motor`` component reports current, voltage, power and winding temperature (sent as
``motor.current`` and so on). The values follow each pump's nameplate: a daily demand
cycle sets the speed, and flow, head and shaft power follow the affinity laws (flow ∝
speed, head ∝ speed², power ∝ speed³); the motor's current follows from the electrical
power, its winding heats with the load, sensors add noise, and some pumps have worn
bearings that raise vibration, losses and temperatures as the run goes on.

On top of that clean data the generator adds, on purpose and reproducibly (one seed),
the faults an ingest pipeline has to survive, and records each one as ground truth:

- gaps: one sensor stream silent for a while (the points are never sent);
- duplicates: a point re-sent with the same message id;
- id-less duplicates: a source that does not number its messages sends a point twice
  (same twin, name, time and value, no ``id`` on either copy);
- out-of-order points: the arrival order shuffled within a few seconds of one stream;
- late points: arriving minutes after their event time;
- mixed units: a gateway that, for part of the run, sends psi instead of kPa, US gallons
  per minute instead of m³/h and °F instead of °C (``unit`` set, value converted);
- invalid points the platform must quarantine: a twin that does not exist, an unknown
  field, a string where a number belongs, an unknown unit, an incompatible unit;
- and, not a fault but a variation the ingest contract allows: some pumps stamp their
  points with epoch seconds instead of RFC 3339 strings.

Points are dicts in the ingest format ``{"twin", "name", "value", "time", "unit"?, "id"?}``
listed in arrival order, ready to POST to ``/v1/telemetry`` as a JSON array or NDJSON.
A point without ``unit`` is in the canonical unit of its field (:data:`CANONICAL_UNITS`).

Usage::

    python examples/pump_fleet/telemetry.py --stations 1 --pumps-per-station 2 \\
        --minutes 10 --seed 1 [--ndjson] [--out FILE] [--truth FILE]

Only the standard library is used, so the file can be imported by path like ``fleet.py``.
"""

import argparse
import importlib.util
import json
import math
import random
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any, Literal, Self

HERE = Path(__file__).resolve().parent
PUMP_MODEL = "dtmi:twinops:example:Pump;1"

CANONICAL_UNITS: dict[str, str] = {
    "flowRate": "cubicMetrePerHour",
    "dischargePressure": "kilopascal",
    "suctionPressure": "kilopascal",
    "vibration": "gForce",
    "fluidTemperature": "degreeCelsius",
    "speed": "revolutionPerMinute",
    "motor.current": "ampere",
    "motor.voltage": "volt",
    "motor.power": "kilowatt",
    "motor.windingTemperature": "degreeCelsius",
}
"""Telemetry names a pump sends, with the canonical (DTDL) unit of each from the models."""

FIELDS: tuple[str, ...] = tuple(CANONICAL_UNITS)

DECIMALS: dict[str, int] = {
    "flowRate": 3,
    "dischargePressure": 2,
    "suctionPressure": 2,
    "vibration": 4,
    "fluidTemperature": 2,
    "speed": 1,
    "motor.current": 2,
    "motor.voltage": 1,
    "motor.power": 3,
    "motor.windingTemperature": 2,
}
"""Decimals of the clean canonical values (what a real transmitter would resolve)."""

# Exact conversion factors: 1 psi = 6.894757293168361 kPa (lbf/in²),
# 1 US gal/min = 3.785411784 L/min = 0.22712470704 m³/h.
PSI_IN_KPA = 6.894757293168361
GPM_IN_M3H = 0.22712470704

# Foreign units a misconfigured gateway sends: field -> (symbol, DTDL unit name).
# The symbols are ones pint parses ("gpm" is not in pint's default registry, "gal/min" is).
IMPERIAL_UNITS: dict[str, tuple[str, str]] = {
    "flowRate": ("gal/min", "gallonPerMinute"),
    "dischargePressure": ("psi", "poundPerSquareInch"),
    "suctionPressure": ("psi", "poundPerSquareInch"),
    "fluidTemperature": ("degF", "degreeFahrenheit"),
    "motor.windingTemperature": ("degF", "degreeFahrenheit"),
}

_UNIT_KIND: dict[str, str] = {
    "psi": "psi",
    "poundPerSquareInch": "psi",
    "gal/min": "gpm",
    "gpm": "gpm",
    "gallonPerMinute": "gpm",
    "degF": "degF",
    "°F": "degF",
    "degreeFahrenheit": "degF",
}

InvalidKind = Literal[
    "unknown_twin", "unknown_field", "non_numeric", "unknown_unit", "incompatible_unit"
]
INVALID_KINDS: tuple[InvalidKind, ...] = (
    "unknown_twin",
    "unknown_field",
    "non_numeric",
    "unknown_unit",
    "incompatible_unit",
)

DEFAULT_START = "2025-06-30T06:00:00Z"
"""Default start of the CLI's run (a fixed instant, so the output never depends on the clock)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_G = 9.80665  # m/s², also kPa per metre of water head (density 1000 kg/m³)
_SQRT3 = math.sqrt(3.0)


# ---------------------------------------------------------------------------------------
# Units and time helpers


def to_unit(value: float, unit: str) -> float:
    """Convert a canonical value (kPa, m³/h or °C) to the foreign ``unit`` (psi, gal/min, °F)."""
    kind = _UNIT_KIND.get(unit)
    if kind == "psi":
        return value / PSI_IN_KPA
    if kind == "gpm":
        return value / GPM_IN_M3H
    if kind == "degF":
        return value * 9.0 / 5.0 + 32.0
    raise ValueError(f"unsupported unit {unit!r}")


def to_canonical(value: float, unit: str | None) -> float:
    """Convert a value sent in ``unit`` back to its canonical unit (``None``: already canonical)."""
    if unit is None or unit in CANONICAL_UNITS.values():
        return value
    kind = _UNIT_KIND.get(unit)
    if kind == "psi":
        return value * PSI_IN_KPA
    if kind == "gpm":
        return value * GPM_IN_M3H
    if kind == "degF":
        return (value - 32.0) * 5.0 / 9.0
    raise ValueError(f"unsupported unit {unit!r}")


def to_micros(value: datetime | str | float) -> int:
    """Integer microseconds since the epoch of a datetime, RFC 3339 string or epoch seconds.

    A naive datetime (or a string without offset) is taken as UTC.
    """
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("z", "Z"))
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        delta = value - _EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return round(float(value) * 1_000_000)


def from_micros(us: int) -> datetime:
    """The UTC datetime of integer microseconds since the epoch."""
    return _EPOCH + timedelta(microseconds=us)


def rfc3339(value: datetime | int) -> str:
    """Format a datetime or epoch microseconds as RFC 3339 UTC (``Z``), microseconds if any."""
    dt = from_micros(value) if isinstance(value, int) else value.astimezone(UTC)
    if dt.microsecond:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def message_id(twin: str, name: str, time_us: int) -> str:
    """Message id of the point of ``twin``/``name`` at event time ``time_us``.

    Ids depend only on the stream and the event time, so regenerating a run gives the same
    ids (re-sending it is idempotent) while runs over different periods never collide.
    """
    return f"{twin}:{name}:{time_us}"


# ---------------------------------------------------------------------------------------
# Configuration and results


@dataclass(frozen=True)
class FaultConfig:
    """Which faults to inject, and how many. Counts are upper bounds: a run too short to hold
    them all gets fewer, and :meth:`Truth.counts` tells what was actually injected."""

    gaps: int = 2
    """Number of gaps, each silencing one stream (twin + field)."""
    gap_s: tuple[float, float] = (30.0, 120.0)
    """Range of a gap's length, in seconds."""
    duplicates: int = 10
    """Points re-sent with the same message id (1-30 s after the first copy)."""
    idless_duplicates: int = 4
    """Points sent twice without any message id (same twin, name, time and value)."""
    out_of_order_windows: int = 4
    """Windows of one stream whose arrival order is shuffled."""
    out_of_order_window: int = 5
    """Points in each shuffled window (consecutive in event time)."""
    late: int = 6
    """Points that arrive long after their event time."""
    late_delay_s: tuple[float, float] = (120.0, 600.0)
    """Range of the delay of a late point, in seconds."""
    mixed_unit_pumps: int = 1
    """Pumps whose gateway sends imperial units during part of the run."""
    mixed_unit_fields: tuple[str, ...] = tuple(IMPERIAL_UNITS)
    """Fields affected on those pumps (keys of :data:`IMPERIAL_UNITS`)."""
    unit_style: Literal["symbol", "dtdl"] = "symbol"
    """``symbol``: ``psi``, ``gal/min``, ``degF``; ``dtdl``: ``poundPerSquareInch``, ..."""
    invalid: int = 5
    """Invalid points to add (cycling through ``invalid_kinds``)."""
    invalid_kinds: tuple[InvalidKind, ...] = INVALID_KINDS
    epoch_time_pumps: int = 1
    """Pumps that stamp their points with epoch seconds instead of RFC 3339 strings."""

    @classmethod
    def none(cls) -> Self:
        """No faults at all: every point once, in order, canonical units, RFC 3339 times."""
        return cls(
            gaps=0,
            duplicates=0,
            idless_duplicates=0,
            out_of_order_windows=0,
            late=0,
            mixed_unit_pumps=0,
            invalid=0,
            epoch_time_pumps=0,
        )


@dataclass(frozen=True)
class Gap:
    """A stream left silent from ``start`` (inclusive) to ``end`` (exclusive)."""

    twin: str
    name: str
    start: datetime
    end: datetime
    missing: int


@dataclass(frozen=True)
class LatePoint:
    """A point that arrives ``delay_s`` after its event time."""

    id: str
    twin: str
    name: str
    time: datetime
    arrival: datetime

    @property
    def delay_s(self) -> float:
        return (self.arrival - self.time).total_seconds()


@dataclass(frozen=True)
class UnitMixedPoint:
    """A point sent in a foreign unit: ``value`` in ``unit`` is ``canonical`` in its model."""

    id: str | None
    twin: str
    name: str
    time: datetime
    unit: str
    value: float
    canonical: float


@dataclass(frozen=True)
class IdlessDuplicate:
    """A point sent twice without message id: the key (twin, name, time, value, unit) it had."""

    twin: str
    name: str
    time: datetime
    value: float
    unit: str | None


@dataclass(frozen=True)
class InvalidPoint:
    """A point the platform must quarantine, with the reason (one of :data:`INVALID_KINDS`)."""

    id: str
    reason: str
    detail: str
    point: dict[str, Any]


@dataclass(frozen=True)
class Wear:
    """Bearing wear of a worn pump (0 new, 1 failed) at the start and end of the run."""

    twin: str
    start: float
    end: float


@dataclass
class Truth:
    """Ground truth of a run: the clean series and every fault injected."""

    series: dict[tuple[str, str], list[tuple[datetime, float]]] = field(default_factory=dict)
    """Per (twin, name): the (event time, canonical value) the platform should end up with,
    in event-time order, one value per time (gaps leave holes; invalid points are absent)."""
    duplicate_ids: list[str] = field(default_factory=list)
    """Message ids sent twice (the second copy is the duplicate)."""
    idless_duplicates: list[IdlessDuplicate] = field(default_factory=list)
    out_of_order_ids: list[str] = field(default_factory=list)
    """Ids of the points of a shuffled window that arrive after a later point of their stream
    or before an earlier one."""
    late: list[LatePoint] = field(default_factory=list)
    unit_mixed: list[UnitMixedPoint] = field(default_factory=list)
    unit_mixed_windows: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)
    """Per affected pump: the [start, end) of event times sent in foreign units."""
    invalid: list[InvalidPoint] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    wear: dict[str, Wear] = field(default_factory=dict)
    """Pumps with worn bearings."""
    epoch_time_twins: list[str] = field(default_factory=list)
    running: dict[str, bool] = field(default_factory=dict)
    """Per pump: whether it runs (a stopped, faulted or in-maintenance pump reports idle)."""

    def counts(self) -> dict[str, int]:
        """How many of each fault were injected, and how many clean values there are."""
        return {
            "values": sum(len(s) for s in self.series.values()),
            "gaps": len(self.gaps),
            "gap_missing": sum(g.missing for g in self.gaps),
            "duplicates": len(self.duplicate_ids),
            "idless_duplicates": len(self.idless_duplicates),
            "out_of_order": len(self.out_of_order_ids),
            "late": len(self.late),
            "unit_mixed": len(self.unit_mixed),
            "invalid": len(self.invalid),
        }

    def to_dict(self) -> dict[str, Any]:
        """The truth as JSON-ready data (times as RFC 3339 strings)."""
        return {
            "counts": self.counts(),
            "series": [
                {
                    "twin": twin,
                    "name": name,
                    "unit": CANONICAL_UNITS[name],
                    "data": [[rfc3339(t), v] for t, v in values],
                }
                for (twin, name), values in self.series.items()
            ],
            "duplicate_ids": self.duplicate_ids,
            "idless_duplicates": [
                {
                    "twin": d.twin,
                    "name": d.name,
                    "time": rfc3339(d.time),
                    "value": d.value,
                    "unit": d.unit,
                }
                for d in self.idless_duplicates
            ],
            "out_of_order_ids": self.out_of_order_ids,
            "late": [
                {
                    "id": p.id,
                    "twin": p.twin,
                    "name": p.name,
                    "time": rfc3339(p.time),
                    "arrival": rfc3339(p.arrival),
                    "delay_s": p.delay_s,
                }
                for p in self.late
            ],
            "unit_mixed": [
                {
                    "id": p.id,
                    "twin": p.twin,
                    "name": p.name,
                    "time": rfc3339(p.time),
                    "unit": p.unit,
                    "value": p.value,
                    "canonical": p.canonical,
                }
                for p in self.unit_mixed
            ],
            "unit_mixed_windows": {
                twin: [rfc3339(a), rfc3339(b)] for twin, (a, b) in self.unit_mixed_windows.items()
            },
            "invalid": [
                {"id": p.id, "reason": p.reason, "detail": p.detail, "point": p.point}
                for p in self.invalid
            ],
            "gaps": [
                {
                    "twin": g.twin,
                    "name": g.name,
                    "start": rfc3339(g.start),
                    "end": rfc3339(g.end),
                    "missing": g.missing,
                }
                for g in self.gaps
            ],
            "wear": {w.twin: {"start": w.start, "end": w.end} for w in self.wear.values()},
            "epoch_time_twins": self.epoch_time_twins,
            "running": self.running,
        }


@dataclass
class TelemetryRun:
    """A generated run: ``points`` in arrival order (``arrivals`` parallel to them) and truth."""

    points: list[dict[str, Any]]
    arrivals: list[datetime]
    truth: Truth

    def to_json(self, indent: int | None = None) -> str:
        """The points as one JSON array (the body of a ``POST /v1/telemetry``)."""
        return json.dumps(self.points, indent=indent, ensure_ascii=False)

    def to_ndjson(self) -> str:
        """The points as NDJSON, one point per line."""
        return "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in self.points)


# ---------------------------------------------------------------------------------------
# Physics


@dataclass
class _Pump:
    twin: str
    running: bool
    rated_flow: float  # m³/h
    rated_head: float  # m
    rated_speed: float  # rpm
    efficiency: float  # hydraulic, at the best point
    motor_power: float  # kW
    motor_voltage: float  # V
    motor_current: float  # A
    suction_kpa: float
    fluid_c: float
    ambient_c: float
    vibration_g: float  # healthy RMS at rated speed
    phase_h: float  # demand-cycle shift, hours
    latency_s: float  # network latency of its gateway
    wear_start: float
    wear_per_s: float


def _pump_twins(pumps: Any) -> list[dict[str, Any]]:
    if hasattr(pumps, "twins"):
        twins: Iterable[Any] = pumps.twins
    elif isinstance(pumps, Mapping) and "twins" in pumps:
        twins = pumps["twins"]
    else:
        twins = pumps
    result = []
    for twin in twins:
        model = twin.get("$metadata", {}).get("$model")
        if model == PUMP_MODEL or (model is None and "ratedFlow" in twin):
            result.append(twin)
    return result


def _pump_spec(twin: dict[str, Any], seed: int, worn: bool) -> _Pump:
    rng = random.Random(f"{seed}:{twin['$dtId']}:spec")
    flow = float(twin.get("ratedFlow", 100.0))
    head = float(twin.get("ratedHead", 50.0))
    speed = float(twin.get("ratedSpeed", 1450.0))
    efficiency = float(twin.get("efficiencyBestPoint", 0.75))
    motor = twin.get("motor", {})
    shaft_kw = _G * (flow / 3600.0) * head / efficiency
    power = float(motor.get("ratedPower", math.ceil(shaft_kw * 1.15)))
    voltage = float(motor.get("ratedVoltage", 400.0))
    current = float(motor.get("ratedCurrent", power * 1000.0 / (_SQRT3 * voltage * 0.95 * 0.86)))
    if worn:
        wear_start = rng.uniform(0.3, 0.6)
        wear_per_s = rng.uniform(0.02, 0.08) / 86_400.0
    else:
        wear_start = rng.uniform(0.0, 0.1)
        wear_per_s = 0.0
    return _Pump(
        twin=twin["$dtId"],
        running=twin.get("status", "running") == "running",
        rated_flow=flow,
        rated_head=head,
        rated_speed=speed,
        efficiency=efficiency,
        motor_power=power,
        motor_voltage=voltage,
        motor_current=current,
        suction_kpa=rng.uniform(60.0, 250.0),
        fluid_c=rng.uniform(8.0, 20.0),
        ambient_c=rng.uniform(18.0, 26.0),
        vibration_g=rng.uniform(0.05, 0.2),
        phase_h=rng.uniform(-1.0, 1.0),
        latency_s=rng.uniform(0.05, 0.4),
        wear_start=wear_start,
        wear_per_s=wear_per_s,
    )


def demand(hour: float) -> float:
    """Daily water-demand factor at ``hour`` (0-24): 0.55 at night, 1.0 at 08:00 and 20:00."""
    return (
        0.85
        + 0.15 * math.cos(2.0 * math.pi * (hour - 14.0) / 24.0)
        + 0.15 * math.cos(4.0 * math.pi * (hour - 8.0) / 24.0)
    )


def _simulate(
    pump: _Pump, seed: int, start_us: int, step_us: int, steps: int
) -> list[dict[str, float]]:
    """Clean canonical readings of one pump at each step (noise included, faults not)."""
    rng = random.Random(f"{seed}:{pump.twin}:physics")
    step_s = step_us / 1e6
    phi = math.exp(-step_s / 300.0)  # demand fluctuation, 5-minute correlation
    fluct = rng.gauss(0.0, 0.03)
    alpha = 1.0 - math.exp(-step_s / 900.0)  # winding thermal time constant 15 min
    hydraulic_kw = _G * (pump.rated_flow / 3600.0) * pump.rated_head / pump.efficiency
    winding: float | None = None
    rows: list[dict[str, float]] = []
    for k in range(steps):
        t_us = start_us + k * step_us
        elapsed = k * step_s
        hour = ((t_us / 3.6e9) + pump.phase_h) % 24.0
        wear = min(1.0, pump.wear_start + pump.wear_per_s * elapsed)
        fluct = fluct * phi + rng.gauss(0.0, 0.03 * math.sqrt(1.0 - phi * phi))
        ambient = pump.ambient_c + 3.0 * math.sin(2.0 * math.pi * (hour - 9.0) / 24.0)
        fluid = pump.fluid_c + 0.6 * math.sin(2.0 * math.pi * (hour - 10.0) / 24.0) + 0.4 * wear
        voltage = pump.motor_voltage * (1.0 + 0.01 * math.sin(2.0 * math.pi * hour / 24.0))
        if pump.running:
            s = min(1.05, max(0.4, 0.35 + 0.65 * (demand(hour) + fluct)))
            flow = pump.rated_flow * s
            head = pump.rated_head * s * s
            suction = pump.suction_kpa - 0.1 * pump.suction_kpa * s * s
            discharge = suction + _G * head
            # Bearing friction adds up to 4 % to the shaft power of a failing pump.
            shaft = hydraulic_kw * s**3 * (1.0 + 0.04 * wear)
            electrical = shaft / 0.94
            current = electrical * 1000.0 / (_SQRT3 * voltage * 0.86)
            vibration = pump.vibration_g * (0.3 + 0.7 * s * s) * (1.0 + 4.0 * wear * wear)
            speed = pump.rated_speed * s
            load = current / pump.motor_current
            target = ambient + 75.0 * load * load + 12.0 * wear
        else:
            flow = head = shaft = electrical = current = speed = 0.0
            suction = pump.suction_kpa
            discharge = suction
            vibration = 0.004  # background from neighbouring machines
            target = ambient
        winding = target if winding is None else winding + alpha * (target - winding)
        raw = {
            "flowRate": flow * (1.0 + rng.gauss(0.0, 0.01)),
            "dischargePressure": discharge + rng.gauss(0.0, 0.003 * discharge + 0.2),
            "suctionPressure": suction + rng.gauss(0.0, 0.003 * suction + 0.2),
            "vibration": vibration * (1.0 + rng.gauss(0.0, 0.06)),
            "fluidTemperature": fluid + rng.gauss(0.0, 0.05),
            "speed": speed + rng.gauss(0.0, 1.0) if speed else 0.0,
            "motor.current": current * (1.0 + rng.gauss(0.0, 0.01)),
            "motor.voltage": voltage * (1.0 + rng.gauss(0.0, 0.003)),
            "motor.power": electrical * (1.0 + rng.gauss(0.0, 0.01)),
            "motor.windingTemperature": winding + rng.gauss(0.0, 0.1),
        }
        rows.append(
            {
                name: round(
                    max(value, 0.0) if name != "fluidTemperature" else value, DECIMALS[name]
                )
                for name, value in raw.items()
            }
        )
    return rows


# ---------------------------------------------------------------------------------------
# Messages and faults


@dataclass
class _Msg:
    seq: int
    twin: str
    name: str
    t_us: int
    value: Any
    arrival_us: int
    id: str | None
    unit: str | None = None
    canonical: float | None = None  # None for invalid points
    epoch_time: bool = False
    time_text: str | None = None  # overrides the formatted time (invalid points)

    def point(self) -> dict[str, Any]:
        time: Any
        if self.time_text is not None:
            time = self.time_text
        elif self.epoch_time:
            time = self.t_us // 1_000_000 if self.t_us % 1_000_000 == 0 else self.t_us / 1e6
        else:
            time = rfc3339(self.t_us)
        point: dict[str, Any] = {
            "twin": self.twin,
            "name": self.name,
            "value": self.value,
            "time": time,
        }
        if self.unit is not None:
            point["unit"] = self.unit
        if self.id is not None:
            point["id"] = self.id
        return point


def _copy(msg: _Msg, seq: int, arrival_us: int) -> _Msg:
    return _Msg(
        seq=seq,
        twin=msg.twin,
        name=msg.name,
        t_us=msg.t_us,
        value=msg.value,
        arrival_us=arrival_us,
        id=msg.id,
        unit=msg.unit,
        canonical=msg.canonical,
        epoch_time=msg.epoch_time,
    )


def generate(
    pumps: Any,
    start: datetime | str | float,
    duration_s: float,
    step_s: float = 1.0,
    seed: int = 0,
    faults: FaultConfig | None = None,
    *,
    worn_pumps: int | None = None,
) -> TelemetryRun:
    """Generate the telemetry of ``pumps`` from ``start`` for ``duration_s`` seconds.

    ``pumps`` is a fleet from ``fleet.generate_fleet`` (or its ``to_dict()``), or a list of
    twin bodies; only Pump twins are used. ``start`` is a datetime (naive means UTC), an
    RFC 3339 string or epoch seconds. ``faults`` defaults to ``FaultConfig()``; pass
    ``FaultConfig.none()`` for clean data. ``worn_pumps`` is how many pumps have worn
    bearings (default: a quarter of them, at least one; running pumps first). The same
    arguments always give the same run; the clean values do not depend on ``faults``.
    """
    faults = FaultConfig() if faults is None else faults
    if step_s <= 0:
        raise ValueError("step_s must be positive")
    if duration_s < 0:
        raise ValueError("duration_s must not be negative")
    twins = _pump_twins(pumps)
    start_us = to_micros(start)
    step_us = round(step_s * 1_000_000)
    steps = math.floor(duration_s * 1_000_000 / step_us + 1e-9)

    pick = random.Random(f"{seed}:fleet")
    if worn_pumps is None:
        worn_pumps = max(1, len(twins) // 4) if twins else 0
    # Wear shows only on running pumps, so they are picked first.
    running = [t for t in twins if t.get("status", "running") == "running"]
    idle = [t for t in twins if t.get("status", "running") != "running"]
    chosen = pick.sample(running, min(worn_pumps, len(running)))
    chosen += pick.sample(idle, min(worn_pumps - len(chosen), len(idle)))
    worn_ids = {t["$dtId"] for t in chosen}
    specs = [_pump_spec(t, seed, t["$dtId"] in worn_ids) for t in twins]

    truth = Truth()
    for spec in specs:
        truth.running[spec.twin] = spec.running
        if spec.twin in worn_ids:
            end = min(1.0, spec.wear_start + spec.wear_per_s * steps * step_s)
            truth.wear[spec.twin] = Wear(spec.twin, spec.wear_start, end)

    rng = random.Random(f"{seed}:faults")
    epoch_pumps = {s.twin for s in rng.sample(specs, min(faults.epoch_time_pumps, len(specs)))}
    truth.epoch_time_twins = [s.twin for s in specs if s.twin in epoch_pumps]

    # Clean messages, stream by stream; arrival = event time + the gateway's latency + jitter.
    streams: dict[tuple[str, str], list[_Msg]] = {}
    seq = 0
    for p_index, spec in enumerate(specs):
        rows = _simulate(spec, seed, start_us, step_us, steps)
        jitter = random.Random(f"{seed}:{spec.twin}:network")
        for name in FIELDS:
            streams[(spec.twin, name)] = []
        for k, row in enumerate(rows):
            t_us = start_us + k * step_us
            arrival = t_us + round((spec.latency_s + jitter.uniform(0.0, 0.25)) * step_us)
            for f_index, name in enumerate(FIELDS):
                # seq orders simultaneous arrivals: time step, then pump, then field.
                seq = (k * len(specs) + p_index) * len(FIELDS) + f_index
                streams[(spec.twin, name)].append(
                    _Msg(
                        seq=seq,
                        twin=spec.twin,
                        name=name,
                        t_us=t_us,
                        value=row[name],
                        arrival_us=arrival,
                        id=message_id(spec.twin, name, t_us),
                        canonical=row[name],
                        epoch_time=spec.twin in epoch_pumps,
                    )
                )
    next_seq = steps * len(specs) * len(FIELDS)
    keys = list(streams)

    # Gaps: a stream silent for a while (at most one gap per stream).
    if keys and steps > 2:
        for key in rng.sample(keys, min(faults.gaps, len(keys))):
            length_s = rng.uniform(*faults.gap_s)
            missing = max(1, min(steps - 2, round(length_s / step_s)))
            first = rng.randint(1, steps - 1 - missing)
            msgs = streams[key]
            streams[key] = msgs[:first] + msgs[first + missing :]
            truth.gaps.append(
                Gap(
                    twin=key[0],
                    name=key[1],
                    start=from_micros(msgs[first].t_us),
                    end=from_micros(msgs[first].t_us + missing * step_us),
                    missing=missing,
                )
            )

    # Mixed units: a gateway sends imperial units during a window of the run.
    style = 0 if faults.unit_style == "symbol" else 1
    end_us = start_us + steps * step_us
    for spec in rng.sample(specs, min(faults.mixed_unit_pumps, len(specs))):
        a = start_us + round(rng.uniform(0.1, 0.4) * steps) * step_us
        b = start_us + round(rng.uniform(0.6, 0.9) * steps) * step_us
        truth.unit_mixed_windows[spec.twin] = (from_micros(a), from_micros(b))
        for name in faults.mixed_unit_fields:
            unit = IMPERIAL_UNITS[name][style]
            for msg in streams[(spec.twin, name)]:
                if a <= msg.t_us < b:
                    msg.unit = unit
                    msg.value = round(to_unit(msg.value, unit), 6)

    messages = [msg for key in keys for msg in streams[key]]
    used: set[int] = set()  # seq of messages already given a fault of the arrival kind

    # Out-of-order: permute the arrival times of a few consecutive points of one stream.
    width = max(2, faults.out_of_order_window)
    candidates = [key for key in keys if len(streams[key]) >= width]
    for _ in range(faults.out_of_order_windows):
        if not candidates:
            break
        for _attempt in range(20):
            msgs = streams[rng.choice(candidates)]
            first = rng.randint(0, len(msgs) - width)
            window = msgs[first : first + width]
            if not any(m.seq in used for m in window):
                break
        else:
            break
        arrivals = [m.arrival_us for m in window]
        order = list(range(width))
        while order == sorted(order):
            rng.shuffle(order)
        for m, j in zip(window, order, strict=True):
            used.add(m.seq)
            m.arrival_us = arrivals[j]
        # Out of order: arriving after a later point of the stream, or before an earlier one.
        for i, m in enumerate(window):
            if any(o.arrival_us > m.arrival_us for o in window[:i]) or any(
                o.arrival_us < m.arrival_us for o in window[i + 1 :]
            ):
                truth.out_of_order_ids.append(m.id or "")

    def free(n: int, prefer: list[_Msg] | None = None) -> list[_Msg]:
        pool = [m for m in (prefer or messages) if m.seq not in used]
        if len(pool) < n and prefer is not None:
            pool = [m for m in messages if m.seq not in used]
        chosen = rng.sample(pool, min(n, len(pool)))
        used.update(m.seq for m in chosen)
        return chosen

    # Late points: prefer ones early enough for later points of their stream to overtake them.
    min_delay_us = round(faults.late_delay_s[0] * 1_000_000)
    early = [m for m in messages if m.t_us + min_delay_us < end_us]
    for msg in sorted(free(faults.late, early), key=lambda m: m.seq):
        msg.arrival_us = msg.t_us + round(rng.uniform(*faults.late_delay_s) * 1_000_000)
        truth.late.append(
            LatePoint(
                msg.id or "", msg.twin, msg.name, from_micros(msg.t_us), from_micros(msg.arrival_us)
            )
        )

    extra: list[_Msg] = []
    # Duplicates: re-sent with the same id after an acknowledgement timeout.
    for msg in sorted(free(faults.duplicates), key=lambda m: m.seq):
        delay = round(rng.uniform(1.0, 30.0) * 1_000_000)
        extra.append(_copy(msg, next_seq, msg.arrival_us + delay))
        next_seq += 1
        truth.duplicate_ids.append(msg.id or "")
    # Id-less duplicates: neither copy has an id.
    for msg in sorted(free(faults.idless_duplicates), key=lambda m: m.seq):
        msg.id = None
        delay = round(rng.uniform(0.5, 10.0) * 1_000_000)
        extra.append(_copy(msg, next_seq, msg.arrival_us + delay))
        next_seq += 1
        truth.idless_duplicates.append(
            IdlessDuplicate(msg.twin, msg.name, from_micros(msg.t_us), msg.value, msg.unit)
        )

    for msg in messages:
        if msg.unit is not None:
            truth.unit_mixed.append(
                UnitMixedPoint(
                    msg.id,
                    msg.twin,
                    msg.name,
                    from_micros(msg.t_us),
                    msg.unit,
                    msg.value,
                    msg.canonical if msg.canonical is not None else math.nan,
                )
            )

    # Invalid points, half a step between two valid ones so they never collide with them.
    if specs and steps:
        slots = rng.sample(range(len(specs) * steps), min(faults.invalid, len(specs) * steps))
        for n, slot in enumerate(slots):
            spec = specs[slot % len(specs)]
            k = slot // len(specs)
            kind = faults.invalid_kinds[n % len(faults.invalid_kinds)]
            extra.append(
                _invalid(kind, spec, start_us + k * step_us + step_us // 2, next_seq, rng, truth)
            )
            next_seq += 1

    for key in keys:
        truth.series[key] = [
            (from_micros(m.t_us), m.canonical) for m in streams[key] if m.canonical is not None
        ]

    ordered = sorted(messages + extra, key=lambda m: (m.arrival_us, m.seq))
    return TelemetryRun(
        points=[m.point() for m in ordered],
        arrivals=[from_micros(m.arrival_us) for m in ordered],
        truth=truth,
    )


def _invalid(
    kind: InvalidKind, spec: _Pump, t_us: int, seq: int, rng: random.Random, truth: Truth
) -> _Msg:
    twin, name = spec.twin, rng.choice(FIELDS)
    value: Any = round(rng.uniform(1.0, 100.0), 2)
    unit: str | None = None
    if kind == "unknown_twin":
        twin = f"pump-unknown-{len(truth.invalid) + 1:03d}"
        detail = f"twin {twin!r} does not exist"
    elif kind == "unknown_field":
        name = rng.choice(("bearingTemperature", "flowrate", "motor.torque", "motor.speed"))
        detail = f"the Pump model has no telemetry {name!r}"
    elif kind == "non_numeric":
        value = rng.choice(("n/a", "ERR", "12,5", "---"))
        detail = f"{name} is a double, got the string {value!r}"
    elif kind == "unknown_unit":
        name = rng.choice(("dischargePressure", "suctionPressure"))
        unit = "barg"
        detail = f"unit {unit!r} is not a known unit"
    elif kind == "incompatible_unit":
        name, unit = "vibration", "mm/s"
        detail = "vibration is an acceleration (gForce); mm/s is a velocity"
    else:  # pragma: no cover - guarded by the type
        raise ValueError(f"unknown invalid kind {kind!r}")
    msg = _Msg(
        seq=seq,
        twin=twin,
        name=name,
        t_us=t_us,
        value=value,
        arrival_us=t_us + round(spec.latency_s * 1_000_000),
        id=message_id(twin, name, t_us),
        unit=unit,
    )
    truth.invalid.append(InvalidPoint(msg.id or "", kind, detail, msg.point()))
    return msg


# ---------------------------------------------------------------------------------------
# Command line


def _fleet_module() -> ModuleType:
    name = "twinops_example_pump_fleet"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, HERE / "fleet.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Generate pump-fleet telemetry (with deliberate faults) as a JSON array "
        "or NDJSON of ingest points, in arrival order."
    )
    parser.add_argument("--stations", type=int, default=1, help="pump stations (default: 1)")
    parser.add_argument(
        "--pumps-per-station", type=int, default=2, help="pumps in each station (default: 2)"
    )
    parser.add_argument("--sites", type=int, default=None, help="sites (default: fleet.py's)")
    parser.add_argument(
        "--fleet", type=Path, default=None, help="read the fleet JSON instead of generating it"
    )
    parser.add_argument("--minutes", type=float, default=10.0, help="duration (default: 10)")
    parser.add_argument("--step", type=float, default=1.0, help="seconds per step (default: 1)")
    parser.add_argument(
        "--start", default=DEFAULT_START, help=f"RFC 3339 start (default: {DEFAULT_START})"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of fleet and faults")
    parser.add_argument("--no-faults", action="store_true", help="clean data only")
    parser.add_argument("--ndjson", action="store_true", help="one point per line")
    parser.add_argument("--out", type=Path, default=None, help="output file (default: stdout)")
    parser.add_argument("--truth", type=Path, default=None, help="also write the truth JSON")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command-line interface; return the exit status."""
    args = _parse_args(argv)
    try:
        if args.fleet is not None:
            fleet: Any = json.loads(args.fleet.read_text(encoding="utf-8"))
        else:
            fleet = _fleet_module().generate_fleet(
                args.stations, args.pumps_per_station, args.seed, args.sites
            )
        run = generate(
            fleet,
            args.start,
            args.minutes * 60.0,
            step_s=args.step,
            seed=args.seed,
            faults=FaultConfig.none() if args.no_faults else FaultConfig(),
        )
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    text = run.to_ndjson() if args.ndjson else run.to_json() + "\n"
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text, encoding="utf-8")
    if args.truth is not None:
        args.truth.write_text(json.dumps(run.truth.to_dict(), indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
