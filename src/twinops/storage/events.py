"""Appending to and reading the event stream, shared by every SQL store."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, select

from twinops.storage.bulk import insert_rows
from twinops.storage.database import Database
from twinops.storage.schema import events
from twinops.twins.entities import Event, EventType, NewEvent
from twinops.twins.store import EventStore

_EVENT_COLUMNS = ("tenant", "type", "subject", "occurred_at", "data")


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
    type_name = str(event_type)
    insert_rows(
        conn,
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
    ) -> list[Event]:
        """Events with a sequence number above ``after_seq`` (and below ``before_seq``),
        oldest first, or the latest ``limit`` of them first with ``newest_first``."""
        stmt = select(events).where(events.c.tenant == tenant, events.c.seq > after_seq)
        if before_seq is not None:
            stmt = stmt.where(events.c.seq < before_seq)
        if subject is not None:
            stmt = stmt.where(events.c.subject == subject)
        order = events.c.seq.desc() if newest_first else events.c.seq
        stmt = stmt.order_by(order).limit(limit)
        with self._db.read() as conn:
            return [
                Event(
                    seq=row.seq,
                    tenant=row.tenant,
                    type=row.type,
                    subject=row.subject,
                    occurred_at=row.occurred_at,
                    data=row.data,
                )
                for row in conn.execute(stmt)
            ]
