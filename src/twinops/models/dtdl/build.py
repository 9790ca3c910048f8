"""Turns a valid node graph into immutable entities (interfaces, contents, schemas)."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from twinops.models.dtdl.checks import ModelGraph
from twinops.models.dtdl.elements import (
    ArraySchema,
    Command,
    CommandPayload,
    Component,
    Content,
    EnumSchema,
    EnumValue,
    Field,
    Interface,
    MapSchema,
    ObjectSchema,
    PrimitiveSchema,
    Property,
    Relationship,
    Schema,
    Telemetry,
)
from twinops.models.dtdl.nodes import Node, Standard
from twinops.models.dtdl.units import unit_types


def _doubles(*names: str) -> ObjectSchema:
    return ObjectSchema(tuple(Field(name, PrimitiveSchema("double")) for name in names))


# Schemas of the IoT Central extension, as the payloads IoT Central exchanges.
_EXTENSION_SCHEMAS: dict[str, Schema] = {
    "geopoint": _doubles("lat", "lon", "alt"),
    "vector": _doubles("x", "y", "z"),
}


def extension_schema(term: str) -> Schema | None:
    """The entity for a schema an extension defines (IoT Central, quantitativeTypes unit types)."""
    if term in _EXTENSION_SCHEMAS:
        return _EXTENSION_SCHEMAS[term]
    units = unit_types(3).get(term)
    if units is None:
        return None
    values = tuple(EnumValue(unit, unit) for unit in sorted(units))
    return EnumSchema(PrimitiveSchema("string"), values, term)


class EntityBuilder:
    """Builds entities from a graph that passed every check."""

    def __init__(self, graph: ModelGraph) -> None:
        self.graph = graph
        self._schemas: dict[int, Schema] = {}

    def interface(self, node: Node) -> Interface:
        """The entity for an Interface node."""
        contents: dict[str, Content] = {}
        for child in self.graph.children(node, "contents"):
            content = self.content(child)
            if content is not None:
                contents[content.name] = content
        schemas: dict[str, Schema] = {}
        for child in self.graph.children(node, "schemas"):
            if child.id is not None:
                schemas[child.id] = self.schema_of(child)
        return Interface(
            id=node.id or "",
            dtdl_version=node.version,
            display_name=self._lang(node, "displayName"),
            description=self._lang(node, "description"),
            comment=node.literals.get("comment"),
            extends=tuple(c.id for c in self.graph.children(node, "extends") if c.id),
            contents=MappingProxyType(contents),
            schemas=MappingProxyType(schemas),
        )

    @staticmethod
    def _lang(node: Node, member: str) -> Any:
        return MappingProxyType(dict(node.literals.get(member, {})))

    def _schema_member(self, node: Node, member: str = "schema") -> Schema:
        values = node.members.get(member, [])
        return self.schema(values[0]) if values else PrimitiveSchema("string")

    def schema(self, value: Any) -> Schema:
        """The entity for a schema value (standard term, element, or reference)."""
        if isinstance(value, Standard):
            return extension_schema(value.term) or PrimitiveSchema(value.term)
        node = self.graph.target(value)
        if node is None:
            return PrimitiveSchema("string")
        return self.schema_of(node)

    def schema_of(self, node: Node) -> Schema:
        """The entity for a complex schema node (memoized)."""
        key = id(node)
        if key in self._schemas:
            return self._schemas[key]
        built: Schema
        if node.cls == "Array":
            built = ArraySchema(self._schema_member(node, "elementSchema"), node.id)
        elif node.cls == "Enum":
            values = tuple(
                EnumValue(
                    name=str(v.literals.get("name", "")),
                    value=v.literals.get("enumValue", ""),
                    display_name=self._lang(v, "displayName"),
                )
                for v in self.graph.children(node, "enumValues")
            )
            built = EnumSchema(
                PrimitiveSchema(str(node.literals.get("valueSchema", "string"))), values, node.id
            )
        elif node.cls == "Map":
            key_node = self.graph.children(node, "mapKey")
            value_node = self.graph.children(node, "mapValue")
            built = MapSchema(
                key_name=str(key_node[0].literals.get("name", "key")) if key_node else "key",
                key_schema=PrimitiveSchema("string"),
                value_name=str(value_node[0].literals.get("name", "value"))
                if value_node
                else "value",
                value_schema=self._schema_member(value_node[0])
                if value_node
                else PrimitiveSchema("string"),
                id=node.id,
            )
        else:
            fields = tuple(
                Field(
                    name=str(f.literals.get("name", "")),
                    schema=self._schema_member(f),
                    semantic_types=tuple(f.semantic_types),
                    unit=f.unit,
                )
                for f in self.graph.children(node, "fields")
            )
            built = ObjectSchema(fields, node.id)
        self._schemas[key] = built
        return built

    def _property(self, node: Node) -> Property:
        return Property(
            name=str(node.literals.get("name", "")),
            schema=self._schema_member(node),
            writable=bool(node.literals.get("writable", False)),
            semantic_types=tuple(node.semantic_types),
            unit=node.unit,
            id=node.id,
            display_name=self._lang(node, "displayName"),
            description=self._lang(node, "description"),
        )

    def _payload(self, node: Node, member: str) -> CommandPayload | None:
        found = self.graph.children(node, member)
        if not found:
            return None
        payload = found[0]
        return CommandPayload(
            name=str(payload.literals.get("name", "")),
            schema=self._schema_member(payload),
            semantic_types=tuple(payload.semantic_types),
            unit=payload.unit,
        )

    def content(self, node: Node) -> Content | None:
        """The entity for a contents element."""
        name = str(node.literals.get("name", ""))
        common: dict[str, Any] = {
            "id": node.id,
            "display_name": self._lang(node, "displayName"),
            "description": self._lang(node, "description"),
        }
        if node.cls == "Property":
            return self._property(node)
        if node.cls == "Telemetry":
            return Telemetry(
                name, self._schema_member(node), tuple(node.semantic_types), node.unit, **common
            )
        if node.cls == "Component":
            targets = self.graph.children(node, "schema")
            return Component(name, targets[0].id or "" if targets else "", **common)
        if node.cls == "Command":
            return Command(
                name, self._payload(node, "request"), self._payload(node, "response"), **common
            )
        if node.cls == "Relationship":
            properties = {
                p.literals.get("name", ""): self._property(p)
                for p in self.graph.children(node, "properties")
            }
            return Relationship(
                name=name,
                target=node.literals.get("target"),
                min_multiplicity=int(node.literals.get("minMultiplicity", 0)),
                max_multiplicity=node.literals.get("maxMultiplicity"),
                properties=MappingProxyType(properties),
                writable=bool(node.literals.get("writable", False)),
                **common,
            )
        return None
