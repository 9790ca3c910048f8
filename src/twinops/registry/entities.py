"""Registry values: model versions, their evidence, aliases and the moves between them."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
"""Registered model names and aliases: lower-case words, like ``pump`` or ``candidate``."""

PRODUCTION = "production"
CANDIDATE = "candidate"

# Metrics where bigger is better; a threshold on them is a minimum. Every other metric
# (rmse, mae, mape, bias as |bias|, ...) is an error whose threshold is a maximum.
HIGHER_IS_BETTER = frozenset({"r2", "coverage"})


class EvidenceKind(StrEnum):
    """What a piece of evidence shows about a version."""

    VALIDATION = "validation"  # a validation job over held-out data, scored on thresholds
    REGRESSION = "regression"  # a declared regression scenario whose expectations held


@dataclass(frozen=True)
class Expectation:
    """A bound on one figure of a job's summary, by dotted path (``deltas.pump-1.wear.final``)."""

    path: str
    min: float | None = None
    max: float | None = None

    def to_json(self) -> dict[str, Any]:
        """As stored and answered."""
        body: dict[str, Any] = {"path": self.path}
        if self.min is not None:
            body["min"] = self.min
        if self.max is not None:
            body["max"] = self.max
        return body


@dataclass(frozen=True)
class Regression:
    """A scenario every version must pass before production: a spec and what it must show.

    ``spec`` is a scenario spec without ``model`` (the version under test fills it in).
    """

    name: str
    spec: Mapping[str, Any]
    expect: tuple[Expectation, ...]

    def to_json(self) -> dict[str, Any]:
        """As stored and answered."""
        return {
            "name": self.name,
            "spec": dict(self.spec),
            "expect": [e.to_json() for e in self.expect],
        }


@dataclass(frozen=True)
class ModelVersion:
    """An immutable registered version of a simulation model.

    ``model_ref`` names the behavior model (``module:Class``) and ``code_sha256`` its code
    when the version was registered; ``parameters`` is the parameter set (``twin_parameters``
    per twin, from a calibration that fit each twin); ``thresholds`` the
    validation bounds per output and metric that promotion to production checks;
    ``lineage`` says where the version came from (calibration job, data window, parent).
    """

    tenant: str
    name: str
    version: int
    model_ref: str
    code_sha256: str
    parameters: Mapping[str, float]
    intervals: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    twin_parameters: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    twin_model: str | None = None
    default_scenario: Mapping[str, Any] | None = None
    thresholds: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    regressions: tuple[Regression, ...] = ()
    author: str = ""
    notes: str = ""
    lineage: Mapping[str, Any] = field(default_factory=dict)
    created_at: int = 0

    @property
    def key(self) -> str:
        """``name@version``, as jobs and the audit log name it."""
        return f"{self.name}@{self.version}"

    def regression(self, name: str) -> Regression | None:
        """The declared regression called ``name``."""
        return next((r for r in self.regressions if r.name == name), None)


@dataclass(frozen=True)
class Evidence:
    """The outcome of a job, attached to the version it ran: passed or not, and why."""

    tenant: str
    name: str
    version: int
    seq: int
    kind: EvidenceKind
    label: str  # the regression's name, or "validation"
    job_id: str
    passed: bool
    metrics: Mapping[str, Any]
    reasons: tuple[str, ...]
    attached_at: int
    attached_by: str


@dataclass(frozen=True)
class NewEvidence:
    """Evidence about to be stored (the store numbers it)."""

    kind: EvidenceKind
    label: str
    job_id: str
    passed: bool
    metrics: Mapping[str, Any]
    reasons: Sequence[str]


@dataclass(frozen=True)
class Alias:
    """Where an alias points now."""

    tenant: str
    name: str
    alias: str
    version: int
    moved_at: int
    moved_by: str


@dataclass(frozen=True)
class AliasMove:
    """One move of an alias, kept for history and rollback (``previous`` None: created)."""

    tenant: str
    name: str
    alias: str
    seq: int
    previous: int | None
    version: int | None  # None: the alias was removed
    moved_at: int
    moved_by: str
    reason: str


@dataclass(frozen=True)
class RegisteredModel:
    """A registered model name: how many versions it has and where its aliases point."""

    name: str
    latest: int
    versions: int
    aliases: Mapping[str, int]
    twin_model: str | None
    model_ref: str
