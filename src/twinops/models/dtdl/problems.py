"""Sources, problems and results of DTDL parsing (plain values, no parsing logic)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from twinops.errors import Violation
from twinops.models.dtdl.elements import Interface
from twinops.models.dtdl.modelset import ModelSet


@dataclass(frozen=True)
class DtdlSource:
    """One document text (or already-parsed JSON) and where it came from."""

    name: str
    text: str | None = None
    obj: Any = None


@dataclass(frozen=True)
class DtdlProblem:
    """One broken rule: the source, the element (@id or JSON pointer), the rule and why."""

    source: str
    element: str
    rule: str
    message: str

    def to_violation(self) -> Violation:
        """The problem as a platform violation whose field names source and element."""
        where = f"{self.source}#{self.element}" if self.source else self.element
        return Violation(field=where, rule=self.rule, message=self.message)

    def __str__(self) -> str:
        return f"{self.source}#{self.element}: [{self.rule}] {self.message}"


@dataclass(frozen=True)
class ParseResult:
    """Problems found, and the interfaces when the documents form a valid model set."""

    problems: tuple[DtdlProblem, ...]
    interfaces: Mapping[str, Interface] = field(default_factory=dict)
    documents: Mapping[str, Any] = field(default_factory=dict)
    unsupported_extensions: frozenset[str] = frozenset()

    @property
    def ok(self) -> bool:
        """True when there is no problem."""
        return not self.problems

    @property
    def model_set(self) -> ModelSet:
        """The interfaces with inheritance queries."""
        return ModelSet(self.interfaces)
