"""Checks JSON values (twin properties, telemetry) against DTDL schemas."""

from __future__ import annotations

import math
import re
from datetime import date, datetime, time
from typing import Any

from twinops.errors import Violation
from twinops.models.dtdl.elements import (
    ArraySchema,
    EnumSchema,
    MapSchema,
    ObjectSchema,
    PrimitiveSchema,
    Schema,
)
from twinops.models.dtdl.walker import pointer_join

# Bounds of the limited numeric schemas (ingest's fast checks use the same ones).
INTEGER_RANGES = {"integer": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
FLOAT_MAX = 3.4028235e38
_DURATION = re.compile(
    r"^P(?!$)(?:(?P<Y>\d+(?:[.,]\d+)?)Y)?(?:(?P<MO>\d+(?:[.,]\d+)?)M)?(?:(?P<W>\d+(?:[.,]\d+)?)W)?"
    r"(?:(?P<D>\d+(?:[.,]\d+)?)D)?(?:T(?=\d)(?:(?P<H>\d+(?:[.,]\d+)?)H)?"
    r"(?:(?P<MI>\d+(?:[.,]\d+)?)M)?(?:(?P<S>\d+(?:[.,]\d+)?)S)?)?$"
)


def _duration_ok(value: str) -> bool:
    # Weeks do not mix with years or months; only the smallest unit given may be fractional.
    match = _DURATION.match(value)
    if match is None:
        return False
    parts = [match[name] for name in ("Y", "MO", "W", "D", "H", "MI", "S") if match[name]]
    if match["W"] and (match["Y"] or match["MO"]):
        return False
    return not any(("." in p or "," in p) for p in parts[:-1])


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})?$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def _format_ok(name: str, value: str) -> bool:
    try:
        if name == "date":
            return bool(_DATE.match(value)) and date.fromisoformat(value) is not None
        if name == "time":
            return (
                bool(_TIME.match(value))
                and time.fromisoformat(value.replace("Z", "+00:00")) is not None
            )
        if name == "dateTime":
            text = value.replace("Z", "+00:00").replace("z", "+00:00")
            return bool(_DATETIME.match(value)) and datetime.fromisoformat(text) is not None
    except ValueError:
        return False
    return _duration_ok(value)


def _wrong_type(path: str, name: str, value: Any) -> Violation:
    return Violation(path, "type", f"expected {name}, got {value!r}", value)


def _primitive(schema: PrimitiveSchema, value: Any, path: str) -> list[Violation]:
    name = schema.name
    if name in ("double", "float"):  # the common case first: telemetry is mostly numbers
        if not _is_number(value):
            return [_wrong_type(path, name, value)]
        if name == "float" and abs(value) > FLOAT_MAX:
            return [Violation(path, "range", f"{value} is outside the float range", value)]
        return []
    if name == "boolean":
        return [] if isinstance(value, bool) else [_wrong_type(path, name, value)]
    if name in INTEGER_RANGES:
        if not _is_int(value):
            return [_wrong_type(path, name, value)]
        low, high = INTEGER_RANGES[name]
        if not low <= value <= high:
            return [Violation(path, "range", f"{value} is outside the {name} range", value)]
        return []
    if name == "string":
        return [] if isinstance(value, str) else [_wrong_type(path, name, value)]
    if name in ("date", "time", "dateTime", "duration"):
        if not isinstance(value, str):
            return [_wrong_type(path, name, value)]
        if not _format_ok(name, value):
            return [Violation(path, "format", f"{value!r} is not an ISO 8601 {name}", value)]
        return []
    # Geospatial schemas are GeoJSON objects; only their outer shape is checked here.
    if not isinstance(value, dict) or not isinstance(value.get("coordinates"), list):
        return [Violation(path, "type", f"expected a GeoJSON {name}, got {value!r}", value)]
    return []


def validate_value(schema: Schema, value: Any, path: str) -> list[Violation]:
    """Check a JSON value against a DTDL schema; each violation names ``path`` and a rule."""
    if isinstance(schema, PrimitiveSchema):
        return _primitive(schema, value, path)
    if isinstance(schema, EnumSchema):
        allowed = [v.value for v in schema.values]
        kind_ok = (
            _is_int(value) if schema.value_schema.name == "integer" else isinstance(value, str)
        )
        if not kind_ok:
            return [
                Violation(
                    path,
                    "type",
                    f"expected {schema.value_schema.name} enum value, got {value!r}",
                    value,
                )
            ]
        if value not in allowed:
            return [Violation(path, "enum", f"{value!r} is not one of {allowed}", value)]
        return []
    if isinstance(schema, ObjectSchema):
        if not isinstance(value, dict):
            return [Violation(path, "type", f"expected an object, got {value!r}", value)]
        fields = {f.name: f for f in schema.fields}
        found: list[Violation] = []
        for key, item in value.items():
            field = fields.get(key)
            if field is None:
                found.append(
                    Violation(pointer_join(path, key), "unknownField", f"unknown field '{key}'")
                )
                continue
            found.extend(validate_value(field.schema, item, pointer_join(path, key)))
        return found
    if isinstance(schema, MapSchema):
        if not isinstance(value, dict):
            return [Violation(path, "type", f"expected a map object, got {value!r}", value)]
        found = []
        for key, item in value.items():
            found.extend(validate_value(schema.value_schema, item, pointer_join(path, key)))
        return found
    if isinstance(schema, ArraySchema):
        if not isinstance(value, list):
            return [Violation(path, "type", f"expected an array, got {value!r}", value)]
        found = []
        for index, item in enumerate(value):
            found.extend(validate_value(schema.element_schema, item, pointer_join(path, index)))
        return found
    return [Violation(path, "type", f"unsupported schema {schema!r}")]
