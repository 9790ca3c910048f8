"""Replay real pump data from SKAB (Skoltech Anomaly Benchmark) onto a pump twin.

SKAB is a water-circulation pump test rig logged at 1 Hz (``../shared/data/skab`` from the
repository root, or ``$TWINOPS_DATA_DIR/skab``; GPL-3.0, not copied into this repository).
Each CSV is ``;``-separated with a ``datetime`` column ``YYYY-MM-DD HH:MM:SS`` that carries
no time zone. **The times are read as UTC.** (The rig is in Moscow, so they are probably
local time, UTC+3, but nothing in the files says so; shift them with ``time_shift`` to
put a replay wherever you want it.)

Column mapping onto the Pump model (``models/Pump.json`` and its ``motor`` component):

- ``Accelerometer1RMS`` (g) -> ``vibration``, no unit (g is the canonical gForce);
- ``Accelerometer2RMS`` (g) -> only with ``sensor_twins`` (see below);
- ``Current`` (A) -> ``motor.current``, no unit (canonical);
- ``Pressure`` (bar) -> ``dischargePressure`` with unit ``bar`` (the platform converts to kPa);
- ``Temperature`` (°C, the motor *body*) -> ``motor.windingTemperature``, no unit;
- ``Thermocouple`` (°C, the fluid) -> ``fluidTemperature``, no unit;
- ``Voltage`` (V) -> ``motor.voltage``, no unit;
- ``Volume Flow RateRMS`` (l/min) -> ``flowRate`` with unit ``l/min`` (converted to m³/h).

A point without ``unit`` is in the canonical unit of its field, so only pressure and flow
declare one. The pump has one ``vibration`` telemetry but the rig has two accelerometers:
Accelerometer1RMS is the pump's ``vibration``; when ``sensor_twins=(de, nde)`` is given, the
two accelerometers are also replayed as the ``reading`` of the pump's drive-end and
non-drive-end vibration sensor twins (whose ``unit`` property is gForce). SKAB does not
document where each accelerometer is mounted; the pairing is a convention.

Quirks, passed through unchanged (deciding about them is the platform's job): negative
pressures (a sensor offset, about one row in six), gaps of over a minute inside some files
(``valve1/2.csv``, ``valve1/7.csv``, ``valve2/1.csv``), a quantized flow column, and CRLF
line ends. Within each file the times strictly increase.

Usage::

    python examples/pump_fleet/skab.py valve1/0.csv --twin pump-01-01-01 \\
        [--start 2025-06-30T06:00:00Z] [--sensors DE NDE] [--ndjson] [--out FILE]

Only the standard library is used, so the file can be imported by path like ``fleet.py``.
"""

import argparse
import csv
import json
import os
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
LABEL_COLUMNS = ("anomaly", "changepoint")

COLUMNS: dict[str, tuple[str, str | None]] = {
    "Accelerometer1RMS": ("vibration", None),
    "Current": ("motor.current", None),
    "Pressure": ("dischargePressure", "bar"),
    "Temperature": ("motor.windingTemperature", None),
    "Thermocouple": ("fluidTemperature", None),
    "Voltage": ("motor.voltage", None),
    "Volume Flow RateRMS": ("flowRate", "l/min"),
}
"""SKAB column -> (pump telemetry name, unit to declare or None when already canonical)."""

SENSOR_COLUMNS = ("Accelerometer1RMS", "Accelerometer2RMS")
"""Columns replayed as ``reading`` of the (drive-end, non-drive-end) sensor twins."""

SKAB_UNITS: dict[str, str] = {
    "Accelerometer1RMS": "g",
    "Accelerometer2RMS": "g",
    "Current": "A",
    "Pressure": "bar",
    "Temperature": "°C",
    "Thermocouple": "°C",
    "Voltage": "V",
    "Volume Flow RateRMS": "l/min",
}
"""The unit of each SKAB measurement column, as documented by the benchmark."""


def data_dir() -> Path:
    """The shared real-data folder: ``$TWINOPS_DATA_DIR`` or ``../shared/data`` from the repo."""
    env = os.environ.get("TWINOPS_DATA_DIR")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


def skab_dir() -> Path:
    """The SKAB folder inside :func:`data_dir`."""
    return data_dir() / "skab"


def _natural(path: Path) -> tuple[str, int, str]:
    match = re.fullmatch(r"\d+", path.stem)
    return (path.parent.name, int(path.stem) if match else -1, path.stem)


def skab_files() -> list[Path]:
    """Every SKAB CSV, by folder and then by experiment number (``valve1/2`` before ``10``)."""
    return sorted(skab_dir().glob("*/*.csv"), key=_natural)


def resolve(path: str | Path) -> Path:
    """``path`` itself when it exists, else the same path inside :func:`skab_dir`."""
    candidate = Path(path)
    if candidate.exists() or candidate.is_absolute():
        return candidate
    return skab_dir() / candidate


def parse_time(text: str) -> datetime:
    """Parse a SKAB ``datetime`` (no zone) as UTC."""
    return datetime.strptime(text.strip(), TIME_FORMAT).replace(tzinfo=UTC)


