"""The intermediate graph the parser builds before entities: elements, references, contexts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ActiveContext:
    """The DTDL version and extensions in force for an element and its structural children."""

    version: int
    extensions: frozenset[str] = frozenset()
    undefined: bool = False


@dataclass(frozen=True)
class Ref:
    """A dependent reference: a DTMI written in place of an element."""

    dtmi: str
    pointer: str


@dataclass(frozen=True)
class Standard:
    """A standard (primitive or geospatial) schema named by term or DTMI."""

    term: str


@dataclass
class Node:
    """One DTDL element as found in a document, with its members decoded."""

    cls: str
    version: int
    source: str
    pointer: str
    partition: int
    top_level: bool
    parent: Node | None
    via: str | None
    id: str | None = None
    members: dict[str, list[Any]] = field(default_factory=dict)
    literals: dict[str, Any] = field(default_factory=dict)
    semantic_types: list[str] = field(default_factory=list)
    adjuncts: list[str] = field(default_factory=list)
    # The extensions' AdjunctType for each term in ``adjuncts`` (typed loosely: no import cycle).
    adjunct_specs: list[Any] = field(default_factory=list)
    unit: str | None = None
    informal: bool = False

    @property
    def where(self) -> str:
        """How problems name this element: its @id, else its JSON pointer."""
        return self.id or self.pointer or "/"

    def children(self, member: str) -> list[Any]:
        """The values (nodes, references, standard schemas) of an element-valued member."""
        return self.members.get(member, [])
