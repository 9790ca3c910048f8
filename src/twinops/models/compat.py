"""Backward compatibility between two versions of an interface, judged for existing twins."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from twinops.models.entities import ModelChange

# Content kinds whose values twins store; a change to these can invalidate existing twins.
_STATEFUL = {"Property", "Component", "Relationship"}


def _kind(content: Any) -> str:
    return type(content).__name__


# Labels and ids say nothing about which values conform, so they never make a change.
_COSMETIC = {"display_name", "description", "comment", "id"}


def signature(schema: Any) -> Any:
    """A schema reduced to what decides which values conform to it."""
    if dataclasses.is_dataclass(schema) and not isinstance(schema, type):
        return (
            type(schema).__name__,
            tuple(
                (f.name, signature(getattr(schema, f.name)))
                for f in dataclasses.fields(schema)
                if f.name not in _COSMETIC
            ),
        )
    if isinstance(schema, tuple | list):
        return tuple(signature(item) for item in schema)
    if isinstance(schema, Mapping):
        return tuple(sorted((k, signature(v)) for k, v in schema.items()))
    return schema


def accepts_all_of(old: Any, new: Any) -> bool:
    """Whether every value valid under schema ``old`` is still valid under ``new``."""
    if signature(old) == signature(new):
        return True
    old_kind, new_kind = type(old).__name__, type(new).__name__
    if old_kind != new_kind:
        return False
    if old_kind == "EnumSchema":
        new_values = {v.value for v in new.values}
        return signature(old.value_schema) == signature(new.value_schema) and all(
            v.value in new_values for v in old.values
        )
    if old_kind == "ObjectSchema":
        new_fields = {f.name: f.schema for f in new.fields}
        return all(
            f.name in new_fields and accepts_all_of(f.schema, new_fields[f.name])
            for f in old.fields
        )
    if old_kind == "MapSchema":
        return accepts_all_of(old.key_schema, new.key_schema) and accepts_all_of(
            old.value_schema, new.value_schema
        )
    if old_kind == "ArraySchema":
        return accepts_all_of(old.element_schema, new.element_schema)
    return False


def diff_contents(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[ModelChange, ...]:
    """The changes from ``old`` to ``new`` flattened contents, each marked breaking or not."""
    changes: list[ModelChange] = []
    for name in sorted(old.keys() - new.keys()):
        kind = _kind(old[name])
        changes.append(
            ModelChange(name, "removed", f"{kind} '{name}' was removed", kind in _STATEFUL)
        )
    for name in sorted(new.keys() - old.keys()):
        kind = _kind(new[name])
        changes.append(ModelChange(name, "added", f"{kind} '{name}' was added", False))
    for name in sorted(old.keys() & new.keys()):
        changes.extend(_diff_one(name, old[name], new[name]))
    return tuple(changes)


def _diff_one(name: str, old: Any, new: Any) -> list[ModelChange]:
    old_kind, new_kind = _kind(old), _kind(new)
    if old_kind != new_kind:
        breaking = old_kind in _STATEFUL or new_kind in _STATEFUL
        return [ModelChange(name, "changed", f"was a {old_kind}, now a {new_kind}", breaking)]
    changes: list[ModelChange] = []
    old_schema, new_schema = getattr(old, "schema", None), getattr(new, "schema", None)
    if signature(old_schema) != signature(new_schema):
        widened = accepts_all_of(old_schema, new_schema)
        detail = (
            "schema widened; stored values still conform"
            if widened
            else ("schema changed; stored values may no longer conform")
        )
        changes.append(ModelChange(name, "changed", detail, old_kind in _STATEFUL and not widened))
    if getattr(old, "unit", None) != getattr(new, "unit", None):
        changes.append(
            ModelChange(
                name,
                "changed",
                f"unit changed from {getattr(old, 'unit', None)} to {getattr(new, 'unit', None)}",
                True,
            )
        )
    if getattr(old, "writable", False) and not getattr(new, "writable", False):
        changes.append(ModelChange(name, "changed", "no longer writable", True))
    if old_kind == "Relationship":
        if old.target != new.target:
            changes.append(
                ModelChange(
                    name, "changed", f"target changed to {new.target}", new.target is not None
                )
            )
        old_max, new_max = old.max_multiplicity, new.max_multiplicity
        if new_max is not None and (old_max is None or new_max < old_max):
            changes.append(
                ModelChange(name, "changed", f"maxMultiplicity lowered to {new_max}", True)
            )
        changes.extend(
            ModelChange(f"{name}.{c.element}", c.change, c.detail, c.breaking)
            for c in diff_contents(old.properties, new.properties)
        )
    return changes