def read_skab(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a SKAB CSV: ``datetime`` as an aware UTC datetime, measurements as floats and
    the labels (``anomaly``, ``changepoint``), when the file has them, as 0/1 ints."""
    rows: list[dict[str, Any]] = []
    with resolve(path).open(encoding="utf-8", newline="") as handle:
        for line, raw in enumerate(csv.DictReader(handle, delimiter=";"), start=2):
            row: dict[str, Any] = {}
            try:
                for key, text in raw.items():
                    if key is None or text is None:
                        raise ValueError("wrong number of fields")
                    name = key.strip()
                    if name == "datetime":
                        row[name] = parse_time(text)
                    elif name in LABEL_COLUMNS:
                        row[name] = int(float(text))
                    else:
                        row[name] = float(text)
            except ValueError as exc:
                raise ValueError(f"{path}: line {line}: {exc}") from exc
            rows.append(row)
    return rows


def labels(path: str | Path) -> list[tuple[datetime, int, int]]:
    """``(time, anomaly, changepoint)`` per row; empty for a file without labels."""
    rows = read_skab(path)
    if not rows or any(col not in rows[0] for col in LABEL_COLUMNS):
        return []
    return [(r["datetime"], r["anomaly"], r["changepoint"]) for r in rows]


def _rfc3339(dt: datetime) -> str:
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if dt.microsecond else "%Y-%m-%dT%H:%M:%SZ")


def message_id(path: str | Path, row: int, name: str, twin: str, shift: timedelta) -> str:
    """Deterministic id ``skab-<folder>-<stem>-<row>-<name>@<twin>[<±shift>s]``.

    The folder is part of it because stems repeat (``valve1/0`` and ``valve2/0``); the twin
    and the time shift are, so that replaying one file on several twins or periods never
    produces colliding ids, while replaying it the same way twice is idempotent.
    """
    p = Path(path)
    base = f"skab-{p.parent.name}-{p.stem}-{row}-{name}@{twin}"
    shift_us = (shift.days * 86_400 + shift.seconds) * 1_000_000 + shift.microseconds
    if not shift_us:
        return base
    if shift_us % 1_000_000 == 0:
        return f"{base}{shift_us // 1_000_000:+d}s"
    return f"{base}{shift_us:+d}us"


def skab_points(
    path: str | Path,
    twin_id: str,
    *,
    time_shift: timedelta | datetime | None = None,
    sensor_twins: tuple[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Ingest points replaying one SKAB file onto pump ``twin_id``, row by row.

    ``time_shift`` moves every time by a timedelta, or, given a datetime, so that the file's
    first row lands on it (naive means UTC). ``sensor_twins`` adds the two accelerometers as
    ``reading`` of the given drive-end and non-drive-end sensor twins.
    """
    resolved = resolve(path)
    rows = read_skab(resolved)
    if isinstance(time_shift, datetime):
        target = time_shift if time_shift.tzinfo else time_shift.replace(tzinfo=UTC)
        shift = target - rows[0]["datetime"] if rows else timedelta(0)
    else:
        shift = time_shift or timedelta(0)
    points: list[dict[str, Any]] = []
    for index, row in enumerate(rows):
        time = _rfc3339(row["datetime"] + shift)
        targets: list[tuple[str, str, str | None, float]] = [
            (twin_id, name, unit, row[column])
            for column, (name, unit) in COLUMNS.items()
            if column in row
        ]
        if sensor_twins is not None:
            targets += [
                (sensor, "reading", None, row[column])
                for sensor, column in zip(sensor_twins, SENSOR_COLUMNS, strict=True)
                if column in row
            ]
        for twin, name, unit, value in targets:
            point: dict[str, Any] = {"twin": twin, "name": name, "value": value, "time": time}
            if unit is not None:
                point["unit"] = unit
            point["id"] = message_id(resolved, index, name, twin, shift)
            points.append(point)
    return points


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Replay a SKAB CSV onto a pump twin as ingest points (JSON array or NDJSON)."
    )
    parser.add_argument("file", help="SKAB CSV, a path or relative to the SKAB folder")
    parser.add_argument("--twin", required=True, help="pump twin id")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--start", default=None, help="RFC 3339 time of the file's first row")
    group.add_argument("--shift", type=float, default=None, help="seconds added to every time")
    parser.add_argument(
        "--sensors", nargs=2, metavar=("DE", "NDE"), default=None, help="sensor twin ids"
    )
    parser.add_argument("--ndjson", action="store_true", help="one point per line")
    parser.add_argument("--out", type=Path, default=None, help="output file (default: stdout)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command-line interface; return the exit status."""
    args = _parse_args(argv)
    shift: timedelta | datetime | None = None
    try:
        if args.start is not None:
            shift = datetime.fromisoformat(args.start)
        elif args.shift is not None:
            shift = timedelta(seconds=args.shift)
        sensors = (args.sensors[0], args.sensors[1]) if args.sensors else None
        points = skab_points(args.file, args.twin, time_shift=shift, sensor_twins=sensors)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.ndjson:
        text = "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in points)
    else:
        text = json.dumps(points, ensure_ascii=False) + "\n"
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
