"""Checking twin and relationship bodies against their DTDL model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from twinops.errors import Violation
from twinops.models.dtdl import Component, Property, Relationship, validate_value
from twinops.models.service import ResolvedModel
from twinops.twins.entities import TWIN_ID_PATTERN

# Keys clients may send that describe rather than carry values.
SYSTEM_KEYS = {"$dtId", "$etag", "$metadata"}
RELATIONSHIP_SYSTEM_KEYS = {
    "$relationshipId",
    "$etag",
    "$sourceId",
    "$targetId",
    "$relationshipName",
}


def check_id(value: str, field: str) -> list[Violation]:
    """Violations of the twin/relationship id rule."""
    if isinstance(value, str) and TWIN_ID_PATTERN.match(value):
        return []
    return [
        Violation(
            field,
            "idPattern",
            "ids are 1-128 characters: a letter or digit, then letters, digits, '_', '.', ':', '-'",
            value,
        )
    ]


def check_contents(
    model: ResolvedModel, values: Mapping[str, Any], pointer: str = ""
) -> list[Violation]:
    """Violations of property/component values against a model (missing values are allowed)."""
    violations: list[Violation] = []
    for name, value in values.items():
        if name in SYSTEM_KEYS:
            continue
        field = f"{pointer}/{name}"
        content = model.contents.get(name)
        if content is None:
            violations.append(
                Violation(field, "unknownProperty", f"{model.dtmi} defines no property '{name}'")
            )
        elif isinstance(content, Property):
            violations.extend(validate_value(content.schema, value, field))
        elif isinstance(content, Component):
            violations.extend(_check_component(model.components[name], value, field))
        else:
            kind = type(content).__name__
            violations.append(
                Violation(
                    field,
                    "notAProperty",
                    f"'{name}' is a {kind} of {model.dtmi}, not a property a twin stores",
                )
            )
    return violations


def _check_component(model: ResolvedModel, value: Any, field: str) -> list[Violation]:
    if not isinstance(value, dict):
        return [Violation(field, "type", "a component value is a JSON object", value)]
    return check_contents(model, value, field)


def check_relationship_properties(
    definition: Relationship, values: Mapping[str, Any], pointer: str = ""
) -> list[Violation]:
    """Violations of relationship property values against the relationship's definition."""
    violations: list[Violation] = []
    for name, value in values.items():
        if name in RELATIONSHIP_SYSTEM_KEYS:
            continue
        prop = definition.properties.get(name)
        field = f"{pointer}/{name}"
        if prop is None:
            violations.append(
                Violation(
                    field, "unknownProperty", f"relationship '{definition.name}' has no '{name}'"
                )
            )
        else:
            violations.extend(validate_value(prop.schema, value, field))
    return violations
