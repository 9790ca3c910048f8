"""Backward compatibility between two versions of an interface, judged for existing twins."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from twinops.models.entities import ModelChange

# Content kinds whose values twins store; a change to these can invalidate existing twins.
_STATEFUL = {"Property", "Component", "Relationship"}


def _kind(content: Any) -> str:
    return type(content).__name__


def _schema_repr(content: Any) -> str:
    return repr(getattr(content, "schema", None))


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
    if _schema_repr(old) != _schema_repr(new):
        changes.append(
            ModelChange(
                name,
                "changed",
                "schema changed; stored values may no longer conform",
                old_kind in _STATEFUL,
            )
        )
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
