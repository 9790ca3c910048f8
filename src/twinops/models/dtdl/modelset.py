"""A resolved set of interfaces with inheritance queries (the ``extends`` closure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from twinops.models.dtdl.elements import Content, Interface


@dataclass(frozen=True)
class ModelSet:
    """Interfaces by DTMI, answering inheritance questions without I/O."""

    interfaces: Mapping[str, Interface] = field(default_factory=dict)

    def get(self, dtmi: str) -> Interface | None:
        """The interface with this DTMI, or None."""
        return self.interfaces.get(dtmi)

    def ancestors(self, dtmi: str) -> set[str]:
        """The DTMIs of the interface and everything it extends, transitively."""
        seen: set[str] = set()
        stack = [dtmi]
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            interface = self.interfaces.get(current)
            if interface is not None:
                stack.extend(interface.extends)
        return seen

    def all_contents(self, dtmi: str) -> Mapping[str, Content]:
        """Contents by name including everything inherited through ``extends``."""
        merged: dict[str, Content] = {}
        order: list[str] = []
        seen: set[str] = set()

        def visit(current: str) -> None:
            if current in seen:
                return
            seen.add(current)
            interface = self.interfaces.get(current)
            if interface is None:
                return
            for parent in interface.extends:
                visit(parent)
            order.append(current)

        visit(dtmi)
        for current in order:
            merged.update(self.interfaces[current].contents)
        return MappingProxyType(merged)

    def is_a(self, dtmi: str, ancestor: str) -> bool:
        """True when ``dtmi`` is ``ancestor`` or extends it."""
        return ancestor in self.ancestors(dtmi)
