"""DTDL language extensions: IoT Central, overriding, annotation, MQTT, requirement, limits."""

from __future__ import annotations

from typing import Any

import pytest

from twinops.models.dtdl import (
    DtdlSource,
    EnumSchema,
    ObjectSchema,
    ParseResult,
    Property,
    Telemetry,
    parse_documents,
    validate_value,
)

CENTRAL = ["dtmi:dtdl:context;2", "dtmi:iotcentral:context;2"]
OVERRIDING = [
    "dtmi:dtdl:context;3",
    "dtmi:dtdl:extension:quantitativeTypes;1",
    "dtmi:dtdl:extension:annotation;2",
    "dtmi:dtdl:extension:overriding;2",
]


def parse(*docs: dict[str, Any], **options: Any) -> ParseResult:
    sources = [DtdlSource(f"doc{i}", obj=doc) for i, doc in enumerate(docs)]
    return parse_documents(sources, **options)


def model(context: Any, *contents: dict[str, Any], dtmi: str = "dtmi:test:M;1") -> dict[str, Any]:
    return {"@context": context, "@id": dtmi, "@type": "Interface", "contents": list(contents)}


def rules(result: ParseResult) -> list[str]:
    return [p.rule for p in result.problems]


# --- IoT Central -----------------------------------------------------------------------------


def test_iotcentral_vector_telemetry_is_valid_and_builds_an_xyz_object() -> None:
    tele = {
        "@type": ["Telemetry", "AccelerationVector"],
        "name": "accel",
        "schema": "vector",
        "unit": "metrePerSecondSquared",
    }
    result = parse(model(CENTRAL, tele))
    assert result.ok, result.problems
    built = result.interfaces["dtmi:test:M;1"].contents["accel"]
    assert isinstance(built, Telemetry)
    assert isinstance(built.schema, ObjectSchema)
    assert [f.name for f in built.schema.fields] == ["x", "y", "z"]
    assert validate_value(built.schema, {"x": 1.0, "y": 2, "z": 0.5}, "/accel") == []
    assert validate_value(built.schema, {"x": "fast"}, "/accel")


def test_iotcentral_geopoint_property_and_context_after_dtdl_context() -> None:
    geo = {"@type": "Property", "name": "where", "schema": "geopoint"}
    doc = model(list(reversed(CENTRAL)), geo)
    result = parse(doc)
    assert result.ok, result.problems
    built = result.interfaces["dtmi:test:M;1"].contents["where"]
    assert isinstance(built, Property) and isinstance(built.schema, ObjectSchema)
    assert {f.name for f in built.schema.fields} == {"lat", "lon", "alt"}


@pytest.mark.parametrize(
    ("cotype", "schema", "rule"),
    [
        ("AccelerationVector", "double", "notRequiredValue"),
        ("VelocityVector", "integer", "notRequiredValue"),
        ("Location", "integer", "notRequiredValue"),
        ("Event", "boolean", "notRequiredType"),
        ("State", "integer", "notRequiredType"),
    ],
)
def test_iotcentral_cotypes_restrict_the_schema(cotype: str, schema: str, rule: str) -> None:
    tele = {"@type": ["Telemetry", cotype], "name": "t", "schema": schema}
    assert rules(parse(model(CENTRAL, tele))) == [rule]


@pytest.mark.parametrize(
    ("cotype", "schema"),
    [("Location", "lineString"), ("Location", "geopoint"), ("Event", "string")],
)
def test_iotcentral_cotypes_accept_their_schemas(cotype: str, schema: str) -> None:
    tele = {"@type": ["Telemetry", cotype], "name": "t", "schema": schema}
    assert parse(model(CENTRAL, tele)).ok


def test_iotcentral_state_takes_an_enum() -> None:
    enum = {
        "@type": "Enum",
        "valueSchema": "integer",
        "enumValues": [{"name": "safe", "enumValue": 1}],
    }
    state = {"@type": ["Property", "State"], "name": "s", "schema": enum}
    assert parse(model(CENTRAL, state)).ok


def test_iotcentral_vector_unit_must_have_the_right_unit_type() -> None:
    tele = {
        "@type": ["Telemetry", "VelocityVector"],
        "name": "v",
        "schema": "vector",
        "unit": "kelvin",
    }
    assert rules(parse(model(CENTRAL, tele))) == ["notRequiredType"]


def test_iotcentral_cotype_cannot_cotype_a_command_payload() -> None:
    command = {
        "@type": "Command",
        "name": "set",
        "request": {"@type": ["CommandPayload", "VelocityVector"], "name": "v", "schema": "vector"},
    }
    assert rules(parse(model(CENTRAL, command))) == ["invalidCotype"]


