"""Language extensions: which context specifiers are implemented, known, or undefined."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from twinops.models.dtdl.metamodel import GEOSPATIAL_SCHEMAS, NAME_PATTERN, Kind, Member
from twinops.models.dtdl.nodes import ActiveContext
from twinops.models.dtdl.units import unit_types

IMPLEMENTED = "implemented"
KNOWN = "known"
WRONG_VERSION = "wrongVersion"
UNDEFINED = "undefined"
IOTCENTRAL = "dtmi:iotcentral:context;2"
QUANTITATIVE_TYPES_V1 = "dtmi:dtdl:extension:quantitativeTypes;1"

# Extension context -> the DTDL versions it can be used with.
_IMPLEMENTED: dict[str, tuple[int, ...]] = {
    QUANTITATIVE_TYPES_V1: (3,),
    "dtmi:dtdl:extension:historization;1": (3,),
    "dtmi:dtdl:extension:historization;2": (3,),
    "dtmi:dtdl:extension:annotation;1": (3,),
    "dtmi:dtdl:extension:annotation;2": (3,),
    "dtmi:dtdl:extension:overriding;1": (3,),
    "dtmi:dtdl:extension:overriding;2": (3,),
    "dtmi:dtdl:extension:mqtt;1": (3,),
    "dtmi:dtdl:extension:mqtt;2": (3,),
    "dtmi:dtdl:extension:mqtt;3": (3,),
    "dtmi:dtdl:extension:requirement;1": (3,),
    IOTCENTRAL: (2,),
}
# Defined by the DTDL ecosystem but not implemented here: models using them are unsupported.
_KNOWN: dict[str, tuple[int, ...]] = {
    "dtmi:dtdl:extension:streaming;1": (3,),
    "dtmi:dtdl:extension:quantitativeTypes;2": (4,),
    "dtmi:dtdl:extension:quantitativeTypes;3": (4,),
}


def status(spec: str, version: int) -> str:
    """How this parser treats an extension context specifier in a DTDL version."""
    for table, verdict in ((_IMPLEMENTED, IMPLEMENTED), (_KNOWN, KNOWN)):
        if spec in table:
            return verdict if version in table[spec] else WRONG_VERSION
    return UNDEFINED


def is_known(spec: str) -> bool:
    """True for an extension the DTDL ecosystem defines (implemented here or not)."""
    return spec in _IMPLEMENTED or spec in _KNOWN


@dataclass(frozen=True)
class AdjunctType:
    """A co-type an extension defines: the classes it may co-type and the rules it adds.

    ``schema_terms``/``schema_classes`` restrict the co-typed element's ``schema`` (a standard
    schema term, or an element of a class); ``unit_type`` restricts its optional ``unit``;
    ``requires`` names a co-type the element must also have; ``parent`` a co-type its parent
    element must have; ``children`` the co-types every value of the element's ``fields`` needs;
    ``single`` allows at most one such sibling among the values of one member.
    """

    term: str
    classes: frozenset[str]
    members: Mapping[str, Member] = field(default_factory=dict)
    dtmi: str | None = None
    schema_terms: frozenset[str] = frozenset()
    schema_classes: frozenset[str] = frozenset()
    unit_type: str | None = None
    requires: str | None = None
    parent: str | None = None
    children: frozenset[str] = frozenset()
    single: bool = False
    schema_by_type: bool = False

    @property
    def restricts_schema(self) -> bool:
        """True when the co-typed element's schema is restricted."""
        return bool(self.schema_terms or self.schema_classes)


# Topics are '/'-separated non-empty segments (an empty segment is a malformed topic).
_SEGMENTED_TOPIC = re.compile(r"^[^/]+(?:/[^/]+)*$")
_SERVICE_GROUP = re.compile(r"^[!$-*,-.0-z|~]+$")


def _members(*members: Member) -> Mapping[str, Member]:
    return {m.name: m for m in members}


def _feature(name: str, version: int, term: str, classes: set[str], **rules: Any) -> AdjunctType:
    dtmi = f"dtmi:dtdl:extension:{name}:v{version}:{term}"
    return AdjunctType(term, frozenset(classes), dtmi=dtmi, **rules)


def _annotation(version: int) -> tuple[AdjunctType, ...]:
    annotates = Member("annotates", Kind.STRING, required=True, pattern=NAME_PATTERN)
    return (
        _feature(
            "annotation",
            version,
            "ValueAnnotation",
            {"Property", "Telemetry"},
            members=_members(annotates),
        ),
    )


def _overriding(version: int) -> tuple[AdjunctType, ...]:
    overrides = Member("overrides", Kind.STRING, required=True)
    return (
        _feature(
            "overriding",
            version,
            "Override",
            {"Property"},
            members=_members(overrides),
            requires="ValueAnnotation",
        ),
    )


