"""validate_value against DTDL schemas: unit behaviours and the corpus' instance cases."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from twinops.models.dtdl import (
    ArraySchema,
    DtdlSource,
    EnumSchema,
    EnumValue,
    Field,
    MapSchema,
    ObjectSchema,
    PrimitiveSchema,
    Schema,
    parse_documents,
    validate_value,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = Path(os.environ.get("TWINOPS_DATA_DIR", REPO_ROOT.parent / "shared" / "data"))
GENERATED = DATA_DIR / "dtdl" / "conformance" / "generated"
SPEED = ObjectSchema(
    (Field("speed", PrimitiveSchema("double")), Field("mode", PrimitiveSchema("string")))
)


def test_integer_out_of_range_is_a_range_violation() -> None:
    [violation] = validate_value(PrimitiveSchema("integer"), 2**31, "/count")
    assert (violation.field, violation.rule) == ("/count", "range")


def test_boolean_is_not_an_integer() -> None:
    [violation] = validate_value(PrimitiveSchema("long"), True, "/n")
    assert violation.rule == "type"
    assert "long" in violation.message


def test_date_time_needs_iso_8601_with_zone() -> None:
    assert validate_value(PrimitiveSchema("dateTime"), "2024-05-01T10:00:00Z", "/t") == []
    [violation] = validate_value(PrimitiveSchema("dateTime"), "2024-05-01 10:00", "/t")
    assert violation.rule == "format"


def test_duration_and_time_formats() -> None:
    assert validate_value(PrimitiveSchema("duration"), "PT15M", "/d") == []
    assert validate_value(PrimitiveSchema("duration"), "P", "/d")[0].rule == "format"
    assert validate_value(PrimitiveSchema("time"), "10:15:00", "/t") == []


def test_enum_value_must_be_listed() -> None:
    schema = EnumSchema(PrimitiveSchema("string"), (EnumValue("on", "on"), EnumValue("off", "off")))
    assert validate_value(schema, "on", "/state") == []
    assert validate_value(schema, "dim", "/state")[0].rule == "enum"


def test_object_rejects_unknown_fields_and_checks_known_ones() -> None:
    found = validate_value(SPEED, {"speed": "fast", "colour": "red"}, "/config")
    assert {(v.field, v.rule) for v in found} == {
        ("/config/speed", "type"),
        ("/config/colour", "unknownField"),
    }


def test_object_allows_missing_fields() -> None:
    assert validate_value(SPEED, {"mode": "eco"}, "/config") == []


def test_map_and_array_check_every_value() -> None:
    schema = MapSchema(
        "sensor", PrimitiveSchema("string"), "reading", ArraySchema(PrimitiveSchema("float"))
    )
    found = validate_value(schema, {"a": [1.0, 2], "b/c": [1, "x"]}, "")
    assert [(v.field, v.rule) for v in found] == [("/b~1c/1", "type")]


def _instance_cases() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    if not GENERATED.is_dir():
        return []
    cases = []
    for path in sorted(GENERATED.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8-sig"))
        for instance in data.get("instances", []):
            cases.append((path.name, data, instance))
    return cases


def _subject_schema(data: dict[str, Any], subject: str) -> Schema | None:
    if subject.startswith("dtmi:dtdl:instance:Schema:"):
        return PrimitiveSchema(subject.split(":")[-1].split(";")[0])
    result = parse_documents([DtdlSource("case", obj=doc) for doc in data["input"]])
    assert result.ok, result.problems
    for interface in result.interfaces.values():
        if subject in interface.schemas:
            return interface.schemas[subject]
    return None


def test_corpus_instances_conform_as_expected() -> None:
    cases = _instance_cases()
    assert cases, "no conformance corpus instances found; set TWINOPS_DATA_DIR"
    checked = wrong = 0
    misses = []
    for name, data, instance in cases:
        schema = _subject_schema(data, instance["subject"])
        if schema is None:
            continue
        checked += 1
        try:
            value = json.loads(instance["submit"])
        except ValueError:
            conforms = False
        else:
            conforms = not validate_value(schema, value, "")
        if conforms != instance["conforms"]:
            wrong += 1
            misses.append(
                f"{name}: {instance['submit']!r} expected conforms={instance['conforms']}"
            )
    assert checked > 100
    assert wrong <= checked * 0.02, "\n".join(misses)
