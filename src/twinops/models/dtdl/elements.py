"""The parsed DTDL model as immutable entities (no I/O, no validation logic)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


def _empty() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True)
class PrimitiveSchema:
    """A standard schema such as ``double`` or ``dateTime`` (also the geospatial ones)."""

    name: str


@dataclass(frozen=True)
class EnumValue:
    """One named value of an Enum."""

    name: str
    value: int | str
    display_name: Mapping[str, str] = field(default_factory=_empty)


@dataclass(frozen=True)
class EnumSchema:
    """An Enum: values of ``value_schema`` (integer or string) with names."""

    value_schema: PrimitiveSchema
    values: tuple[EnumValue, ...]
    id: str | None = None


@dataclass(frozen=True)
class Field:
    """A named field of an Object schema."""

    name: str
    schema: Schema
    semantic_types: tuple[str, ...] = ()
    unit: str | None = None


@dataclass(frozen=True)
class ObjectSchema:
    """An Object: a fixed set of named, typed fields."""

    fields: tuple[Field, ...]
    id: str | None = None


@dataclass(frozen=True)
class MapSchema:
    """A Map from string keys to values of one schema."""

    key_name: str
    key_schema: PrimitiveSchema
    value_name: str
    value_schema: Schema
    id: str | None = None


@dataclass(frozen=True)
class ArraySchema:
    """An Array whose elements all have one schema."""

    element_schema: Schema
    id: str | None = None


Schema = PrimitiveSchema | EnumSchema | ObjectSchema | MapSchema | ArraySchema


@dataclass(frozen=True)
class Property:
    """A Property: state of a twin, optionally writable."""

    name: str
    schema: Schema
    writable: bool = False
    semantic_types: tuple[str, ...] = ()
    unit: str | None = None
    id: str | None = None
    display_name: Mapping[str, str] = field(default_factory=_empty)
    description: Mapping[str, str] = field(default_factory=_empty)


@dataclass(frozen=True)
class Telemetry:
    """A Telemetry: a stream of measured values."""

    name: str
    schema: Schema
    semantic_types: tuple[str, ...] = ()
    unit: str | None = None
    id: str | None = None
    display_name: Mapping[str, str] = field(default_factory=_empty)
    description: Mapping[str, str] = field(default_factory=_empty)


@dataclass(frozen=True)
class Relationship:
    """A Relationship to other twins, optionally restricted to a target interface."""

    name: str
    target: str | None = None
    min_multiplicity: int = 0
    max_multiplicity: int | None = None
    properties: Mapping[str, Property] = field(default_factory=dict)
    writable: bool = False
    id: str | None = None
    display_name: Mapping[str, str] = field(default_factory=_empty)
    description: Mapping[str, str] = field(default_factory=_empty)


@dataclass(frozen=True)
class Component:
    """A Component: an embedded instance of another interface."""

    name: str
    schema: str
    id: str | None = None
    display_name: Mapping[str, str] = field(default_factory=_empty)
    description: Mapping[str, str] = field(default_factory=_empty)


@dataclass(frozen=True)
class CommandPayload:
    """The request or response of a Command."""

    name: str
    schema: Schema
    semantic_types: tuple[str, ...] = ()
    unit: str | None = None


@dataclass(frozen=True)
class Command:
    """A Command with an optional request and response."""

    name: str
    request: CommandPayload | None = None
    response: CommandPayload | None = None
    id: str | None = None
    display_name: Mapping[str, str] = field(default_factory=_empty)
    description: Mapping[str, str] = field(default_factory=_empty)


Content = Property | Telemetry | Relationship | Component | Command


@dataclass(frozen=True)
class Interface:
    """A DTDL Interface with its own (not inherited) contents."""

    id: str
    dtdl_version: int
    display_name: Mapping[str, str] = field(default_factory=_empty)
    description: Mapping[str, str] = field(default_factory=_empty)
    comment: str | None = None
    extends: tuple[str, ...] = ()
    contents: Mapping[str, Content] = field(default_factory=dict)
    schemas: Mapping[str, Schema] = field(default_factory=dict)
