"""Appending to and reading the event stream, shared by every SQL store."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, Select, func, literal_column, select

from twinops.storage.bulk import Statement, execute_statements, insert_rows, render_rows
from twinops.storage.database import Database
from twinops.storage.schema import EVENT_BUCKET_BITS, TELEMETRY_EVENT_TYPE, events
from twinops.twins.entities import Event, EventType, NewEvent
from twinops.twins.store import EventStore

_EVENT_COLUMNS = ("tenant", "type", "subject", "occurred_at", "data")
# Literal SQL, as the partial and expression indexes are written: a planner matches an
# index's WHERE and expression only against the same text, never against bound parameters.
_TELEMETRY = events.c.type == literal_column(f"'{TELEMETRY_EVENT_TYPE}'")
_NOT_TELEMETRY = events.c.type != literal_column(f"'{TELEMETRY_EVENT_TYPE}'")
_BUCKET = events.c.seq.op(">>")(literal_column(str(EVENT_BUCKET_BITS)))
_MAX_BUCKETS_PER_QUERY = 256


def append_events(conn: Connection, new_events: Sequence[NewEvent]) -> None:
    """Append events inside the caller's transaction, in order."""
    if not new_events:
        return
    insert_rows(
        conn,
        events,
        _EVENT_COLUMNS,
        [(e.tenant, str(e.type), e.subject, e.occurred_at, dict(e.data)) for e in new_events],
        json_columns=frozenset({"data"}),
    )


def append_subject_events(
    conn: Connection,
    tenant: str,
    event_type: EventType,
    occurred_at: int,
    data_by_subject: Iterable[tuple[str, Mapping[str, Any]]],
) -> None:
    """Append one event of a type per subject, in the given order, inside the caller's transaction.

    For thousands of events a batch (one per twin an ingest batch moved), without a
    :class:`NewEvent` per event.
    """
    execute_statements(
        conn,
        render_subject_events(conn.dialect.name, tenant, event_type, occurred_at, data_by_subject),
    )


def render_subject_events(
    dialect: str,
    tenant: str,
    event_type: EventType,
    occurred_at: int,
    data_by_subject: Iterable[tuple[str, Mapping[str, Any]]],
) -> list[Statement]:
    """The statements of :func:`append_subject_events`, rendered before the transaction."""
    type_name = str(event_type)
    return render_rows(
        dialect,
        events,
        _EVENT_COLUMNS,
        [(tenant, type_name, subject, occurred_at, data) for subject, data in data_by_subject],
        json_columns=frozenset({"data"}),
    )


class SqlEventStore(EventStore):
    """The event stream in the ``events`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def append(self, new_events: Sequence[NewEvent]) -> None:
        """Append events in one transaction (events no twin write carries: drift alerts)."""
        with self._db.write() as conn:
            append_events(conn, new_events)

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
        window = _Window(after_seq, before_seq, limit, newest_first)
        # A subject's listing runs several statements: one snapshot, so an event committed
        # between them cannot be skipped by a follower paging on with `after`.
        with self._db.snapshot() if subject is not None else self._db.read() as conn:
            if subject is None:
                stmt = window.apply(select(events).where(events.c.tenant == tenant), types)
                rows = list(conn.execute(stmt))
            else:
                rows = self._of_subject(conn, tenant, subject, window, types)
        return [
            Event(
                seq=row.seq,
                tenant=row.tenant,
                type=row.type,
                subject=row.subject,
                occurred_at=row.occurred_at,
                data=row.data,
            )
            for row in rows
        ]

    def _of_subject(
        self,
        conn: Connection,
        tenant: str,
        subject: str,
        window: _Window,
        types: Collection[str] | None,
    ) -> list[Row[Any]]:
        """A subject's events: telemetry from the bucketed index, the rest from the exact one."""
        of_subject = select(events).where(events.c.tenant == tenant, events.c.subject == subject)
        rows: list[Row[Any]] = []
        if types is None or any(t != TELEMETRY_EVENT_TYPE for t in types):
            rows += conn.execute(window.apply(of_subject.where(_NOT_TELEMETRY), types))
        if types is None or TELEMETRY_EVENT_TYPE in types:
            rows += _telemetry_of_subject(conn, of_subject.where(_TELEMETRY), window)
        return window.first(rows)


@dataclass(frozen=True)
class _Window:
    """The seq range, order and size of one listing."""

    after_seq: int
    before_seq: int | None
    limit: int
    newest_first: bool

    def apply(self, stmt: Select[Any], types: Collection[str] | None = None) -> Select[Any]:
        """``stmt`` restricted to the window (and ``types``), ordered and limited."""
        stmt = stmt.where(events.c.seq > self.after_seq)
        if self.before_seq is not None:
            stmt = stmt.where(events.c.seq < self.before_seq)
        if types is not None:
            stmt = stmt.where(events.c.type.in_(sorted(types)))
        order = events.c.seq.desc() if self.newest_first else events.c.seq
        return stmt.order_by(order).limit(self.limit)

    def first(self, rows: Iterable[Row[Any]]) -> list[Row[Any]]:
        """The window's ``limit`` first rows of ``rows`` in its order."""
        ordered = sorted(rows, key=lambda row: int(row.seq), reverse=self.newest_first)
        return ordered[: self.limit]


def _telemetry_of_subject(
    conn: Connection, of_subject: Select[Any], window: _Window
) -> list[Row[Any]]:
    """A subject's telemetry events in the window, walking seq buckets in the window's order.

    Buckets go in growing runs (one, two, four...), so a follower polling the newest bucket
    pays one index seek, and an old range costs one seek per bucket, never a scan.
    """
    newest = conn.execute(select(func.max(events.c.seq))).scalar()
    if newest is None:
        return []
    low = window.after_seq + 1
    high = newest if window.before_seq is None else min(newest, window.before_seq - 1)
    if low > high:
        return []
    first, last = low >> EVENT_BUCKET_BITS, high >> EVENT_BUCKET_BITS
    step = -1 if window.newest_first else 1
    bucket = last if window.newest_first else first
    found: list[Row[Any]] = []
    run = 1
    while first <= bucket <= last and len(found) < window.limit:
        chunk = [b for b in range(bucket, bucket + run * step, step) if first <= b <= last]
        stmt = window.apply(of_subject.where(_BUCKET.in_(chunk)))
        found += conn.execute(stmt.limit(window.limit - len(found)))
        bucket += run * step
        run = min(run * 2, _MAX_BUCKETS_PER_QUERY)
    return found
