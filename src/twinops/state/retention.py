"""Retention policies: how long history is kept, per model and field. Pure logic, no I/O.

A tenant's policies are (model, field, keep) triples where model is a versioned DTMI or ``*``
and field a field name (``component.field`` for components) or ``*``. For one field of one
twin the most specific matching policy decides: model+field, then model+``*``, then
``*``+field, then ``*``+``*``.

A model policy also covers twins of the models that extend it (as ``IS_OF_MODEL`` does): a
policy on ``dtmi:x:Machine;1`` applies to a ``dtmi:x:Pump;1`` twin when Pump extends Machine.
Between two model policies of the same kind, the one on the nearer model wins (Pump's before
Machine's); when neither model extends the other (multiple ``extends``), the longer keep wins,
so an ambiguity never deletes more. History of a twin that no longer exists matches only the
``*`` model policies.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from twinops.errors import InvalidInput, Violation
from twinops.models.dtdl.dtmi import parse_dtmi
from twinops.timeutil import format_rfc3339

ANY = "*"
MIN_KEEP_SECONDS = 3600
MAX_KEEP_SECONDS = 200 * 366 * 86400  # far beyond any real need, well inside 64-bit µs
MAX_POLICIES = 1000
SECOND = 1_000_000

# (tenant, DTMI) -> the names a point may address on that model, or None when it is unknown.
FieldCatalog = Callable[[str, str], frozenset[str] | None]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^\s*(\d{1,12})\s*([smhdw]?)\s*$")
_POLICY_KEYS = {"model", "field", "keep", "keepSeconds"}


@dataclass(frozen=True)
class RetentionPolicy:
    """Keep a field's history ``keep_seconds`` long, for twins of ``model`` (or any)."""

    model: str
    field: str
    keep_seconds: int

    @property
    def level(self) -> int:
        """Specificity: 3 model+field, 2 model+*, 1 *+field, 0 *+*."""
        return 2 * (self.model != ANY) + (self.field != ANY)

    @property
    def keep_us(self) -> int:
        """The keep duration in microseconds."""
        return self.keep_seconds * SECOND

    def to_json(self) -> dict[str, Any]:
        """The policy as the API shows it (``keep`` in the largest whole unit)."""
        return {
            "model": self.model,
            "field": self.field,
            "keep": format_keep(self.keep_seconds),
            "keepSeconds": self.keep_seconds,
        }


@dataclass(frozen=True)
class Lineage:
    """A twin's model and what it extends: each model of the closure with its own ancestors.

    ``ancestors[m]`` is every model ``m`` extends, transitively, ``m`` included. A twin
    without a model (deleted twin, orphan history) has an empty lineage.
    """

    model: str | None
    ancestors: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def covers(self, dtmi: str) -> bool:
        """Whether a policy on ``dtmi`` applies to this twin (its model or an ancestor)."""
        return self.model is not None and self.extends(self.model, dtmi)

    def extends(self, derived: str, base: str) -> bool:
        """Whether ``derived`` is ``base`` or extends it."""
        return base in self.ancestors.get(derived, frozenset({derived}))


@dataclass(frozen=True)
class RetentionRun:
    """What one enforcement deleted: history rows per field name."""

    tenant: str
    ran_at: int
    policies: int
    deleted: Mapping[str, int]

    @property
    def total(self) -> int:
        """Rows deleted in all."""
        return sum(self.deleted.values())

    def to_json(self) -> dict[str, Any]:
        """The run as the API answers it and the audit log records it."""
        return {
            "ranAt": format_rfc3339(self.ran_at),
            "policies": self.policies,
            "deleted": dict(sorted(self.deleted.items())),
            "total": self.total,
        }


def applies(policy: RetentionPolicy, field_name: str, lineage: Lineage) -> bool:
    """Whether ``policy`` matches this field of a twin with this lineage."""
    if policy.field not in (ANY, field_name):
        return False
    return policy.model == ANY or lineage.covers(policy.model)


def most_specific(
    policies: Sequence[RetentionPolicy], field_name: str, lineage: Lineage
) -> RetentionPolicy | None:
    """The policy that decides this field's retention, or None when none matches."""
    matching = [p for p in policies if applies(p, field_name, lineage)]
    if not matching:
        return None
    level = max(p.level for p in matching)
    top = [p for p in matching if p.level == level]
    # A policy on a model some other candidate's model extends is less specific than that one.
    nearest = [
        p
        for p in top
        if not any(q.model != p.model and lineage.extends(q.model, p.model) for q in top)
    ]
    return max(nearest or top, key=lambda p: (p.keep_seconds, p.model, p.field))


