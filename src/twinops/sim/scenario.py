"""Scenario specs: what to simulate, parsed from YAML/JSON into one canonical, hashable form.

A spec names a ``kind`` (``what-if``, ``sweep``, ``monte-carlo``, ``sensitivity``), a behavior
``model`` (``twinops.sim.library.pump:PumpModel``), the ``twins`` it starts from (their current
state, or as of ``asOf``), parameter overrides, input profiles, a ``horizon`` and a ``step``,
and the fields of its kind. :func:`parse_spec` checks all of it — including against the
model's signature — and fills in the defaults, so the canonical JSON (sorted keys, no
whitespace) says exactly what runs; its sha256 identifies the spec.

Every problem raises :class:`~twinops.errors.InvalidInput` whose violations name the field
(``inputs.speed.value``, ``twins[2]``) and the rule (``required``, ``type``, ``range``,
``duration``, ``unknownModel``, ``unknownParameter``, ``quota``, ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from pydantic import Field, ValidationError, field_validator

from twinops.errors import InvalidInput, MalformedInput, Violation
from twinops.sim.fields import Duration, Instant
from twinops.sim.priors import Prior
from twinops.sim.profiles import Profile, SpecModel
from twinops.sim.registry_ref import RegistryRef
from twinops.twins.entities import TWIN_ID_PATTERN

Kind = Literal["what-if", "sweep", "monte-carlo", "sensitivity"]
KINDS: tuple[Kind, ...] = ("what-if", "sweep", "monte-carlo", "sensitivity")
DEFAULT_PERCENTILES = (5.0, 25.0, 50.0, 75.0, 95.0)
MAX_SPEC_BYTES = 1_000_000


class Changes(SpecModel):
    """What a what-if changes against its baseline: parameters and/or input profiles."""

    parameters: dict[str, float] = Field(default_factory=dict, max_length=1000)
    inputs: dict[str, Profile] = Field(default_factory=dict, max_length=1000)


def _grid_axis(value: Any) -> Any:
    """``{low, high, count}`` becomes its evenly spaced values; a list stays as it is."""
    if isinstance(value, Mapping) and set(value) == {"low", "high", "count"}:
        low, high, count = value["low"], value["high"], value["count"]
        numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high))
        if (
            numbers
            and isinstance(count, int)
            and not isinstance(count, bool)
            and 1 <= count <= 10_000
        ):
            # 12 significant digits: 0.9, not 0.9000000000000001, in the canonical JSON.
            return [float(f"{v:.12g}") for v in np.linspace(float(low), float(high), count)]
    return value


def _uniform_range(value: Any) -> Any:
    """``{low, high}`` is shorthand for a uniform distribution."""
    if isinstance(value, Mapping) and "distribution" not in value:
        return {"distribution": "uniform", **value}
    return value


class ScenarioSpec(SpecModel):
    """A scenario, as parsed and completed by :func:`parse_spec` (never build one directly)."""

    kind: Kind
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=4000)
    model: str = Field(min_length=3, max_length=300)
    registry: RegistryRef | None = None
    twins: tuple[str, ...] = Field(min_length=1, max_length=1000)
    as_of: Instant | None = None
    start: Instant | None = None
    horizon: Duration
    step: Duration
    record: Duration | None = None
    parameters: dict[str, float] = Field(default_factory=dict, max_length=1000)
    twin_parameters: dict[str, dict[str, float]] = Field(default_factory=dict, max_length=1000)
    inputs: dict[str, Profile] = Field(default_factory=dict, max_length=1000)
    outputs: tuple[str, ...] | None = Field(default=None, min_length=1, max_length=1000)
    seed: int = Field(default=0, ge=0, lt=2**63)
    # what-if
    changes: Changes | None = None
    # sweep
    grid: dict[str, tuple[float, ...]] | None = Field(default=None, min_length=1, max_length=32)
    random: dict[str, Prior] | None = Field(default=None, min_length=1, max_length=1000)
    samples: int | None = Field(default=None, ge=1, le=1_000_000)
    # monte-carlo (and sensitivity: distributions, usePriors, confidence)
    runs: int | None = Field(default=None, ge=1, le=1_000_000)
    distributions: dict[str, Prior] | None = Field(default=None, max_length=1000)
    use_priors: bool | None = None
    percentiles: tuple[float, ...] | None = Field(default=None, min_length=1, max_length=101)
    confidence: float | None = Field(default=None, gt=0.0, lt=1.0)
    # sensitivity
    method: Literal["sobol", "oat"] | None = None
    vary: tuple[str, ...] | None = Field(default=None, min_length=1, max_length=1000)
    metric: Literal["final", "mean", "max"] | None = None

    @field_validator("twins")
    @classmethod
    def _twin_ids(cls, twins: tuple[str, ...]) -> tuple[str, ...]:
        return check_twin_ids(twins)

    @field_validator("grid", mode="before")
    @classmethod
    def _grid(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: _grid_axis(v) for k, v in value.items()}
        return value

    @field_validator("random", mode="before")
    @classmethod
    def _random(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: _uniform_range(v) for k, v in value.items()}
        return value

    @field_validator("grid")
    @classmethod
    def _grid_sizes(
        cls, grid: dict[str, tuple[float, ...]] | None
    ) -> dict[str, tuple[float, ...]] | None:
        if grid is not None:
            for values in grid.values():
                if not 1 <= len(values) <= 10_000:
                    raise ValueError("each grid axis holds 1 to 10,000 values")
        return grid

    @field_validator("percentiles")
    @classmethod
    def _percentiles(cls, values: tuple[float, ...] | None) -> tuple[float, ...] | None:
        if values is not None:
            if any(not 0.0 <= v <= 100.0 for v in values):
                raise ValueError("percentiles lie between 0 and 100")
            values = tuple(sorted(set(values)))
        return values

    @property
    def steps(self) -> int:
        """Steps over the horizon."""
        return self.horizon // self.step

    @property
    def record_every(self) -> int:
        """Steps between recorded times."""
        return (self.record or self.step) // self.step


def check_twin_ids(twins: tuple[str, ...]) -> tuple[str, ...]:
    """The twins of a spec: valid ids, each once (a pydantic validator's check)."""
    for twin in twins:
        if not TWIN_ID_PATTERN.match(twin):
            raise ValueError(f"{twin!r} is not a twin id")
    if len(set(twins)) != len(twins):
        raise ValueError("twin ids must be unique")
    return twins


def parse_spec(raw: Mapping[str, Any]) -> ScenarioSpec:
    """A complete, checked spec from its JSON/YAML value; InvalidInput names field and rule."""
    from twinops.sim.checks import check_spec

    if not isinstance(raw, Mapping):
        raise InvalidInput.single("", "type", "a scenario spec is a JSON/YAML object")
    try:
        spec = ScenarioSpec.model_validate(dict(raw))
    except ValidationError as exc:
        raise InvalidInput.of(_violations(exc, raw)) from None
    except (TypeError, ValueError, RecursionError) as exc:  # unhashable keys and the like
        raise InvalidInput.single("", "type", f"not a valid spec: {exc}") from None
    return check_spec(spec)


def load_spec(source: Path | str) -> ScenarioSpec:
    """Read and parse a spec from a YAML or JSON file (or from its text)."""
    text = source.read_text(encoding="utf-8") if isinstance(source, Path) else source
    return parse_spec(read_spec_text(text))


def read_spec_text(text: str) -> dict[str, Any]:
    """The JSON/YAML value of a spec's text (YAML is a superset of JSON)."""
    if len(text.encode("utf-8")) > MAX_SPEC_BYTES:
        raise InvalidInput.single("", "quota", f"a spec is at most {MAX_SPEC_BYTES} bytes")
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MalformedInput.single("", "yaml", f"not valid YAML or JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidInput.single("", "type", "a scenario spec is a JSON/YAML object")
    return value


# -- error locations ------------------------------------------------------------------------

_RULES = {
    "missing": "required",
    "extra_forbidden": "unknownKey",
    "literal_error": "enum",
    "union_tag_invalid": "enum",
    "union_tag_not_found": "required",
    "too_short": "length",
    "too_long": "length",
    "string_too_short": "length",
    "string_too_long": "length",
    "greater_than": "range",
    "greater_than_equal": "range",
    "less_than": "range",
    "less_than_equal": "range",
    "finite_number": "finite",
    "value_error": "value",
    "string_pattern_mismatch": "pattern",
}


def _rule(kind: str) -> str:
    if kind in _RULES:
        return _RULES[kind]
    if kind.endswith(("_type", "_parsing")):
        return "type"
    return kind


def _violations(exc: ValidationError, raw: Any) -> list[Violation]:
    violations = []
    for error in exc.errors():
        path = _path(error.get("loc", ()), raw)
        message = str(error["msg"]).removeprefix("Value error, ")
        violations.append(Violation(path, _rule(str(error["type"])), message))
    return violations or [Violation("", "type", "not a valid spec")]


def _path(loc: tuple[Any, ...], raw: Any) -> str:
    """A pydantic location as ``inputs.speed.value`` / ``twins[0]``, skipping union tags."""
    text = ""
    node = raw
    for part in loc:
        if isinstance(part, int) and isinstance(node, list | tuple):
            text += f"[{part}]"
            node = node[part] if 0 <= part < len(node) else None
            continue
        if isinstance(node, Mapping) and part in node:
            text += f".{part}" if text else str(part)
            node = node[part]
            continue
        if isinstance(node, Mapping) and part in (node.get("profile"), node.get("distribution")):
            continue  # the tag of a discriminated union: not a key of the input
        if isinstance(part, str) and "[" in part:
            continue  # pydantic's description of a function validator
        text += f".{part}" if text else str(part)
        node = None
    return text


def is_power_of_two(value: int) -> bool:
    """Whether ``value`` is 1, 2, 4, 8, ..."""
    return value > 0 and (value & (value - 1)) == 0
