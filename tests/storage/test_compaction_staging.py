"""Compactions stage their blocks unseen, publish them at once, and hold a lease meanwhile.

On both backends: what a compaction has staged but not published is never read (no point
twice, none missing), a compactor that died leaves its staged blocks for the next holder of
the lease to remove, and a live lease keeps a second compactor out.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from typing import Any

import pytest
from sqlalchemy import func, insert, select, update

from twinops.state.entities import AcceptedPoint
from twinops.storage import Database, sql_history
from twinops.storage.schema import history_compactions, telemetry_blocks, telemetry_segments
from twinops.storage.sql_history import CompactionPolicy, HistoryLog
from twinops.storage.sql_state import SqlStateStore

T0 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z
NEVER = CompactionPolicy(points=10**9, segments=10**6)  # compactions only when a test calls
FIELDS = [(twin, name) for twin in ("a", "b", "c") for name in ("x", "y")]


def fill(store: SqlStateStore, tenant: str, batches: int = 4) -> None:
    """Batches of one point per field per second, each a segment."""
    for k in range(batches):
        points = [
            AcceptedPoint(twin, name, T0 + (k * 3 + s) * 1_000_000, float(k * 3 + s), "src")
            for s in range(3)
            for twin, name in FIELDS
        ]
        store.apply(tenant, points, [], T0)


def expected(batches: int = 4) -> list[float]:
    return [float(i) for i in range(batches * 3)]


def everything_once(store: SqlStateStore, tenant: str, batches: int = 4) -> None:
    """Every read path finds every point once: ranges, as-of, and a repeat's judgement."""
    for twin, name in FIELDS:
        page = store.history(tenant, twin, name, start=None, end=None, limit=1000)
        assert [s.value for s in page.items] == expected(batches), (twin, name)
    middle = T0 + 4_500_000
    state = store.as_of(tenant, ["a", "b", "c"], middle)
    assert {twin: fields["x"].event_time for twin, fields in state.items()} == {
        t: T0 + 4_000_000 for t in "abc"
    }
    repeat = store.apply(tenant, [AcceptedPoint("a", "x", T0, 0.0, "src")], [], T0)
    assert (repeat.accepted, repeat.duplicates, repeat.conflicts) == (0, 1, ())


def count(database: Database, table: Any, tenant: str) -> int:
    with database.read() as conn:
        stmt = select(func.count()).select_from(table).where(table.c.tenant == tenant)
        return int(conn.execute(stmt).scalar_one())


def published(database: Database, tenant: str) -> int | None:
    with database.read() as conn:
        stmt = select(history_compactions.c.published).where(history_compactions.c.tenant == tenant)
        return conn.execute(stmt).scalar()


def staged(database: Database, tenant: str) -> int:
    """Block rows above the tenant's published id."""
    top = published(database, tenant)
    with database.read() as conn:
        stmt = select(func.count()).where(
            telemetry_blocks.c.tenant == tenant, telemetry_blocks.c.id > (top or 0)
        )
        return int(conn.execute(stmt).scalar_one())


def expire_lease(database: Database, tenant: str) -> None:
    """End the tenant's compaction lease now, as if its holder had stalled past it."""
    with database.write() as conn:
        conn.execute(
            update(history_compactions)
            .where(history_compactions.c.tenant == tenant)
            .values(lease_until=0)
        )


