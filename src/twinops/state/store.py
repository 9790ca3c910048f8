"""The state store contract. Implementations live in ``twinops.storage``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from twinops.state.entities import (
    AcceptedPoint,
    ApplyResult,
    FieldValue,
    Quality,
    QuarantineEntry,
    Rejected,
    Sample,
    Window,
)
from twinops.twins.store import Page


class StateStore(ABC):
    """History and current state of twin fields, quarantine and data quality, per tenant."""

    @abstractmethod
    def apply(
        self,
        tenant: str,
        points: Sequence[AcceptedPoint],
        rejected: Sequence[Rejected],
        ingest_time: int,
    ) -> ApplyResult:
        """Store a batch atomically.

        Points repeating a stored message id, or a stored (field, event time) with the same
        value, are duplicates; another value at a stored (field, event time) is a conflict and
        goes to quarantine. History keeps every other point; current state takes a point only
        when its event time is newer than the stored one (otherwise it counts as late).
        A point's flags are kept on its history row; new points flagged VERY_LATE are counted
        (result and data quality).
        """

    @abstractmethod
    def current(self, tenant: str, twin_id: str) -> dict[str, FieldValue]:
        """The latest-event value of every field of a twin."""

    @abstractmethod
    def as_of(
        self, tenant: str, twin_ids: Sequence[str], at: int
    ) -> dict[str, dict[str, FieldValue]]:
        """For each twin, every field's value with the latest event time at or before ``at``."""

    @abstractmethod
    def history(
        self,
        tenant: str,
        twin_id: str,
        name: str,
        *,
        start: int | None,
        end: int | None,
        limit: int,
        after: int | None = None,
    ) -> Page[Sample]:
        """A field's points (with their flags) in event-time order within [start, end)."""

    @abstractmethod
    def windows(
        self, tenant: str, twin_id: str, name: str, *, start: int, end: int, interval: int
    ) -> list[Window]:
        """Count, mean, min, max and last per interval (numeric fields)."""

    @abstractmethod
    def quarantined(
        self,
        tenant: str,
        *,
        twin_id: str | None = None,
        rule: str | None = None,
        include_replayed: bool = False,
        limit: int = 100,
        after: int = 0,
    ) -> list[QuarantineEntry]:
        """Rejected points, oldest first, optionally of one twin or rule."""

    @abstractmethod
    def mark_replayed(self, tenant: str, ids: Sequence[int], at: int) -> None:
        """Record that quarantined points were replayed."""

    @abstractmethod
    def quality(self, tenant: str, twin_id: str | None = None) -> list[Quality]:
        """Accepted, duplicate, late, very-late and quarantined counts per twin and source."""

    def close(self) -> None:  # noqa: B027 - an optional hook, not part of the contract
        """Stop any background work (a store with none has nothing to do)."""
