"""The body that registers a model version, parsed with precise errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from twinops.errors import InvalidInput, Violation
from twinops.registry.entities import NAME_PATTERN

METRICS = frozenset({"rmse", "mae", "mape", "bias", "r2", "coverage"})


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ExpectationBody(_Body):
    """A bound on one figure of a regression job's summary."""

    path: str = Field(min_length=1, max_length=500)
    min: float | None = None
    max: float | None = None


class RegressionBody(_Body):
    """A regression scenario: a spec (without model) and its expectations."""

    name: str = Field(min_length=1, max_length=128)
    spec: dict[str, Any]
    expect: tuple[ExpectationBody, ...] = Field(min_length=1, max_length=100)

    @field_validator("spec")
    @classmethod
    def _no_model(cls, spec: dict[str, Any]) -> dict[str, Any]:
        if "model" in spec or "registry" in spec:
            raise ValueError("a regression spec runs the version under test: leave out 'model'")
        if not isinstance(spec.get("kind"), str):
            raise ValueError("a regression spec names its scenario kind ('kind: what-if', ...)")
        return spec


class VersionBody(_Body):
    """What registering a version takes (camelCase keys, like every API body)."""

    model: str = Field(min_length=3, max_length=300)
    parameters: dict[str, float] = Field(default_factory=dict, max_length=1000)
    intervals: dict[str, tuple[float, float]] = Field(default_factory=dict, max_length=1000)
    twin_parameters: dict[str, dict[str, float]] = Field(
        default_factory=dict, alias="twinParameters", max_length=10_000
    )
    twin_model: str | None = Field(default=None, alias="twinModel", max_length=2048)
    default_scenario: dict[str, Any] | None = Field(default=None, alias="defaultScenario")
    thresholds: dict[str, dict[str, float]] = Field(default_factory=dict, max_length=1000)
    regressions: tuple[RegressionBody, ...] = Field(default=(), max_length=100)
    notes: str = Field(default="", max_length=10_000)
    lineage: dict[str, Any] = Field(default_factory=dict)

    @field_validator("thresholds")
    @classmethod
    def _metrics(cls, thresholds: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        for output, bounds in thresholds.items():
            unknown = sorted(set(bounds) - METRICS)
            if unknown:
                raise ValueError(
                    f"{output}: unknown metric {unknown[0]!r}; thresholds use"
                    f" {', '.join(sorted(METRICS))}"
                )
        return thresholds

    @field_validator("regressions")
    @classmethod
    def _unique(cls, regressions: tuple[RegressionBody, ...]) -> tuple[RegressionBody, ...]:
        names = [r.name for r in regressions]
        if len(set(names)) != len(names):
            raise ValueError("regression names must be unique")
        return regressions


def check_name(value: Any, field: str) -> str:
    """A registered model name or alias, or a 422 naming the rule."""
    if not isinstance(value, str) or not NAME_PATTERN.match(value):
        raise InvalidInput.single(
            field,
            "pattern",
            "lower-case letters, digits, '_' and '-', starting with a letter, at most 64",
            value,
        )
    return value


def parse_version_body(raw: Any) -> VersionBody:
    """Parse a registration body, answering every problem with its JSON pointer."""
    if not isinstance(raw, Mapping):
        raise InvalidInput.single("body", "type", "a version is a JSON object")
    try:
        return VersionBody.model_validate(raw)
    except ValidationError as exc:
        violations = [
            Violation(
                "/" + "/".join(str(p) for p in error["loc"]),
                str(error["type"]),
                str(error["msg"]).removeprefix("Value error, "),
            )
            for error in exc.errors()
        ]
        raise InvalidInput("the model version is not valid", violations) from None
