"""The DTDL v2/v3 metamodel as data: element classes, their members, cardinalities and limits."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from functools import cache
from types import MappingProxyType

from twinops.models.dtdl.units import UNIT_PREFIXES, semantic_units, unit_types

SUPPORTED_VERSIONS = (2, 3)
DTDL_CONTEXT_PREFIX = "dtmi:dtdl:context;"
QUANTITATIVE_TYPES_V3 = "dtmi:dtdl:extension:quantitativeTypes;1"
NAME_PATTERN = re.compile(r"^[A-Za-z](?:[A-Za-z0-9_]*[A-Za-z0-9])?$")
LANGUAGE_CODE = re.compile(r"^[a-z]{2,4}(-[A-Z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?$")

PRIMITIVE_SCHEMAS = (
    "boolean",
    "date",
    "dateTime",
    "double",
    "duration",
    "float",
    "integer",
    "long",
    "string",
    "time",
)
GEOSPATIAL_SCHEMAS = (
    "lineString",
    "multiLineString",
    "multiPoint",
    "multiPolygon",
    "point",
    "polygon",
)
NUMERIC_SCHEMAS = frozenset({"double", "float", "integer", "long"})
COMPLEX_SCHEMAS = ("Array", "Enum", "Map", "Object")
CONTENT_CLASSES = ("Command", "Component", "Property", "Relationship", "Telemetry")
# Classes whose elements carry a semantic type and a unit.
SEMANTIC_CLASSES = {
    2: frozenset({"Property", "Telemetry"}),
    3: frozenset(
        {"CommandRequest", "CommandResponse", "Field", "MapValue", "Property", "Telemetry"}
    ),
}


class Kind(Enum):
    """What a member's value is."""

    ELEMENT = "element"
    LANGSTRING = "langstring"
    STRING = "string"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    DTMI = "dtmi"
    CHOICE = "choice"
    ENUM_VALUE = "enumValue"


@dataclass(frozen=True)
class Member:
    """One member (property) of an element class and the rules its value obeys."""

    name: str
    kind: Kind
    required: bool = False
    classes: tuple[str, ...] = ()
    standard_schemas: bool = False
    plural: bool = False
    min_count: int = 0
    max_count: int | None = None
    max_length: int | None = None
    pattern: re.Pattern[str] | None = None
    min_value: int | None = None
    exact_value: int | None = None
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class ElementClass:
    """A material class of one DTDL version with its members."""

    name: str
    version: int
    members: Mapping[str, Member]
    type_required: bool = True
    id_required: bool = False
    id_max_length: int | None = None
    semantic: bool = False
    extra_members: Mapping[str, Member] = field(default_factory=dict)


def _common(version: int) -> list[Member]:
    display_max = 64 if version == 2 else 512
    return [
        Member("comment", Kind.STRING, max_length=512),
        Member("description", Kind.LANGSTRING, max_length=512),
        Member("displayName", Kind.LANGSTRING, max_length=display_max),
    ]


def _name(version: int) -> Member:
    return Member(
        "name",
        Kind.STRING,
        required=True,
        max_length=64 if version == 2 else 512,
        pattern=NAME_PATTERN,
    )


def _schema(*, required: bool = True) -> Member:
    return Member(
        "schema",
        Kind.ELEMENT,
        required=required,
        classes=COMPLEX_SCHEMAS,
        standard_schemas=True,
    )


