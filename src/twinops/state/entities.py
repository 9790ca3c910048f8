"""State entities: accepted points, field values, windows and quarantine entries. No I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntFlag
from typing import Any, NamedTuple


class PointFlag(IntFlag):
    """Marks a stored point carries; a bitmask, so a new mark needs no new column."""

    NONE = 0
    # The event happened longer before its arrival than the configured lateness bound.
    VERY_LATE = 1


_FLAG_NAMES = {PointFlag.VERY_LATE: "veryLate"}


def flag_names(flags: PointFlag) -> list[str]:
    """The API names of the marks set in ``flags`` (``["veryLate"]``...), in bit order."""
    return [name for flag, name in _FLAG_NAMES.items() if flag in flags]


class AcceptedPoint(NamedTuple):
    """A point that passed validation, in the model's canonical unit.

    A named tuple rather than a frozen dataclass: ingest makes one per point, and a frozen
    dataclass's ``__init__`` (one ``object.__setattr__`` per field) cost three times as much.
    """

    twin_id: str
    name: str
    event_time: int
    value: Any
    source: str
    message_id: str | None = None
    flags: PointFlag = PointFlag.NONE


@dataclass(frozen=True)
class Rejected:
    """A point that cannot be applied, kept with the reason it was refused."""

    source: str
    payload: Mapping[str, Any]
    field: str
    rule: str
    reason: str
    twin_id: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class QuarantineEntry:
    """A stored rejected point."""

    id: int
    tenant: str
    source: str
    received_at: int
    twin_id: str | None
    name: str | None
    field: str
    rule: str
    reason: str
    payload: Mapping[str, Any]
    replayed_at: int | None


@dataclass(frozen=True)
class ApplyResult:
    """What applying a batch did, point by point in aggregate."""

    accepted: int = 0
    duplicates: int = 0
    late: int = 0
    quarantined: int = 0
    conflicts: tuple[Rejected, ...] = ()
    very_late: int = 0  # accepted points flagged VERY_LATE (stored, never dropped)

    def to_json(self) -> dict[str, int]:
        """The counts an ingest response reports."""
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "late": self.late,
            "veryLate": self.very_late,
            "quarantined": self.quarantined,
        }


@dataclass(frozen=True)
class FieldValue:
    """A field's value at an event time, and when it arrived."""

    name: str
    value: Any
    event_time: int
    ingest_time: int
    source: str


@dataclass(frozen=True)
class Sample:
    """One point of a field's history."""

    time: int
    value: Any
    flags: PointFlag = PointFlag.NONE


@dataclass(frozen=True)
class Window:
    """Aggregates of a numeric field over one interval."""

    start: int
    count: int
    mean: float | None
    min: float | None
    max: float | None
    last: Any


@dataclass(frozen=True)
class Quality:
    """Data-quality figures of one twin from one source."""

    twin_id: str
    source: str
    accepted: int
    duplicates: int
    late: int
    quarantined: int
    last_event_time: int | None
    last_ingest_time: int | None
    extra: Mapping[str, Any] = field(default_factory=dict)
    very_late: int = 0
