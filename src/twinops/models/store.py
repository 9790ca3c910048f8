"""The model store contract. Implementations live in ``twinops.storage``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager

from twinops.models.entities import StoredModel
from twinops.security.entities import AuditEntry
from twinops.twins.entities import NewEvent


class ModelWriter(ABC):
    """Operations inside one write transaction; all of them commit together or not at all."""

    @abstractmethod
    def get(self, tenant: str, dtmi: str) -> StoredModel | None:
        """The stored model with this exact DTMI, or None."""

    @abstractmethod
    def add(self, model: StoredModel, ancestors: frozenset[str]) -> None:
        """Store a new model version and its ``extends`` closure (self included)."""

    @abstractmethod
    def set_decommissioned(self, tenant: str, dtmi: str, decommissioned: bool) -> None:
        """Mark a model (not) decommissioned; new twins may not use a decommissioned model."""

    @abstractmethod
    def delete(self, tenant: str, dtmi: str) -> None:
        """Remove a model and its ancestry rows."""

    @abstractmethod
    def count_twins_using(self, tenant: str, dtmi: str) -> int:
        """How many twins have this exact model."""

    @abstractmethod
    def dependents(self, tenant: str, dtmi: str) -> list[str]:
        """Other stored models that extend this one."""

    @abstractmethod
    def append_event(self, event: NewEvent) -> None:
        """Append an event in this transaction."""

    @abstractmethod
    def audit(self, entry: AuditEntry) -> None:
        """Append to the tenant's audit chain in this transaction."""


class ModelStore(ABC):
    """Stored DTDL interfaces, per tenant. Versions are immutable once stored."""

    @abstractmethod
    def get(self, tenant: str, dtmi: str) -> StoredModel | None:
        """The stored model with this exact DTMI, or None."""

    @abstractmethod
    def get_many(self, tenant: str, dtmis: Sequence[str]) -> Mapping[str, StoredModel]:
        """The stored models among ``dtmis``, by DTMI."""

    @abstractmethod
    def list_models(
        self,
        tenant: str,
        *,
        base_dtmi: str | None = None,
        limit: int = 1000,
        after: str | None = None,
    ) -> list[StoredModel]:
        """Models ordered by DTMI, optionally one interface's versions, keyset-paginated."""

    @abstractmethod
    def latest_before(self, tenant: str, base_dtmi: str, version: int) -> StoredModel | None:
        """The newest stored version of ``base_dtmi`` older than ``version``."""

    @abstractmethod
    def transaction(self) -> AbstractContextManager[ModelWriter]:
        """A write transaction."""


def iter_pages(store: ModelStore, tenant: str, *, page_size: int = 1000) -> Iterator[StoredModel]:
    """Every model of a tenant, page by page."""
    after: str | None = None
    while True:
        page = store.list_models(tenant, limit=page_size, after=after)
        yield from page
        if len(page) < page_size:
            return
        after = page[-1].dtmi
