"""How the columns of a telemetry file become ingest points: the replay mapping and row parser.

A mapping (JSON or TOML) names the time column and how to read it, whose twin each row is
(one fixed twin, a column of twin ids, or a column of a source system's external ids), and
for each value column the point name (``component.field`` allowed) and the unit the file
uses. For example, on a semicolon-separated file with naive local times::

    {
      "delimiter": ";",
      "time": {"column": "datetime", "format": "iso", "timezone": "Europe/Moscow"},
      "id": {"column": "tag", "system": "scada"},
      "values": [
        {"column": "Pressure", "name": "dischargePressure", "unit": "bar"},
        {"column": "Current", "name": "motor.current"}
      ]
    }

Decisions worth knowing:

* Time formats: ``iso`` (RFC 3339 / ISO 8601 text; naive times are in ``timezone``, UTC
  unless configured), or ``epoch_s`` / ``epoch_ms`` / ``epoch_us`` (numbers or their text).
  Native timestamp columns (Parquet) are read as they are, naive ones in ``timezone``.
  ``shift`` (seconds) moves every time.
* A cell in the ``missing`` spellings (empty, NaN, NA...) or a float NaN is skipped and
  counted, never sent. An infinite number is sent as its text, so the pipeline quarantines it
  (JSON cannot carry it).
* Text cells are read as JSON-like scalars (``type: auto``: integers, numbers, true/false,
  else the text); ``type: string`` keeps the text, ``type: json`` parses JSON (objects).
* A row whose time cannot be read still becomes points: their ``time`` carries the raw cell,
  so the pipeline quarantines them with its reason instead of the row vanishing.
* Every point has a deterministic message id from the file (its name and content digest),
  the row number, the column, the point name and the target twin (and the shift, when there is
  one): replaying a file twice yields duplicates, never double history.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from twinops.errors import InvalidInput, Violation
from twinops.timeutil import format_rfc3339, parse_time, to_micros

TimeFormat = Literal["iso", "epoch_s", "epoch_ms", "epoch_us"]
ValueType = Literal["auto", "string", "json"]

_EPOCH_SCALE = {"epoch_s": 1_000_000, "epoch_ms": 1_000, "epoch_us": 1}
_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")
_INTEGER = re.compile(r"^[+-]?\d{1,18}$")
_MAX_MESSAGE_ID = 256
# Past any representable time in every epoch unit; refusing early avoids huge integers.
_EPOCH_LIMIT = Decimal(10) ** 20


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def time_zone(name: str) -> tzinfo:
    """A zone by IANA name (``Europe/Moscow``), ``UTC``/``Z``, or a fixed offset (``+03:00``)."""
    if name.upper() in ("UTC", "Z"):
        return UTC
    offset = _OFFSET.match(name)
    if offset:
        sign = -1 if offset.group(1) == "-" else 1
        minutes = int(offset.group(2)) * 60 + int(offset.group(3))
        if minutes >= 24 * 60:
            raise ValueError(f"offset {name} is not below 24 hours")
        return timezone(sign * timedelta(minutes=minutes))
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


class TimeColumn(_Frozen):
    """The column holding each row's event time, and how to read it."""

    column: str = Field(min_length=1)
    format: TimeFormat = "iso"
    timezone: str = Field(default="UTC", description="zone of naive times")
    shift: float = Field(default=0.0, description="seconds added to every time")

    @model_validator(mode="after")
    def _zone_and_shift(self) -> Self:
        time_zone(self.timezone)
        if not math.isfinite(self.shift) or abs(self.shift) > 1e11:
            raise ValueError("shift is a finite number of seconds")
        return self


class IdColumn(_Frozen):
    """A column naming each row's twin: twin ids, or ids of the source ``system``."""

    column: str = Field(min_length=1)
    system: str | None = Field(default=None, min_length=1)


class ValueColumn(_Frozen):
    """A column whose cells become points of one field (``name``), in ``unit`` if given."""

    column: str = Field(min_length=1)
    name: str = Field(min_length=1, max_length=512)
    unit: str | None = Field(default=None, min_length=1)
    twin: str | None = Field(default=None, min_length=1, description="a fixed twin for it")
    type: ValueType = "auto"


DEFAULT_MISSING = ("", "nan", "NaN", "NAN", "NA", "N/A", "null", "NULL")


