"""The cache of what fields show, shared by apply calls of one process: when it may be trusted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from twinops.state.entities import AcceptedPoint
from twinops.storage import Database, open_database, shown_cache
from twinops.storage.bulk import sql_marker
from twinops.storage.sql_state import SqlStateStore

SECOND = 1_000_000
T0 = 1_700_000_000 * SECOND
NOW = T0 + 3_600 * SECOND


def point(
    seconds: int, value: float = 1.0, twin_id: str = "p1", name: str = "flow"
) -> AcceptedPoint:
    return AcceptedPoint(twin_id, name, T0 + seconds * SECOND, value, "test")


def rewind_current_state_unversioned(database: Database, tenant: str) -> None:
    """Set every field of the tenant to event time 0 without bumping the state version."""
    with database.write() as conn:
        conn.exec_driver_sql(
            f"UPDATE current_state SET event_time = 0 WHERE tenant = {sql_marker(conn)}",
            (tenant,),
        )


@pytest.fixture
def store(database: Database) -> Iterator[SqlStateStore]:
    opened = SqlStateStore(database)
    yield opened
    opened.close()


def test_another_writers_newer_point_is_seen_through_the_cache(
    database: Database, tenant: str, store: SqlStateStore
) -> None:
    other = SqlStateStore(database)  # another process on the same database
    try:
        store.apply(tenant, [point(10)], [], NOW)
        other.apply(tenant, [point(20, 2.0)], [], NOW)
        result = store.apply(tenant, [point(15, 3.0)], [], NOW)
    finally:
        other.close()
    assert result.late == 1  # 20 is shown now, whatever this process last wrote
    assert store.current(tenant, "p1")["flow"].value == 2.0


def test_a_field_another_writer_added_is_known_before_a_late_point(
    database: Database, tenant: str, store: SqlStateStore
) -> None:
    other = SqlStateStore(database)
    try:
        store.apply(tenant, [point(10)], [], NOW)
        other.apply(tenant, [point(30, 7.0, name="head")], [], NOW)
        result = store.apply(tenant, [point(20, 8.0, name="head")], [], NOW)
    finally:
        other.close()
    assert result.late == 1
    assert store.current(tenant, "p1")["head"].value == 7.0


def test_unchanged_version_serves_shown_times_from_the_cache(
    database: Database, tenant: str, store: SqlStateStore
) -> None:
    store.apply(tenant, [point(10)], [], NOW)
    # Behind the cache's back (no version bump): the process must not have read the table.
    rewind_current_state_unversioned(database, tenant)
    result = store.apply(tenant, [point(5, 2.0)], [], NOW)
    assert result.late == 1  # judged against the cached 10 s, not the table's 0


def test_a_rolled_back_batch_leaves_the_cache_as_the_database_is(
    database: Database, tenant: str, store: SqlStateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.apply(tenant, [point(10)], [], NOW)

    def fail(*_args: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "_quarantine", fail)  # runs after current state moved
    with pytest.raises(RuntimeError):
        store.apply(tenant, [point(20, 2.0)], [], NOW)  # moved current state, then failed
    monkeypatch.undo()
    result = store.apply(tenant, [point(15, 3.0)], [], NOW)
    assert result.late == 0 and result.accepted == 1
    assert store.current(tenant, "p1")["flow"].value == 3.0


def test_an_overflowing_cache_starts_again_without_losing_what_fields_show(
    tenant: str, store: SqlStateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shown_cache, "_MAX_FIELDS", 5)
    for step in range(4):
        batch = [point(10 * step + 10, float(step), twin_id=f"p{i}") for i in range(4)]
        assert store.apply(tenant, batch, [], NOW).accepted == 4
    late = [point(15, 9.0, twin_id=f"p{i}") for i in range(4)]
    result = store.apply(tenant, late, [], NOW)
    assert result.late == 4
    assert {store.current(tenant, f"p{i}")["flow"].value for i in range(4)} == {3.0}


def test_tenants_have_versions_of_their_own(
    database: Database, tenant: str, store: SqlStateStore
) -> None:
    other = SqlStateStore(database)
    try:
        store.apply(tenant, [point(10)], [], NOW)
        other.apply(f"{tenant}-b", [point(50)], [], NOW)  # another tenant: this cache stays
        rewind_current_state_unversioned(database, tenant)
        assert store.apply(tenant, [point(5, 2.0)], [], NOW).late == 1
    finally:
        other.close()


def test_a_restarted_process_reads_what_fields_show(tmp_path: Path, tenant: str) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    first_db = open_database(url)
    first = SqlStateStore(first_db)
    first.apply(tenant, [point(10)], [], NOW)
    first.close()
    first_db.dispose()
    again_db = open_database(url)
    again = SqlStateStore(again_db)
    try:
        assert again.apply(tenant, [point(5, 2.0)], [], NOW).late == 1
    finally:
        again.close()
        again_db.dispose()


def test_a_write_landing_between_planning_and_the_lock_is_taken_into_account(
    database: Database, tenant: str, store: SqlStateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """apply plans a batch before taking the writer lock; another writer may commit between."""
    store.apply(tenant, [point(10)], [], NOW)
    other = SqlStateStore(database)
    plan = store._plan

    def plan_then_another_writer_commits(*args: Any, **kwargs: Any) -> Any:
        planned = plan(*args, **kwargs)
        if kwargs.get("base") is None:  # the plan made before the lock
            monkeypatch.setattr(store, "_plan", plan)
            other.apply(tenant, [point(20, 2.0), point(30, 3.0)], [], NOW)
        return planned

    monkeypatch.setattr(store, "_plan", plan_then_another_writer_commits)
    try:
        result = store.apply(tenant, [point(15, 9.0), point(20, 2.0), point(25, 5.0)], [], NOW)
    finally:
        other.close()
    assert (result.accepted, result.duplicates, result.late) == (2, 1, 2)
    assert store.current(tenant, "p1")["flow"].value == 3.0  # the other writer's newer point
    history = store.history(tenant, "p1", "flow", start=None, end=None, limit=100, after=None)
    assert [(s.time - T0) // SECOND for s in history.items] == [10, 15, 20, 25, 30]