def _build(version: int) -> dict[str, ElementClass]:
    common = _common(version)
    name = _name(version)
    v2 = version == 2
    request = ("CommandPayload",) if v2 else ("CommandRequest",)
    response = ("CommandPayload",) if v2 else ("CommandResponse",)
    specs: dict[str, list[Member]] = {
        "Interface": [
            Member(
                "contents",
                Kind.ELEMENT,
                classes=CONTENT_CLASSES,
                plural=True,
                max_count=300 if v2 else None,
            ),
            Member(
                "extends",
                Kind.ELEMENT,
                classes=("Interface",),
                plural=True,
                max_count=2 if v2 else None,
            ),
            Member("schemas", Kind.ELEMENT, classes=COMPLEX_SCHEMAS, plural=True),
        ],
        "Telemetry": [name, _schema()],
        "Property": [name, _schema(), Member("writable", Kind.BOOLEAN)],
        "Command": [
            name,
            Member(
                "commandType",
                Kind.CHOICE,
                choices=("asynchronous", "synchronous"),
            ),
            Member("request", Kind.ELEMENT, classes=request),
            Member("response", Kind.ELEMENT, classes=response),
        ],
        "Relationship": [
            name,
            Member("maxMultiplicity", Kind.INTEGER, min_value=1),
            Member("minMultiplicity", Kind.INTEGER, exact_value=0),
            Member(
                "properties",
                Kind.ELEMENT,
                classes=("Property",),
                plural=True,
                max_count=300 if v2 else None,
            ),
            Member("target", Kind.DTMI),
            Member("writable", Kind.BOOLEAN),
        ],
        "Component": [name, Member("schema", Kind.ELEMENT, required=True, classes=("Interface",))],
        "Array": [
            Member(
                "elementSchema",
                Kind.ELEMENT,
                required=True,
                classes=COMPLEX_SCHEMAS,
                standard_schemas=True,
            )
        ],
        "Enum": [
            Member("valueSchema", Kind.CHOICE, required=True, choices=("integer", "string")),
            Member(
                "enumValues",
                Kind.ELEMENT,
                required=v2,
                classes=("EnumValue",),
                plural=True,
                min_count=1 if v2 else 0,
            ),
        ],
        "EnumValue": [name, Member("enumValue", Kind.ENUM_VALUE, required=True)],
        "Map": [
            Member("mapKey", Kind.ELEMENT, required=True, classes=("MapKey",)),
            Member("mapValue", Kind.ELEMENT, required=True, classes=("MapValue",)),
        ],
        "MapKey": [name, Member("schema", Kind.CHOICE, required=True, choices=("string",))],
        "MapValue": [name, _schema()],
        "Object": [
            Member(
                "fields",
                Kind.ELEMENT,
                required=v2,
                classes=("Field",),
                plural=True,
                min_count=1 if v2 else 0,
                max_count=30 if v2 else None,
            )
        ],
        "Field": [name, _schema()],
    }
    if v2:
        specs["CommandPayload"] = [name, _schema()]
    else:
        specs["CommandRequest"] = [name, _schema()]
        specs["CommandResponse"] = [name, _schema()]
    untyped = {"CommandPayload", "CommandRequest", "CommandResponse", "EnumValue", "Field"}
    untyped |= {"MapKey", "MapValue"}
    classes: dict[str, ElementClass] = {}
    for cls, members in specs.items():
        all_members = {m.name: m for m in [*common, *members]}
        classes[cls] = ElementClass(
            name=cls,
            version=version,
            members=MappingProxyType(all_members),
            type_required=cls not in untyped,
            id_required=cls == "Interface",
            id_max_length=128 if cls == "Interface" else 2048,
            semantic=cls in SEMANTIC_CLASSES[version],
            extra_members=MappingProxyType({"unit": Member("unit", Kind.STRING)}),
        )
    return classes


@cache
def element_classes(version: int) -> Mapping[str, ElementClass]:
    """Material classes of a DTDL version by term."""
    return MappingProxyType(_build(version))


