"""The registry store contract; implementations live in ``twinops.storage``.

Versions are immutable once stored; evidence is append-only; an alias move and its audit
record are written in one transaction, compare-and-set on where the alias pointed.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from twinops.registry.entities import (
    Alias,
    AliasMove,
    Evidence,
    ModelVersion,
    NewEvidence,
    RegisteredModel,
)
from twinops.security.entities import AuditEntry


class StaleAlias(Exception):
    """The alias moved since the caller read it."""


class RegistryStore(ABC):
    """Model versions, their evidence, aliases and alias history, per tenant."""

    @abstractmethod
    def add_version(self, version: ModelVersion, audit: AuditEntry) -> ModelVersion:
        """Store ``version`` as the next number of its name (the given number is ignored)."""

    @abstractmethod
    def version(self, tenant: str, name: str, number: int) -> ModelVersion | None:
        """One version."""

    @abstractmethod
    def versions(self, tenant: str, name: str) -> list[ModelVersion]:
        """Every version of a name, oldest first."""

    @abstractmethod
    def models(self, tenant: str) -> list[RegisteredModel]:
        """Every registered name of the tenant, with its aliases."""

    @abstractmethod
    def add_evidence(
        self,
        tenant: str,
        name: str,
        number: int,
        evidence: NewEvidence,
        at: int,
        by: str,
        audit: AuditEntry,
    ) -> Evidence:
        """Append evidence to a version."""

    @abstractmethod
    def evidence(self, tenant: str, name: str, number: int) -> list[Evidence]:
        """A version's evidence, oldest first."""

    @abstractmethod
    def aliases(self, tenant: str, name: str) -> list[Alias]:
        """Where each alias of a name points."""

    @abstractmethod
    def move_alias(
        self,
        tenant: str,
        name: str,
        alias: str,
        expected: int | None,
        version: int | None,
        at: int,
        by: str,
        reason: str,
        audit: AuditEntry,
    ) -> AliasMove:
        """Point ``alias`` at ``version`` (None removes it) if it still points at ``expected``
        (None: absent); raise StaleAlias otherwise."""

    @abstractmethod
    def alias_history(self, tenant: str, name: str, alias: str | None = None) -> list[AliasMove]:
        """Alias moves of a name (or of one alias), oldest first."""
