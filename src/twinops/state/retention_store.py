"""The retention store contract: policies, the fields history exists for, chunked deletes.

Implementations live in ``twinops.storage``. Every method is scoped to one tenant.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from twinops.security.entities import AuditEntry
from twinops.state.retention import RetentionPolicy


@dataclass(frozen=True)
class HistoryField:
    """A field that has history, and its twin's model (None once the twin was deleted)."""

    twin_id: str
    name: str
    model: str | None


@dataclass(frozen=True)
class HistoryCut:
    """Delete a field's history with event times before ``before`` (µs)."""

    twin_id: str
    name: str
    before: int


class RetentionStore(ABC):
    """Retention policies per tenant, and what enforcing them needs from history."""

    @abstractmethod
    def policies(self, tenant: str) -> list[RetentionPolicy]:
        """The tenant's policies, in the order they were set."""

    @abstractmethod
    def replace_policies(
        self, tenant: str, policies: Sequence[RetentionPolicy], at: int, audit: AuditEntry
    ) -> None:
        """Replace the tenant's whole policy list, audited in the same transaction."""

    @abstractmethod
    def policy_tenants(self) -> list[str]:
        """Every tenant that has at least one policy."""

    @abstractmethod
    def history_fields(
        self, tenant: str, *, after: tuple[str, str] | None, limit: int
    ) -> list[HistoryField]:
        """Fields with history ordered by (twin, field), the page after ``after``."""

    @abstractmethod
    def ancestors(self, tenant: str, dtmis: Sequence[str]) -> dict[str, frozenset[str]]:
        """For each stored model, every model it extends transitively, itself included."""

    @abstractmethod
    def delete_history(
        self, tenant: str, cuts: Sequence[HistoryCut], *, chunk_rows: int
    ) -> dict[str, int]:
        """Delete history older than each cut; answer the rows deleted per field name.

        Never deletes a field's current value: neither its current-state row nor the history
        row at the current event time. Deletes run in transactions of at most ``chunk_rows``
        rows each, so no single one holds the writer for long.
        """

    @abstractmethod
    def append_audit(self, entry: AuditEntry) -> None:
        """Record an enforcement in the tenant's audit chain."""
