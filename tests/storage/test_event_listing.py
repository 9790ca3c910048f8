"""Listing events by subject: telemetry events through the seq-bucketed index, others exactly."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from twinops.storage import Database
from twinops.storage import events as sql_events
from twinops.storage.events import SqlEventStore, append_subject_events
from twinops.storage.schema import EVENT_BUCKET_BITS
from twinops.twins.entities import EventType, NewEvent

BUCKET = 1 << EVENT_BUCKET_BITS
TELEMETRY = str(EventType.TELEMETRY_APPLIED)


def _telemetry_batches(database: Database, tenant: str, batches: int, twins: int) -> None:
    """``batches`` ingest-like batches: one TelemetryApplied event per twin each."""
    with database.write() as conn:
        for b in range(batches):
            append_subject_events(
                conn,
                tenant,
                EventType.TELEMETRY_APPLIED,
                b,
                [(f"tw{i}", {"batch": b}) for i in range(twins)],
            )


def _created(events: SqlEventStore, tenant: str, subject: str, at: int) -> None:
    events.append([NewEvent(tenant, EventType.TWIN_CREATED, subject, at, {"at": at})])


def test_a_subjects_events_interleave_telemetry_and_others_in_seq_order_across_buckets(
    database: Database, tenant: str
) -> None:
    events = SqlEventStore(database)
    _created(events, tenant, "tw1", -1)
    # 3 batches of 10,000 twins: the events of tw1 span more than one seq bucket.
    _telemetry_batches(database, tenant, 3, 10_000)
    _created(events, tenant, "tw1", 99)
    _telemetry_batches(database, tenant, 1, 10_000)
    every = events.list_events(tenant, limit=100_000)
    assert every[-1].seq - every[0].seq >= 2 * BUCKET
    expected = [e for e in every if e.subject == "tw1"]
    assert [e.type for e in expected] == ["TwinCreated", *[TELEMETRY] * 3, "TwinCreated", TELEMETRY]

    listed = events.list_events(tenant, subject="tw1")
    assert listed == expected
    assert events.list_events(tenant, subject="tw1", newest_first=True) == expected[::-1]
    assert events.list_events(tenant, subject="tw1", limit=2) == expected[:2]
    assert events.list_events(tenant, subject="tw1", newest_first=True, limit=2) == expected[:-3:-1]
    middle = events.list_events(
        tenant, subject="tw1", after_seq=expected[1].seq, before_seq=expected[5].seq
    )
    assert middle == expected[2:5]
    # Paging by `after` walks the whole stream, one event at a time.
    paged, after = [], 0
    while page := events.list_events(tenant, subject="tw1", after_seq=after, limit=1):
        paged += page
        after = page[-1].seq
    assert paged == expected


def test_listing_by_type_keeps_only_those_types(database: Database, tenant: str) -> None:
    events = SqlEventStore(database)
    _created(events, tenant, "tw1", 1)
    _telemetry_batches(database, tenant, 2, 3)
    events.append([NewEvent(tenant, EventType.DRIFT_DETECTED, "tw1", 5, {"residual": 1.0})])

    drift = events.list_events(tenant, subject="tw1", types=["DriftDetected"])
    assert [e.type for e in drift] == ["DriftDetected"]
    telemetry = events.list_events(tenant, subject="tw1", types=[TELEMETRY])
    assert [e.data for e in telemetry] == [{"batch": 0}, {"batch": 1}]
    anyone = events.list_events(tenant, types=[TELEMETRY], newest_first=True, limit=4)
    assert [(e.subject, e.data["batch"]) for e in anyone] == [
        ("tw2", 1),
        ("tw1", 1),
        ("tw0", 1),
        ("tw2", 0),
    ]


def test_the_newest_alerts_are_found_behind_any_number_of_telemetry_events(
    database: Database, tenant: str
) -> None:
    events = SqlEventStore(database)
    events.append([NewEvent(tenant, EventType.DRIFT_DETECTED, "tw1", 1, {"residual": 2.0})])
    _telemetry_batches(database, tenant, 3, 3_000)
    found = events.list_events(
        tenant, newest_first=True, limit=10, types=[str(EventType.DRIFT_DETECTED)]
    )
    assert [(e.subject, e.data) for e in found] == [("tw1", {"residual": 2.0})]


def test_an_empty_stream_and_an_empty_window_list_nothing(database: Database, tenant: str) -> None:
    events = SqlEventStore(database)
    assert events.list_events(tenant, subject="tw1") == []
    _telemetry_batches(database, tenant, 1, 2)
    newest = events.list_events(tenant, newest_first=True, limit=1)[0].seq
    assert events.list_events(tenant, subject="tw1", after_seq=newest) == []
    assert events.list_events(tenant, subject="tw1", before_seq=1) == []
    assert events.list_events(tenant + "-other", subject="tw1") == []


@contextmanager
def _plans(database: Database) -> Iterator[list[str]]:
    """The query plan of every SELECT on events run inside the block."""
    plans: list[str] = []

    def explain(conn: Any, _cursor: Any, statement: str, params: Any, *_rest: Any) -> None:
        if not statement.lstrip().upper().startswith("SELECT") or "WHERE" not in statement:
            return
        cursor = conn.connection.dbapi_connection.cursor()
        prefix = "EXPLAIN QUERY PLAN " if database.is_sqlite else "EXPLAIN "
        cursor.execute(prefix + statement, params)
        plans.append(" ".join(str(row[-1] if database.is_sqlite else row[0]) for row in cursor))

    event.listen(database.engine, "before_cursor_execute", explain)
    try:
        yield plans
    finally:
        event.remove(database.engine, "before_cursor_execute", explain)


def test_subject_listings_seek_the_subject_and_telemetry_indexes(
    database: Database, tenant: str
) -> None:
    events = SqlEventStore(database)
    _created(events, tenant, "tw1", 1)
    _telemetry_batches(database, tenant, 2, 3)
    with _plans(database) as plans:
        assert len(events.list_events(tenant, subject="tw1", newest_first=True)) == 3
    # One seek per index; never a scan of the whole stream by seq.
    assert any("ix_events_subject" in plan for plan in plans), plans
    assert any("ix_events_telemetry_subject" in plan for plan in plans), plans
    assert not any("ix_events_tenant_seq" in plan for plan in plans), plans


def test_a_subject_listing_sees_one_state_when_events_land_between_its_statements(
    database: Database, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = SqlEventStore(database)
    _created(events, tenant, "tw1", 1)
    telemetry_part = sql_events._telemetry_of_subject
    raced: list[int] = []

    def racing(*args: Any) -> Any:
        if not raced:  # other writers commit between the listing's two statements
            raced.append(1)
            _created(events, tenant, "tw1", 2)
            _telemetry_batches(database, tenant, 1, 2)
        return telemetry_part(*args)

    monkeypatch.setattr(sql_events, "_telemetry_of_subject", racing)
    first = events.list_events(tenant, subject="tw1")
    # Neither newcomer, not the newer one alone: a follower paging on from here misses nothing.
    assert [e.data for e in first] == [{"at": 1}]
    rest = events.list_events(tenant, subject="tw1", after_seq=first[-1].seq)
    assert [e.type for e in rest] == ["TwinCreated", TELEMETRY]