class ReplayMapping(_Frozen):
    """How the columns of a telemetry file map onto twins and their fields."""

    time: TimeColumn
    twin: str | None = Field(default=None, min_length=1, description="the twin of every row")
    id: IdColumn | None = None
    values: tuple[ValueColumn, ...] = Field(min_length=1)
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    missing: tuple[str, ...] = DEFAULT_MISSING

    @model_validator(mode="after")
    def _one_identity(self) -> Self:
        if self.twin is not None and self.id is not None:
            raise ValueError("give either 'twin' (a fixed twin) or 'id' (a column), not both")
        return self

    def with_twin(self, twin_id: str) -> ReplayMapping:
        """The same mapping with every row going to ``twin_id`` (instead of an id column)."""
        return self.model_copy(update={"twin": twin_id, "id": None})

    def columns(self) -> list[str]:
        """The file columns this mapping reads, each once, time first."""
        names = [self.time.column]
        if self.id is not None:
            names.append(self.id.column)
        names += [v.column for v in self.values]
        return list(dict.fromkeys(names))


def parse_mapping(document: Any) -> ReplayMapping:
    """A mapping from its JSON value; violations name the field (``mapping.time.format``)."""
    try:
        return ReplayMapping.model_validate(document)
    except ValidationError as exc:
        violations = [
            Violation(
                ".".join(["mapping", *(str(p) for p in error["loc"])]),
                str(error["type"]),
                str(error["msg"]),
            )
            for error in exc.errors()
        ]
        raise InvalidInput.of(violations) from exc


def load_mapping(path: Path) -> ReplayMapping:
    """Read a mapping file: TOML when it ends in ``.toml``, JSON otherwise."""
    text = path.read_text(encoding="utf-8-sig")
    try:
        document = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        kind = "toml" if path.suffix.lower() == ".toml" else "json"
        raise InvalidInput.single(
            "mapping", kind, f"{path.name} is not valid {kind}: {exc}"
        ) from exc
    return parse_mapping(document)


@dataclass(frozen=True)
class TimeReader:
    """Reads one time cell as epoch microseconds (UTC), shift included."""

    format: TimeFormat
    zone: tzinfo
    shift_us: int

    @classmethod
    def of(cls, spec: TimeColumn) -> TimeReader:
        """The reader of a mapping's time column."""
        return cls(spec.format, time_zone(spec.timezone), round(spec.shift * 1_000_000))

    def micros(self, cell: object) -> int | None:
        """The cell's time, or None when it cannot be read as this format says."""
        try:
            base = self._base(cell)
        except (ValueError, OverflowError, InvalidOperation):
            return None
        if base is None:
            return None
        micros = base + self.shift_us
        try:
            format_rfc3339(micros)  # the pipeline takes RFC 3339: years 1 to 9999
        except (ValueError, OverflowError, OSError):
            return None
        return micros

    def _base(self, cell: object) -> int | None:
        if isinstance(cell, datetime):
            return to_micros(cell if cell.tzinfo else cell.replace(tzinfo=self.zone))
        if isinstance(cell, date):
            return to_micros(datetime.combine(cell, time(), tzinfo=self.zone))
        if isinstance(cell, bool) or cell is None:
            return None
        if isinstance(cell, str):
            text = cell.strip()
            if self.format == "iso":
                parsed = datetime.fromisoformat(text)
                return to_micros(parsed if parsed.tzinfo else parsed.replace(tzinfo=self.zone))
            number = Decimal(text)
        elif isinstance(cell, int | float | Decimal) and self.format != "iso":
            number = Decimal(cell)
        else:
            return None
        if not number.is_finite() or abs(number) > _EPOCH_LIMIT:
            return None
        return int((number * _EPOCH_SCALE[self.format]).to_integral_value())


def convert_value(cell: object, kind: ValueType, missing: frozenset[str]) -> tuple[bool, Any]:
    """``(present, value)`` of one value cell: missing cells are ``(False, None)``."""
    if cell is None:
        return False, None
    if isinstance(cell, bytes):
        cell = cell.decode("utf-8", errors="replace")
    if isinstance(cell, float) and math.isnan(cell):
        return False, None
    if isinstance(cell, str):
        if cell in missing or cell.strip() in missing:
            return False, None
        if kind == "string":
            return True, cell
        if kind == "json":
            try:
                return True, jsonable(json.loads(cell))
            except ValueError:
                return True, cell
        return True, _scalar(cell.strip())
    if kind == "string" and not isinstance(cell, Mapping | list | tuple):
        return True, str(cell)
    return True, jsonable(cell)