def test_blocks_being_staged_are_unseen_until_published(
    database: Database, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = SqlStateStore(database, NEVER)
    reader = SqlStateStore(database, NEVER)
    fill(writer, tenant)
    monkeypatch.setattr(sql_history, "_STAGED_ROWS_PER_TRANSACTION", 2)  # several transactions
    seen_while_staged: list[int] = []
    stage = HistoryLog._stage

    def stage_then_read(log: HistoryLog, tenant_: str, rows: Any, *, pace: bool) -> None:
        stage(log, tenant_, rows, pace=pace)
        seen_while_staged.append(staged(database, tenant))
        everything_once(reader, tenant)  # segments and staged blocks both hold the points

    monkeypatch.setattr(HistoryLog, "_stage", stage_then_read)
    assert writer.history_log.compact(tenant) == 4 * 3 * len(FIELDS)
    assert seen_while_staged and seen_while_staged[0] >= len(FIELDS)
    assert count(database, telemetry_segments, tenant) == 0
    assert staged(database, tenant) == 0
    everything_once(reader, tenant)


def test_a_compactor_that_died_is_replaced_and_its_staged_blocks_removed(
    database: Database, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = SqlStateStore(database, NEVER)
    fill(dead, tenant)

    def die(*_args: Any) -> None:
        raise SystemExit("killed between staging and publishing")

    with monkeypatch.context() as crash:
        crash.setattr(HistoryLog, "_publish", die)
        crash.setattr(HistoryLog, "_release_lease", lambda *_: None)  # a dead process doesn't
        with pytest.raises(SystemExit):
            dead.history_log.compact(tenant)
    left = staged(database, tenant)
    assert left >= len(FIELDS)
    everything_once(dead, tenant)  # the staged blocks stay unseen

    successor = SqlStateStore(database, NEVER)
    assert successor.history_log.compact(tenant) == 0  # the dead one's lease has not ended
    expire_lease(database, tenant)
    moved = successor.history_log.compact(tenant)
    assert moved == 4 * 3 * len(FIELDS)
    assert staged(database, tenant) == 0
    assert count(database, telemetry_segments, tenant) == 0
    assert count(database, telemetry_blocks, tenant) == len(FIELDS)  # the dead one's are gone
    everything_once(successor, tenant)


def test_a_compactor_whose_lease_was_taken_over_stops_without_publishing(
    database: Database, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow = SqlStateStore(database, NEVER)
    other = SqlStateStore(database, NEVER)
    fill(slow, tenant)
    stage = HistoryLog._stage

    def stalled(log: HistoryLog, tenant_: str, rows: Any, *, pace: bool) -> None:
        stage(log, tenant_, rows, pace=pace)
        if log is slow.history_log:  # it stalls past its lease; another compactor takes over
            expire_lease(database, tenant)
            assert other.history_log.compact(tenant) == 4 * 3 * len(FIELDS)

    monkeypatch.setattr(HistoryLog, "_stage", stalled)
    assert slow.history_log.compact(tenant) == 0
    assert staged(database, tenant) == 0
    assert count(database, telemetry_blocks, tenant) == len(FIELDS)
    everything_once(slow, tenant)


def test_a_live_lease_keeps_a_second_compactor_out(database: Database, tenant: str) -> None:
    first = SqlStateStore(database, NEVER)
    second = SqlStateStore(database, NEVER)
    fill(first, tenant)
    assert first.history_log._take_lease(tenant)
    assert second.history_log.compact(tenant) == 0
    assert count(database, telemetry_segments, tenant) == 4
    first.history_log._release_lease(tenant)
    assert second.history_log.compact(tenant) == 4 * 3 * len(FIELDS)
    assert count(database, telemetry_segments, tenant) == 0
    everything_once(second, tenant)


def test_retention_trims_published_blocks_only(database: Database, tenant: str) -> None:
    store = SqlStateStore(database, NEVER)
    fill(store, tenant)
    log = store.history_log
    assert log._take_lease(tenant)
    with database.snapshot() as conn:
        segments = [s.columns for s in log._segments(conn, tenant, None, None)]
    rows = sql_history._block_rows(tenant, sql_history.codec.concat(segments), level=0)
    log._stage(tenant, rows, pace=False)  # staged, not published: their points are in segments
    with database.write() as conn:
        deleted = log.delete_before(conn, tenant, "a", "x", T0 + 100_000_000, budget=10**6)
    assert deleted == 0
    assert staged(database, tenant) == len(rows)


def test_a_lease_of_a_process_gone_from_this_host_is_taken_over_at_once(
    database: Database, tenant: str
) -> None:
    store = SqlStateStore(database, NEVER)
    fill(store, tenant)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    dead_holder = f"{socket.gethostname()[:60]}:{gone.pid}:0123456789ab"
    live_holder = f"{socket.gethostname()[:60]}:{os.getpid()}:0123456789ab"
    far = 2**62
    with database.write() as conn:
        conn.execute(
            insert(history_compactions).values(
                tenant=tenant, published=0, holder=live_holder, lease_until=far
            )
        )
    assert store.history_log.compact(tenant) == 0  # a live process of this host holds it
    with database.write() as conn:
        conn.execute(
            update(history_compactions)
            .where(history_compactions.c.tenant == tenant)
            .values(holder=dead_holder)
        )
    assert store.history_log.compact(tenant) == 4 * 3 * len(FIELDS)
    everything_once(store, tenant)
