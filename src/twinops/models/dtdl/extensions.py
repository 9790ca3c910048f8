"""Language extensions: which context specifiers are implemented, known, or undefined."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from twinops.models.dtdl.metamodel import NAME_PATTERN, Kind, Member
from twinops.models.dtdl.nodes import ActiveContext

IMPLEMENTED = "implemented"
KNOWN = "known"
WRONG_VERSION = "wrongVersion"
UNDEFINED = "undefined"
IOTCENTRAL = "dtmi:iotcentral:context;2"

# Extension context -> the DTDL versions it can be used with.
_IMPLEMENTED: dict[str, tuple[int, ...]] = {
    "dtmi:dtdl:extension:quantitativeTypes;1": (3,),
    "dtmi:dtdl:extension:historization;2": (3,),
    "dtmi:dtdl:extension:annotation;2": (3,),
    "dtmi:dtdl:extension:mqtt;3": (3,),
}
# Defined by the DTDL ecosystem but not implemented here: models using them are unsupported.
_KNOWN: dict[str, tuple[int, ...]] = {
    "dtmi:dtdl:extension:annotation;1": (3,),
    "dtmi:dtdl:extension:historization;1": (3,),
    "dtmi:dtdl:extension:overriding;1": (3,),
    "dtmi:dtdl:extension:overriding;2": (3,),
    "dtmi:dtdl:extension:mqtt;1": (3,),
    "dtmi:dtdl:extension:mqtt;2": (3,),
    "dtmi:dtdl:extension:requirement;1": (3,),
    "dtmi:dtdl:extension:streaming;1": (3,),
    "dtmi:dtdl:extension:quantitativeTypes;2": (4,),
    "dtmi:dtdl:extension:quantitativeTypes;3": (4,),
    IOTCENTRAL: (2,),
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
    """A co-type an extension defines, the classes it may co-type and the members it adds."""

    term: str
    classes: frozenset[str]
    members: Mapping[str, Member] = field(default_factory=dict)


# Topics are '/'-separated non-empty segments (an empty segment is a malformed topic).
_SEGMENTED_TOPIC = re.compile(r"^[^/]+(?:/[^/]+)*$")


def _members(*members: Member) -> Mapping[str, Member]:
    return {m.name: m for m in members}


_ADJUNCTS: dict[str, tuple[AdjunctType, ...]] = {
    "dtmi:dtdl:extension:historization;2": (
        AdjunctType("Historized", frozenset({"Property", "Telemetry"})),
    ),
    "dtmi:dtdl:extension:annotation;2": (
        AdjunctType(
            "ValueAnnotation",
            frozenset({"Property", "Telemetry"}),
            _members(Member("annotates", Kind.STRING, required=True, pattern=NAME_PATTERN)),
        ),
    ),
    "dtmi:dtdl:extension:mqtt;3": (
        AdjunctType(
            "Mqtt",
            frozenset({"Interface"}),
            _members(
                Member("payloadFormat", Kind.STRING, required=True),
                Member("telemetryTopic", Kind.STRING, pattern=_SEGMENTED_TOPIC),
                Member("commandTopic", Kind.STRING, pattern=_SEGMENTED_TOPIC),
            ),
        ),
        AdjunctType(
            "Indexed",
            frozenset({"Telemetry", "Command", "Property", "Field", "EnumValue"}),
            _members(Member("index", Kind.INTEGER, required=True, min_value=0)),
        ),
        AdjunctType("Idempotent", frozenset({"Command"})),
        AdjunctType("Cacheable", frozenset({"Command"}), _members(Member("ttl", Kind.STRING))),
    ),
}


def adjunct_type(term: str, ctx: ActiveContext) -> AdjunctType | None:
    """The adjunct type ``term`` names in the active context, if an extension defines it."""
    for spec in ctx.extensions:
        for adjunct in _ADJUNCTS.get(spec, ()):
            if adjunct.term == term:
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


def defines_schema(value: str, ctx: ActiveContext) -> bool:
    """True when an active implemented extension defines ``value`` as a schema."""
    del value, ctx
    return False