def _mqtt(version: int) -> tuple[AdjunctType, ...]:
    mqtt_members = [
        Member("payloadFormat", Kind.STRING, required=True),
        Member("telemetryTopic", Kind.STRING, pattern=_SEGMENTED_TOPIC),
        Member("commandTopic", Kind.STRING, pattern=_SEGMENTED_TOPIC),
    ]
    if version >= 3:
        mqtt_members += [
            Member("cmdServiceGroupId", Kind.STRING, pattern=_SERVICE_GROUP),
            Member("telemServiceGroupId", Kind.STRING, pattern=_SERVICE_GROUP),
        ]
    found = [
        _feature("mqtt", version, "Mqtt", {"Interface"}, members=_members(*mqtt_members)),
        _feature(
            "mqtt",
            version,
            "Indexed",
            {"Telemetry", "Command", "Property", "Field", "EnumValue"},
            members=_members(Member("index", Kind.INTEGER, required=True, min_value=0)),
        ),
        _feature("mqtt", version, "Idempotent", {"Command"}),
        _feature(
            "mqtt",
            version,
            "Cacheable",
            {"Command"},
            members=_members(Member("ttl", Kind.STRING)),
        ),
    ]
    if version >= 2:
        found.append(
            _feature(
                "mqtt",
                version,
                "Transparent",
                {"CommandRequest", "CommandResponse"},
                schema_classes=frozenset({"Object"}),
            )
        )
    if version >= 3:
        results = frozenset({"NormalResult", "ErrorResult"})
        found += [
            _feature("mqtt", version, "Result", {"Object"}, children=results),
            _feature("mqtt", version, "NormalResult", {"Field"}, parent="Result", single=True),
            _feature("mqtt", version, "ErrorResult", {"Field"}, parent="Result", single=True),
            _feature("mqtt", version, "Error", {"Object"}),
            _feature(
                "mqtt",
                version,
                "ErrorMessage",
                {"Field"},
                parent="Error",
                single=True,
                schema_terms=frozenset({"string"}),
            ),
        ]
    return tuple(found)


def _iotcentral() -> tuple[AdjunctType, ...]:
    def central(term: str, **rules: Any) -> AdjunctType:
        dtmi = f"dtmi:iotcentral:class:{term};2"
        return AdjunctType(
            term,
            frozenset({"Property", "Telemetry"}),
            dtmi=dtmi,
            **rules,
        )

    vector = frozenset({"vector"})
    return (
        central("State", schema_classes=frozenset({"Enum"})),
        central(
            "Event",
            schema_terms=frozenset({"double", "float", "integer", "long", "string"}),
            schema_by_type=True,
        ),
        central("Location", schema_terms=frozenset({*GEOSPATIAL_SCHEMAS, "geopoint"})),
        central("VelocityVector", schema_terms=vector, unit_type="VelocityUnit"),
        central("AccelerationVector", schema_terms=vector, unit_type="AccelerationUnit"),
    )


_ADJUNCTS: dict[str, tuple[AdjunctType, ...]] = {
    "dtmi:dtdl:extension:historization;1": (
        _feature("historization", 1, "Historized", {"Property", "Telemetry"}),
    ),
    "dtmi:dtdl:extension:historization;2": (
        _feature("historization", 2, "Historized", {"Property", "Telemetry"}),
    ),
    "dtmi:dtdl:extension:annotation;1": _annotation(1),
    "dtmi:dtdl:extension:annotation;2": _annotation(2),
    "dtmi:dtdl:extension:overriding;1": _overriding(1),
    "dtmi:dtdl:extension:overriding;2": _overriding(2),
    "dtmi:dtdl:extension:mqtt;1": _mqtt(1),
    "dtmi:dtdl:extension:mqtt;2": _mqtt(2),
    "dtmi:dtdl:extension:mqtt;3": _mqtt(3),
    "dtmi:dtdl:extension:requirement;1": (_feature("requirement", 1, "Required", {"Field"}),),
    IOTCENTRAL: _iotcentral(),
}

# Schema terms (and their DTMIs) an extension defines -> the canonical schema term.
_IOTCENTRAL_SCHEMAS = {term: term for term in ("geopoint", "vector")} | {
    f"dtmi:iotcentral:schema:{term};2": term for term in ("geopoint", "vector")
}
# Unit types of quantitativeTypes are Enum schemas; EnergyRateUnit is an alias of PowerUnit.
_UNIT_TYPE_ALIASES = {"EnergyRateUnit": "PowerUnit"}
_QUANTITATIVE_SCHEMAS = (
    {term: term for term in unit_types(3)}
    | {f"dtmi:dtdl:extension:quantitativeTypes:v1:enum:{term}": term for term in unit_types(3)}
    | _UNIT_TYPE_ALIASES
)
_SCHEMAS: dict[str, Mapping[str, str]] = {
    IOTCENTRAL: _IOTCENTRAL_SCHEMAS,
    QUANTITATIVE_TYPES_V1: _QUANTITATIVE_SCHEMAS,
}
# Supplemental properties an Override may name (term or IRI) -> the canonical term.
OVERRIDABLE = {
    "unit": "unit",
    "dtmi:dtdl:extension:quantitativeTypes:v1:property:unit": "unit",
}


def adjunct_type(term: str, ctx: ActiveContext) -> AdjunctType | None:
    """The adjunct type ``term`` (or its DTMI) names in the active context, if any."""
    for spec in sorted(ctx.extensions):
        for adjunct in _ADJUNCTS.get(spec, ()):
            if term in (adjunct.term, adjunct.dtmi):
                return adjunct
    return None


def defines_type(term: str, ctx: ActiveContext) -> bool:
    """True when an active implemented extension defines ``term`` as a co-type."""
    return adjunct_type(term, ctx) is not None


def defines_property(key: str, ctx: ActiveContext) -> bool:
    """True when an active implemented extension defines member ``key``."""
    return any(
        key in adjunct.members for spec in ctx.extensions for adjunct in _ADJUNCTS.get(spec, ())
    )


def schema_term(value: str, ctx: ActiveContext) -> str | None:
    """The schema an active extension defines under ``value`` (term or DTMI), if any."""
    for spec in ctx.extensions:
        term = _SCHEMAS.get(spec, {}).get(value)
        if term is not None:
            return term
    return None


def defines_schema(value: str, ctx: ActiveContext) -> bool:
    """True when an active implemented extension defines ``value`` as a schema."""
    return schema_term(value, ctx) is not None