def format_keep(seconds: int) -> str:
    """Seconds as the largest unit dividing them: ``2592000`` is ``30d``."""
    for unit in ("w", "d", "h", "m"):
        if seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"


def parse_keep(value: object, where: str) -> int | Violation:
    """A keep duration (seconds, or text like ``36h``, ``30d``, ``2w``) in seconds."""
    seconds: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            seconds = int(match[1]) * _UNITS[match[2] or "s"]
    if seconds is None:
        return Violation(
            where, "duration", "a duration: seconds, or a number with s, m, h, d or w", value
        )
    if seconds < MIN_KEEP_SECONDS:
        return Violation(where, "minimum", "keep history at least 1 hour (3600 s)", value)
    if seconds > MAX_KEEP_SECONDS:
        return Violation(where, "maximum", "keep at most 200 years", value)
    return seconds


def parse_policies(tenant: str, body: Any, fields_of: FieldCatalog) -> list[RetentionPolicy]:
    """A policy list from a request body (``{"policies": [...]}`` or the bare array).

    Every broken rule is reported at once, each naming its field (``policies[2].keep``).
    """
    items = body.get("policies") if isinstance(body, Mapping) else body
    if isinstance(body, Mapping) and set(body) - {"policies"}:
        extra = sorted(set(body) - {"policies"})[0]
        raise InvalidInput.single(
            "body", "unknownKey", "the body has only a 'policies' list", extra
        )
    if not isinstance(items, list):
        raise InvalidInput.single(
            "policies", "type", "give a list of {model, field, keep} policies"
        )
    if len(items) > MAX_POLICIES:
        raise InvalidInput.single("policies", "maxItems", f"at most {MAX_POLICIES} policies")
    violations: list[Violation] = []
    policies: list[RetentionPolicy] = []
    seen: set[tuple[str, str]] = set()
    for index, item in enumerate(items):
        found = _parse_one(tenant, item, f"policies[{index}]", fields_of)
        if isinstance(found, Violation):
            violations.append(found)
            continue
        if (found.model, found.field) in seen:
            violations.append(
                Violation(
                    f"policies[{index}]",
                    "unique",
                    f"another policy already covers model {found.model}, field {found.field}",
                )
            )
            continue
        seen.add((found.model, found.field))
        policies.append(found)
    if violations:
        raise InvalidInput.of(violations)
    return policies


def _parse_one(
    tenant: str, item: object, where: str, fields_of: FieldCatalog
) -> RetentionPolicy | Violation:
    if not isinstance(item, Mapping):
        return Violation(where, "type", "a policy is an object {model, field, keep}")
    unknown = sorted(str(k) for k in set(item) - _POLICY_KEYS)
    if unknown:
        return Violation(f"{where}.{unknown[0]}", "unknownKey", "policies have model, field, keep")
    model = item.get("model", ANY)
    name = item.get("field", ANY)
    if not isinstance(model, str) or (model != ANY and not _versioned_dtmi(model)):
        return Violation(
            f"{where}.model", "dtmi", "a versioned DTMI (dtmi:example:Pump;1) or '*'", model
        )
    if not isinstance(name, str) or not name or len(name) > 512:
        return Violation(f"{where}.field", "type", "a field name (1-512 characters) or '*'", name)
    if model != ANY:
        known = fields_of(tenant, model)
        if known is None:
            return Violation(f"{where}.model", "modelExists", f"no model {model} is stored", model)
        if name != ANY and name not in known:
            return Violation(
                f"{where}.field",
                "fieldDefined",
                f"{model} has no telemetry or property '{name}'",
                name,
            )
    keep = _keep_of(item, where)
    if isinstance(keep, Violation):
        return keep
    return RetentionPolicy(model, name, keep)


def _keep_of(item: Mapping[str, Any], where: str) -> int | Violation:
    """``keep`` or ``keepSeconds`` (as GET answers both, a round trip must agree)."""
    keep: int | None = None
    for key in ("keep", "keepSeconds"):
        if key not in item:
            continue
        parsed = parse_keep(item[key], f"{where}.{key}")
        if isinstance(parsed, Violation):
            return parsed
        if keep is not None and parsed != keep:
            return Violation(f"{where}.keepSeconds", "consistent", "keep and keepSeconds differ")
        keep = parsed
    if keep is None:
        return Violation(f"{where}.keep", "required", "say how long to keep history (e.g. 30d)")
    return keep


def _versioned_dtmi(text: str) -> bool:
    parsed = parse_dtmi(text)
    return parsed is not None and parsed.major_version > 0 and not parsed.fragment
