"""The twin-graph store contract. Implementations live in ``twinops.storage``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Generic, TypeVar

from twinops.security.entities import AuditEntry
from twinops.twins.entities import Event, ExternalId, NewEvent, Relationship, Twin

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a keyset-paginated listing; ``next`` is the cursor for the following one."""

    items: list[T]
    next: str | None


class TwinWriter(ABC):
    """Operations inside one write transaction; all of them commit together or not at all."""

    @abstractmethod
    def get_twin(self, tenant: str, twin_id: str, *, lock: bool = False) -> Twin | None:
        """The twin, optionally locked against concurrent writers until commit."""

    @abstractmethod
    def get_twins(self, tenant: str, twin_ids: list[str]) -> dict[str, Twin]:
        """The twins among ``twin_ids`` that exist."""

    @abstractmethod
    def insert_twin(self, twin: Twin) -> None:
        """Insert a new twin (the id must not exist)."""

    @abstractmethod
    def insert_twins(self, twins: list[Twin]) -> None:
        """Insert many new twins at once."""

    @abstractmethod
    def update_twin(self, twin: Twin) -> None:
        """Overwrite an existing twin's model, contents, metadata and ETag."""

    @abstractmethod
    def delete_twin(self, tenant: str, twin_id: str) -> None:
        """Delete a twin and its external-id mappings."""

    @abstractmethod
    def count_relationships(self, tenant: str, twin_id: str) -> int:
        """Relationships from or to the twin."""

    @abstractmethod
    def get_relationship(self, tenant: str, source_id: str, rel_id: str) -> Relationship | None:
        """A relationship by source twin and relationship id."""

    @abstractmethod
    def count_named(self, tenant: str, source_id: str, name: str, excluding: str) -> int:
        """Relationships named ``name`` from ``source_id``, other than ``excluding``."""

    @abstractmethod
    def upsert_relationship(self, rel: Relationship) -> None:
        """Insert or overwrite a relationship."""

    @abstractmethod
    def upsert_relationships(self, rels: list[Relationship]) -> None:
        """Insert many relationships at once."""

    @abstractmethod
    def delete_relationship(self, tenant: str, source_id: str, rel_id: str) -> None:
        """Delete a relationship."""

    @abstractmethod
    def model_state(self, tenant: str, dtmi: str) -> bool | None:
        """None when the model is not stored, else whether it is decommissioned."""

    @abstractmethod
    def put_external_id(self, mapping: ExternalId) -> None:
        """Map a source system's id onto a twin (replacing an earlier mapping of that id)."""

    @abstractmethod
    def delete_external_id(self, tenant: str, source_system: str, source_id: str) -> str | None:
        """Remove a mapping; the twin it pointed at, or None when there was none."""

    @abstractmethod
    def append_event(self, event: NewEvent) -> None:
        """Append an event in this transaction."""

    @abstractmethod
    def audit(self, entry: AuditEntry) -> None:
        """Append to the tenant's audit chain in this transaction."""

    @abstractmethod
    def append_events(self, events: list[NewEvent]) -> None:
        """Append several events in this transaction, in order."""


class TwinStore(ABC):
    """Twins, relationships and external ids, per tenant."""

    @abstractmethod
    def get_twin(self, tenant: str, twin_id: str) -> Twin | None:
        """The twin, or None."""

    @abstractmethod
    def twin_models(self, tenant: str, twin_ids: Sequence[str]) -> dict[str, str]:
        """The model of each twin among ``twin_ids`` that exists."""

    @abstractmethod
    def get_twins(self, tenant: str, twin_ids: Collection[str]) -> dict[str, Twin]:
        """Each twin among ``twin_ids`` that exists, by id, in a few reads."""

    @abstractmethod
    def list_twins(
        self, tenant: str, *, model: str | None = None, limit: int = 100, after: str | None = None
    ) -> Page[Twin]:
        """Twins ordered by id, optionally of one exact model."""

    @abstractmethod
    def get_relationship(self, tenant: str, source_id: str, rel_id: str) -> Relationship | None:
        """A relationship by source twin and relationship id."""

    @abstractmethod
    def list_relationships(
        self,
        tenant: str,
        source_id: str,
        *,
        name: str | None = None,
        limit: int = 100,
        after: str | None = None,
    ) -> Page[Relationship]:
        """Outgoing relationships of a twin, ordered by relationship id."""

    @abstractmethod
    def list_incoming(
        self, tenant: str, target_id: str, *, limit: int = 100, after: str | None = None
    ) -> Page[Relationship]:
        """Relationships pointing at a twin, ordered by (source id, relationship id)."""

    @abstractmethod
    def resolve_external_id(self, tenant: str, source_system: str, source_id: str) -> str | None:
        """The twin a source system's id maps to."""

    @abstractmethod
    def list_external_ids(self, tenant: str, twin_id: str) -> list[ExternalId]:
        """Every source-system id mapped onto a twin."""

    @abstractmethod
    def query(
        self,
        tenant: str,
        text: str,
        *,
        page_size: int,
        continuation: str | None,
        max_joins: int,
    ) -> Page[dict[str, object]]:
        """Run a twin query (the ADT-like language) and return one page of results."""

    @abstractmethod
    def transaction(self) -> AbstractContextManager[TwinWriter]:
        """A write transaction."""


class EventStore(ABC):
    """The ordered stream of everything that happened, per tenant."""

    @abstractmethod
    def append(self, new_events: Sequence[NewEvent]) -> None:
        """Append events in one transaction."""

    @abstractmethod
    def list_events(
        self,
        tenant: str,
        *,
        after_seq: int = 0,
        subject: str | None = None,
        limit: int = 100,
        newest_first: bool = False,
        before_seq: int | None = None,
        types: Collection[str] | None = None,
    ) -> list[Event]:
        """Events with a sequence number above ``after_seq`` (and below ``before_seq``),
        oldest first, or the latest ``limit`` of them first with ``newest_first``; only
        events of ``types`` when given."""