_ABSTRACT = [
    "AdjunctType",
    "Boolean",
    "CommandType",
    "ComplexSchema",
    "Content",
    "Date",
    "DateTime",
    "Double",
    "Duration",
    "Entity",
    "Float",
    "Integer",
    "Long",
    "NamedEntity",
    "NumericSchema",
    "PrimitiveSchema",
    "Schema",
    "SchemaField",
    "SemanticType",
    "SemanticUnit",
    "String",
    "TemporalSchema",
    "Time",
    "Unit",
    "UnitAttribute",
]
_PROPERTY_TERMS = [
    "commandType",
    "comment",
    "contents",
    "description",
    "displayName",
    "elementSchema",
    "enumValue",
    "enumValues",
    "exponent",
    "extends",
    "fields",
    "languageMajorVersion",
    "mapKey",
    "mapValue",
    "maxMultiplicity",
    "minMultiplicity",
    "name",
    "properties",
    "request",
    "response",
    "schema",
    "schemas",
    "symbol",
    "target",
    "valueSchema",
    "writable",
]
_V3_ONLY_RESERVED = [
    "Alias",
    "aliasFor",
    "DtdlExtension",
    "LatentType",
    "NamedLatentType",
    "metamodel",
    "model",
]
_V2_EXTRA_RESERVED = [
    "baseUnit",
    "bottomUnit",
    "topUnit",
    "prefix",
    "unit",
    "QuantitativeType",
    "RatioUnit",
    "DecimalUnit",
    "BinaryUnit",
    "DecimalPrefix",
    "BinaryPrefix",
    "Unitless",
]


@cache
def reserved_terms(version: int) -> frozenset[str]:
    """Terms of the DTDL context: never usable as undefined extension terms."""
    terms: set[str] = set(_ABSTRACT) | set(_PROPERTY_TERMS)
    terms |= set(element_classes(version))
    terms |= set(PRIMITIVE_SCHEMAS) | set(GEOSPATIAL_SCHEMAS)
    terms |= {"asynchronous", "synchronous"}
    if version == 2:
        terms |= {"CommandPayload"}
        terms |= set(semantic_units(2)) | set(unit_types(2)) | set(UNIT_PREFIXES)
        terms |= set(_V2_EXTRA_RESERVED)
        for units in unit_types(2).values():
            terms |= units
    else:
        terms |= {"CommandPayload"} | set(_V3_ONLY_RESERVED)
    return frozenset(terms)


def class_dtmi(term: str, version: int) -> str:
    """The DTMI of a DTDL class term."""
    return f"dtmi:dtdl:class:{term};{version}"


def property_dtmi(term: str, version: int) -> str:
    """The DTMI of a DTDL property term."""
    return f"dtmi:dtdl:property:{term};{version}"


def schema_dtmi(term: str, version: int) -> str:
    """The DTMI of a standard schema term."""
    if term in GEOSPATIAL_SCHEMAS:
        return f"dtmi:standard:schema:geospatial:{term};{version}"
    return f"dtmi:dtdl:instance:Schema:{term};{version}"


@cache
def standard_schema_values(version: int) -> Mapping[str, str]:
    """Every accepted spelling of a standard schema (term or DTMI) -> its term."""
    found: dict[str, str] = {}
    for term in (*PRIMITIVE_SCHEMAS, *GEOSPATIAL_SCHEMAS):
        found[term] = term
        found[schema_dtmi(term, version)] = term
    return MappingProxyType(found)


@cache
def semantic_type_dtmis(version: int) -> Mapping[str, str]:
    """Semantic type DTMIs -> term (v2 standard classes; v3 quantitativeTypes classes)."""
    found: dict[str, str] = {}
    for term in semantic_units(version):
        if version == 2:
            found[f"dtmi:standard:class:{term};2"] = term
        else:
            found[f"dtmi:standard:class:{term};3"] = term
            found[f"dtmi:dtdl:extension:quantitativeTypes:v1:class:{term}"] = term
    return MappingProxyType(found)


@cache
def unit_dtmis(version: int) -> Mapping[str, str]:
    """Unit DTMIs -> term."""
    found: dict[str, str] = {}
    for units in unit_types(version).values():
        for unit in units:
            if version == 2:
                found[f"dtmi:standard:unit:{unit};2"] = unit
            else:
                found[f"dtmi:standard:unit:{unit};3"] = unit
                found[f"dtmi:dtdl:extension:quantitativeTypes:v1:unit:{unit}"] = unit
    return MappingProxyType(found)