def test_iotcentral_is_not_usable_in_dtdl_v3() -> None:
    context = ["dtmi:dtdl:context;3", "dtmi:iotcentral:context;2"]
    tele = {"@type": ["Telemetry", "Event"], "name": "t", "schema": "string"}
    assert rules(parse(model(context, tele))) == ["invalidContextSpecifierForVersion"]


def test_reference_into_a_reserved_namespace_is_an_undefined_reserved_id() -> None:
    doc = model(CENTRAL)
    doc["contents"] = ["dtmi:iotcentral:aProperty;1"]
    assert rules(parse(doc)) == ["undefinedReservedId"]


# --- overriding -----------------------------------------------------------------------------

TEMP = {
    "@type": ["Property", "Temperature"],
    "name": "targetTemp",
    "schema": "double",
    "unit": "degreeFahrenheit",
    "writable": True,
}


def override(schema: str = "TemperatureUnit", overrides: str = "unit") -> dict[str, Any]:
    return {
        "@type": ["Property", "ValueAnnotation", "Override"],
        "name": "targetTempUnit",
        "annotates": "targetTemp",
        "overrides": overrides,
        "schema": schema,
        "writable": True,
    }


def test_override_of_a_unit_is_valid_and_its_schema_is_the_unit_enum() -> None:
    result = parse(model(OVERRIDING, TEMP, override()))
    assert result.ok, result.problems
    built = result.interfaces["dtmi:test:M;1"].contents["targetTempUnit"]
    assert isinstance(built, Property) and isinstance(built.schema, EnumSchema)
    assert {v.name for v in built.schema.values} == {"degreeCelsius", "degreeFahrenheit", "kelvin"}


def test_override_accepts_a_unit_type_alias() -> None:
    rate = {
        "@type": ["Property", "EnergyRate"],
        "name": "targetTemp",
        "schema": "double",
        "unit": "britishThermalUnitPerHour",
    }
    assert parse(model(OVERRIDING, rate, override("EnergyRateUnit"))).ok
    assert parse(model(OVERRIDING, rate, override("PowerUnit"))).ok


@pytest.mark.parametrize(
    ("overriding", "rule"),
    [
        (override("VelocityUnit"), "siblingPropertyMismatch"),
        (override("string", overrides="schema"), "matchingPropertyNotSupplemental"),
        (
            {**override(), "@type": ["Property", "Override"]},
            "missingCocotype",
        ),
        ({**override(), "@type": ["Telemetry", "ValueAnnotation", "Override"]}, "invalidCotype"),
    ],
)
def test_override_rules(overriding: dict[str, Any], rule: str) -> None:
    assert rule in rules(parse(model(OVERRIDING, TEMP, overriding)))


def test_override_of_an_element_without_unit_and_double_override() -> None:
    plain = {"@type": "Property", "name": "targetTemp", "schema": "double"}
    assert rules(parse(model(OVERRIDING, plain, override()))) == ["noMatchingSupplementalProperty"]
    twice = model(OVERRIDING, TEMP, override(), {**override(), "name": "again"})
    assert rules(parse(twice)) == ["multipleReference"]


def test_override_through_extends_is_checked_in_the_extending_interface() -> None:
    base = model(OVERRIDING, override("VelocityUnit"), dtmi="dtmi:test:Base;1")
    child = model(OVERRIDING, TEMP, dtmi="dtmi:test:Child;1")
    child["extends"] = "dtmi:test:Base;1"
    assert rules(parse(base, child)) == ["siblingPropertyMismatch"]


# --- annotation;1, requirement;1, historization;1, mqtt ------------------------------------------


def test_annotation_v1_and_historization_v1() -> None:
    context = [
        "dtmi:dtdl:context;3",
        "dtmi:dtdl:extension:annotation;1",
        "dtmi:dtdl:extension:historization;1",
    ]
    temp = {"@type": ["Telemetry", "Historized"], "name": "temp", "schema": "double"}
    note = {
        "@type": ["Property", "ValueAnnotation"],
        "name": "note",
        "annotates": "temp",
        "schema": "string",
    }
    assert parse(model(context, temp, note)).ok


def test_requirement_marks_fields_only() -> None:
    context = ["dtmi:dtdl:context;3", "dtmi:dtdl:extension:requirement;1"]
    obj = {
        "@type": "Object",
        "fields": [{"@type": ["Field", "Required"], "name": "x", "schema": "double"}],
    }
    assert parse(model(context, {"@type": "Property", "name": "p", "schema": obj})).ok
    wrong = {"@type": ["Property", "Required"], "name": "p", "schema": "double"}
    assert rules(parse(model(context, wrong))) == ["invalidCotype"]