def jsonable(value: Any) -> Any:
    """A value JSON can carry: times as text, NaN and infinities as text, anything else odd
    as its text, so the pipeline judges it instead of the encoder failing on it."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return format_rfc3339(to_micros(aware))
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return jsonable(float(value))
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _scalar(text: str) -> Any:
    """Text as a JSON-like scalar: integer, finite number, boolean, or the text itself."""
    if _INTEGER.match(text):
        return int(text)
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        number = float(text)
    except ValueError:
        return text
    return number if math.isfinite(number) else text


@dataclass(frozen=True)
class ParsedRow:
    """The points of one row, the value column of each, and the cells skipped as missing."""

    points: tuple[dict[str, Any], ...]
    columns: tuple[str, ...]
    missing: int
    time: int | None


class RowParser:
    """Turns the cells of one row into raw ingest points, as a mapping says."""

    def __init__(self, mapping: ReplayMapping, file_key: str) -> None:
        self.mapping = mapping
        self.file_key = file_key
        self._time = TimeReader.of(mapping.time)
        self._missing = frozenset(mapping.missing)
        self._shift = f"{self._time.shift_us:+d}us" if self._time.shift_us else ""

    def parse(self, row: int, cells: Mapping[str, object]) -> ParsedRow:
        """The points of row number ``row`` (1-based) from its cells by column name."""
        raw_time = cells.get(self.mapping.time.column)
        if isinstance(raw_time, bytes):
            raw_time = raw_time.decode("utf-8", errors="replace")
        micros = self._time.micros(raw_time)
        when: Any = format_rfc3339(micros) if micros is not None else _unreadable(raw_time)
        row_target = self._row_target(cells)
        points: list[dict[str, Any]] = []
        columns: list[str] = []
        missing = 0
        for spec in self.mapping.values:
            present, value = convert_value(cells.get(spec.column), spec.type, self._missing)
            if not present:
                missing += 1
                continue
            target: dict[str, Any] = {"twin": spec.twin} if spec.twin else row_target
            point = {**target, "name": spec.name, "value": value, "time": when}
            if spec.unit is not None:
                point["unit"] = spec.unit
            point["id"] = self.message_id(row, spec.column, spec.name, target)
            points.append(point)
            columns.append(spec.column)
        if micros is None and not points and self.mapping.values:
            # A bad row is quarantined even when all its values are missing: never dropped.
            spec = self.mapping.values[0]
            target = {"twin": spec.twin} if spec.twin else row_target
            points.append({**target, "name": spec.name, "value": None, "time": when})
            columns.append(spec.column)
            missing -= 1
        return ParsedRow(tuple(points), tuple(columns), missing, micros)

    def message_id(self, row: int, column: str, name: str, target: Mapping[str, Any]) -> str:
        """``file:<name>#<digest>:<row>:<column>><field>@<twin>[<shift>]``, hashed past 256."""
        if "twin" in target:
            who = str(target["twin"])
        else:
            external = target.get("externalId") or {}
            who = f"{external.get('system')}/{external.get('id')}"
        text = f"file:{self.file_key}:{row}:{column}>{name}@{who}{self._shift}"
        if len(text) <= _MAX_MESSAGE_ID:
            return text
        return "file:sha256:" + hashlib.sha256(text.encode()).hexdigest()

    def _row_target(self, cells: Mapping[str, object]) -> dict[str, Any]:
        mapping = self.mapping
        if mapping.twin is not None:
            return {"twin": mapping.twin}
        if mapping.id is None:
            # Validated before a replay starts; here every point names no twin and is refused.
            return {"twin": None}
        cell = cells.get(mapping.id.column)
        if isinstance(cell, bytes):
            cell = cell.decode("utf-8", errors="replace")
        key = None if cell is None else str(cell).strip()
        if mapping.id.system is None:
            return {"twin": key}
        return {"externalId": {"system": mapping.id.system, "id": key}}


def _unreadable(raw: object) -> Any:
    """What a point carries as ``time`` when its cell cannot be read: a value the pipeline
    refuses, naming the raw cell (the raw cell itself, unless the pipeline would take it)."""
    if raw is None or isinstance(raw, str):
        try:
            parse_time(raw)
        except InvalidInput:
            return raw
    # Numbers go as text too: JSON cannot carry NaN, and an epoch number would be accepted.
    return f"unreadable time: {raw!s}"