def mqtt(version: int, *contents: dict[str, Any]) -> dict[str, Any]:
    doc = model(["dtmi:dtdl:context;3", f"dtmi:dtdl:extension:mqtt;{version}"], *contents)
    doc["@type"] = ["Interface", "Mqtt"]
    doc["payloadFormat"] = "Json/ecma/404"
    doc["commandTopic"] = "rpc/{executorId}/{commandName}"
    return doc


def command(response_schema: Any, request: Any = None) -> dict[str, Any]:
    cmd: dict[str, Any] = {
        "@type": "Command",
        "name": "run",
        "response": {"name": "out", "schema": response_schema},
    }
    if request is not None:
        cmd["request"] = request
    return cmd


def test_mqtt_v1_and_v2_are_implemented() -> None:
    tele = {"@type": ["Telemetry", "Indexed"], "name": "t", "schema": "double", "index": 1}
    assert parse(mqtt(1, tele)).ok
    assert parse(mqtt(2, tele)).ok


def test_mqtt_transparent_needs_an_object_schema() -> None:
    obj = {"@type": "Object", "fields": [{"name": "text", "schema": "string"}]}
    good = {"@type": ["CommandRequest", "Transparent"], "name": "in", "schema": obj}
    bad = {"@type": ["CommandRequest", "Transparent"], "name": "in", "schema": "string"}
    assert parse(mqtt(2, command("string", good))).ok
    assert rules(parse(mqtt(2, command("string", bad)))) == ["notRequiredType"]
    assert rules(parse(mqtt(1, command("string", good)))) == ["typeUndefinedTerm"]


def result_object(*fields: dict[str, Any]) -> dict[str, Any]:
    return {"@type": ["Object", "Result"], "fields": list(fields)}


NORMAL = {"@type": ["Field", "NormalResult"], "name": "value", "schema": "integer"}
ERROR = {
    "@type": ["Field", "ErrorResult"],
    "name": "error",
    "schema": {
        "@type": ["Object", "Error"],
        "fields": [{"@type": ["Field", "ErrorMessage"], "name": "message", "schema": "string"}],
    },
}


def test_mqtt_v3_result_objects() -> None:
    assert parse(mqtt(3, command(result_object(NORMAL, ERROR)))).ok
    plain = {"name": "other", "schema": "string"}
    assert rules(parse(mqtt(3, command(result_object(NORMAL, plain))))) == ["missingCocotype"]
    twice = result_object(NORMAL, {**NORMAL, "name": "again"})
    assert rules(parse(mqtt(3, command(twice)))) == ["nonUniqueCotype"]
    stray = {"@type": "Object", "fields": [NORMAL]}
    assert rules(parse(mqtt(3, command(stray)))) == ["invalidCotype"]


# --- limits and quirks ----------------------------------------------------------------------


def test_nested_element_ids_are_limited_to_2048_characters_in_v3() -> None:
    long_id = "dtmi:" + ":".join(["segment"] * 300) + ";1"
    assert len(long_id) > 2048
    tele = {"@id": long_id, "@type": "Telemetry", "name": "t", "schema": "double"}
    assert rules(parse(model("dtmi:dtdl:context;3", tele))) == ["idTooLong"]


def test_v2_objects_have_at_most_30_fields() -> None:
    fields = [{"name": f"f{i}", "schema": "double"} for i in range(31)]

    def prop(count: int) -> dict[str, Any]:
        schema = {"@type": "Object", "fields": fields[:count]}
        return {"@type": "Property", "name": "p", "schema": schema}

    assert rules(parse(model("dtmi:dtdl:context;2", prop(31)))) == ["objectCountAboveMax"]
    assert parse(model("dtmi:dtdl:context;2", prop(30))).ok


def test_tolerating_solecisms_accepts_a_reserved_prefix_on_nested_ids_only() -> None:
    tele = {"@id": "dtmi:dtdl:aTelemetry;1", "@type": "Telemetry", "name": "t", "schema": "double"}
    doc = model("dtmi:dtdl:context;2", tele)
    assert rules(parse(doc)) == ["reservedId"]
    assert parse(doc, tolerate_solecisms=True).ok
    top = model("dtmi:dtdl:context;2", dtmi="dtmi:standard:anInterface;1")
    assert rules(parse(top, tolerate_solecisms=True)) == ["reservedId"]
