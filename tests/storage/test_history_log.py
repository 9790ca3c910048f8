"""Log-structured history (segments compacted into blocks) on both backends.

The store is checked against a plain in-memory model of history under every compaction
policy, from "compact after each batch" (blocks and merges everywhere) to the default (almost
everything still in segments).
"""

from __future__ import annotations

import math
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, insert, select, text

from twinops.state.entities import AcceptedPoint
from twinops.storage import Database, history_codec, open_database, sql_history
from twinops.storage.history_codec import build, decode, encode
from twinops.storage.migrations import alembic_config
from twinops.storage.schema import telemetry_blocks, telemetry_segments
from twinops.storage.sql_history import BLOCK_POINTS, DAY_US, FANIN, CompactionPolicy
from twinops.storage.sql_state import SqlStateStore

T0 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z
HOUR = 3_600_000_000
EAGER = CompactionPolicy(points=1, segments=1)
POLICIES = {
    "eager": EAGER,
    "small": CompactionPolicy(points=7, segments=3),
    "keeping": CompactionPolicy(points=1, segments=1, keep_segments=2),
    "default": None,
}
NUMBERS = st.one_of(st.sampled_from([0.5, 1.0, -2.25, 3.0, 1e300]), st.integers(-5, 5))
OTHERS = st.sampled_from(["on", "off", True, False, {"k": [1, 2]}])
# A field holds one kind of value (its schema sees to that): two numeric, one not.
STREAMS = {("a", "x"): NUMBERS, ("a", "y"): OTHERS, ("b", "x"): NUMBERS}
# Times across three UTC days, with collisions likely (duplicates, conflicts, late points).
TIMES = st.integers(0, 60).map(lambda k: T0 + k * 71 * 60_000_000)
POINTS = st.lists(
    st.sampled_from(list(STREAMS)).flatmap(lambda s: st.tuples(st.just(s), TIMES, STREAMS[s])),
    max_size=12,
)
Model = dict[tuple[str, str], dict[int, Any]]


def same(a: Any, b: Any) -> bool:
    numbers = (int, float)
    if type(a) is not bool and type(b) is not bool and isinstance(a, numbers):
        return isinstance(b, numbers) and math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0)
    return type(a) is type(b) and a == b


def shown(value: Any) -> Any:
    """A value as the store answers it: numbers are floats, whole ones come back as ints."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    return value


def apply_to_model(model: Model, batch: list[tuple[tuple[str, str], int, Any]]) -> tuple[int, ...]:
    accepted = duplicates = conflicts = 0
    for stream, at, value in batch:
        stored = model[stream]
        if at not in stored:
            stored[at] = shown(value)
            accepted += 1
        elif same(stored[at], shown(value)):
            duplicates += 1
        else:
            conflicts += 1
    return accepted, duplicates, conflicts


def as_points(batch: list[tuple[tuple[str, str], int, Any]]) -> list[AcceptedPoint]:
    return [
        AcceptedPoint(s[0], s[1], t, v, "prop") for s, t, v in sorted(batch, key=lambda p: p[1])
    ]


@pytest.mark.parametrize("policy", list(POLICIES))
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batches=st.lists(POINTS, min_size=1, max_size=6))
def test_history_matches_a_plain_model_under_every_compaction_policy(
    database: Database, policy: str, batches: list[list[tuple[tuple[str, str], int, Any]]]
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    store = SqlStateStore(database, POLICIES[policy])
    model: Model = defaultdict(dict)
    for batch in batches:
        result = store.apply(tenant, as_points(batch), [], T0)
        # Sorted by time like the pipeline; a repeat inside the batch follows the model.
        expected = apply_to_model(model, sorted(batch, key=lambda p: p[1]))
        assert (result.accepted, result.duplicates, len(result.conflicts)) == expected
    for stream in STREAMS:
        stored = sorted(model[stream].items())
        page = store.history(tenant, *stream, start=None, end=None, limit=1000)
        assert [(s.time, s.value) for s in page.items] == stored
        assert page.next is None
        # Paging by three, from a cursor, gives every point once.
        seen, after = [], None
        while True:
            part = store.history(tenant, *stream, start=None, end=None, limit=3, after=after)
            seen += [(s.time, s.value) for s in part.items]
            if part.next is None:
                break
            after = int(part.next)
        assert seen == stored
        for at in (T0 - 1, T0 + 20 * HOUR, T0 + 40 * HOUR, T0 + 80 * HOUR):
            before = [(t, v) for t, v in stored if t <= at]
            state = store.as_of(tenant, [stream[0]], at)[stream[0]].get(stream[1])
            if before:
                assert state is not None and (state.event_time, state.value) == before[-1]
            else:
                assert state is None
        windows = store.windows(tenant, *stream, start=T0, end=T0 + 72 * HOUR, interval=HOUR * 5)
        expected_windows = defaultdict(list)
        for t, v in stored:
            expected_windows[(t - T0) // (HOUR * 5)].append(v)
        assert [w.count for w in windows] == [len(v) for _, v in sorted(expected_windows.items())]
        for w, (_, values) in zip(windows, sorted(expected_windows.items()), strict=True):
            assert w.last == values[-1]
            numbers = [float(v) for v in values if not isinstance(v, bool | str | dict)]
            if numbers:
                assert w.min == min(numbers) and w.max == max(numbers)
                assert w.mean == pytest.approx(sum(numbers) / len(numbers))
            else:
                assert w.mean is None and w.min is None


def blocks_of(database: Database, tenant: str) -> list[tuple[int, int, int]]:
    with database.read() as conn:
        rows = conn.execute(
            select(telemetry_blocks.c.day, telemetry_blocks.c.level, telemetry_blocks.c.points)
            .where(telemetry_blocks.c.tenant == tenant)
            .order_by(telemetry_blocks.c.first_time)
        )
        return [tuple(r) for r in rows]


def block_ids(database: Database, tenant: str) -> list[int]:
    with database.read() as conn:
        stmt = select(telemetry_blocks.c.id).where(telemetry_blocks.c.tenant == tenant)
        return list(conn.execute(stmt).scalars())


def segment_count(database: Database, tenant: str) -> int:
    with database.read() as conn:
        return int(
            conn.execute(
                select(func.count()).where(telemetry_segments.c.tenant == tenant)
            ).scalar_one()
        )


def test_compaction_merges_a_fields_small_blocks_into_the_next_level(
    database: Database, tenant: str
) -> None:
    store = SqlStateStore(database, EAGER)
    for i in range(FANIN * 2 + 3):
        store.apply(tenant, [AcceptedPoint("a", "x", T0 + i, float(i), "s")], [], T0)
    assert segment_count(database, tenant) == 0
    blocks = blocks_of(database, tenant)
    # Two merges of FANIN level-0 blocks, three level-0 blocks since.
    assert sorted((level, points) for _, level, points in blocks) == [
        (0, 1),
        (0, 1),
        (0, 1),
        (1, FANIN),
        (1, FANIN),
    ]
    page = store.history(tenant, "a", "x", start=None, end=None, limit=100)
    assert [s.value for s in page.items] == list(range(FANIN * 2 + 3))


def test_blocks_never_span_two_utc_days(database: Database, tenant: str) -> None:
    store = SqlStateStore(database, EAGER)
    times = [T0 + DAY_US - 2, T0 + DAY_US - 1, T0 + DAY_US, T0 + 2 * DAY_US + 5]
    store.apply(tenant, [AcceptedPoint("a", "x", t, 1.0, "s") for t in times], [], T0)
    assert [(day, points) for day, _, points in blocks_of(database, tenant)] == [
        (T0 // DAY_US, 2),
        (T0 // DAY_US + 1, 1),
        (T0 // DAY_US + 2, 1),
    ]
    middle = store.history(tenant, "a", "x", start=T0 + DAY_US - 1, end=T0 + DAY_US + 1, limit=9)
    assert [s.time for s in middle.items] == [T0 + DAY_US - 1, T0 + DAY_US]


def test_a_compaction_by_another_process_is_seen_by_a_reader_with_a_warm_cache(
    database: Database, tenant: str
) -> None:
    reader = SqlStateStore(database)  # default policy: never compacts these few points
    writer = SqlStateStore(database, EAGER)
    reader.apply(tenant, [AcceptedPoint("a", "x", T0, 1.0, "s")], [], T0)
    assert len(reader.history(tenant, "a", "x", start=None, end=None, limit=9).items) == 1
    writer.apply(tenant, [AcceptedPoint("a", "x", T0 + 1, 2.0, "s")], [], T0)
    assert segment_count(database, tenant) == 0  # both points now live in blocks
    reader.apply(tenant, [AcceptedPoint("a", "x", T0 + 2, 3.0, "s")], [], T0)
    page = reader.history(tenant, "a", "x", start=None, end=None, limit=9)
    assert [s.value for s in page.items] == [1, 2, 3]  # each once: no stale cached segment
    late = reader.apply(tenant, [AcceptedPoint("a", "x", T0 + 1, 2.0, "s")], [], T0)
    assert (late.accepted, late.duplicates) == (0, 1)


def in_blocks(store: SqlStateStore, tenant: str, points: list[tuple[int, float]]) -> None:
    """Apply one point per batch at (offset from T0, value); EAGER compacts them into blocks."""
    for offset, value in points:
        store.apply(tenant, [AcceptedPoint("a", "x", T0 + offset, value, "s")], [], T0)


def test_late_points_in_blocks_are_judged_from_the_block_cache_batch_after_batch(
    database: Database, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SqlStateStore(database, EAGER)
    in_blocks(store, tenant, [(k * 10, float(k)) for k in range(20)])
    reads: list[bytes] = []
    original = history_codec.decode

    def counted(payload: bytes) -> Any:
        reads.append(payload)
        return original(payload)

    monkeypatch.setattr(history_codec, "decode", counted)
    first = store.apply(tenant, [AcceptedPoint("a", "x", T0 + 30, 3.0, "s")], [], T0)
    decoded = len(reads)
    again = store.apply(
        tenant,
        [AcceptedPoint("a", "x", T0 + 40, 4.0, "s"), AcceptedPoint("a", "x", T0 + 45, 9.0, "s")],
        [],
        T0,
    )
    conflict = store.apply(tenant, [AcceptedPoint("a", "x", T0 + 50, 7.0, "s")], [], T0)
    assert (first.accepted, first.duplicates) == (0, 1)
    assert (again.accepted, again.duplicates) == (1, 1)  # 45 is new, 40 a repeat
    assert [c.reason for c in conflict.conflicts] and conflict.accepted == 0
    assert decoded >= 1
    # The later lookups found the same blocks cached: no block decoded again (the new point
    # at 45 went to a segment and was compacted into a block of its own, decoded for nothing).
    assert len(reads) == decoded


def test_a_block_that_replaced_a_cached_one_under_its_id_is_read_again(
    database: Database, tenant: str
) -> None:
    cached = SqlStateStore(database, EAGER)
    other = SqlStateStore(database, EAGER)  # another process: its own caches
    times = (0, 10, 20)
    cached.apply(tenant, [AcceptedPoint("a", "x", T0 + k, float(k), "s") for k in times], [], T0)
    [old_id] = block_ids(database, tenant)
    first = cached.apply(tenant, [AcceptedPoint("a", "x", T0 + 10, 10.0, "s")], [], T0)
    assert first.duplicates == 1  # the block is now in the cache
    with database.write() as conn:  # retention in the other process drops the whole block
        other.history_log.delete_before(conn, tenant, "a", "x", T0 + 25, budget=1_000_000)
    # The same times again, other values: a block of the same field, span and size.
    resent = [AcceptedPoint("a", "x", T0 + k, 99.0, "s") for k in times]
    assert other.apply(tenant, resent, [], T0).accepted == 3
    [new_id] = block_ids(database, tenant)
    if database.is_sqlite:
        assert new_id == old_id  # SQLite gave the deleted newest block's rowid to the new one
    late = cached.apply(tenant, [AcceptedPoint("a", "x", T0 + 10, 99.0, "s")], [], T0)
    # Judged against the new block (99 at +10), not the cached old one (10 at +10).
    assert (late.duplicates, late.conflicts) == (1, ())


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "c"]), st.sets(st.integers(0, 40), max_size=8)),
        max_size=6,
    ),
    st.sets(st.tuples(st.sampled_from(["a", "b", "d"]), st.integers(0, 40)), max_size=20),
)
def test_finding_keys_in_blocks_agrees_with_a_plain_search(
    fields: list[tuple[str, set[int]]], wanted: set[tuple[str, int]]
) -> None:
    # A field's points are in at most one block each (history keeps a key once).
    taken: dict[str, set[int]] = defaultdict(set)
    blocks = []
    for twin, times in fields:
        fresh = sorted(times - taken[twin])
        taken[twin] |= set(fresh)
        columns = build(fresh, [t * 1.5 for t in fresh], 0, [0] * len(fresh), ["s"] * len(fresh))
        blocks.append(((twin, "x"), columns))
    keys = [(twin, "x", at) for twin, at in sorted(wanted)]
    expected = {(twin, "x", at): at * 1.5 for twin, _, at in keys if at in taken[twin]}
    assert sql_history._find_in_blocks(blocks, keys) == expected


def test_history_reads_stop_decoding_blocks_once_a_page_is_full(
    database: Database, tenant: str
) -> None:
    store = SqlStateStore(database, EAGER)
    for day in range(5):
        batch = [AcceptedPoint("a", "x", T0 + day * DAY_US + i, float(i), "s") for i in range(4)]
        store.apply(tenant, batch, [], T0)
    log = store.history_log
    with database.snapshot() as conn:
        first = log.read(conn, tenant, "a", "x", None, None, limit=3)
        everything = log.read(conn, tenant, "a", "x")
    assert len(first) == 4  # one day's block: enough for a page of three and its cursor
    assert len(everything) == 20


def test_payloads_round_trip_every_kind_of_value() -> None:
    values = [1.5, 7, True, "text", {"a": [1, None]}, None, 2**70, -0.0]
    columns = build(list(range(8)), values, 5, [0, 1] * 4, ["s", "t"] * 4, [("a", "x")] * 8)
    decoded = decode(encode(columns))
    assert decoded.values() == [1.5, 7, True, "text", {"a": [1, None]}, None, 2**70, 0]
    assert decoded.streams == (("a", "x"),) and decoded.source(1) == "t"
    assert decoded.flags.tolist() == [0, 1] * 4 and decoded.ingest.tolist() == [5] * 8


def test_migration_moves_row_history_into_blocks(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    db = open_database(url)
    config = alembic_config(db)
    command.downgrade(config, "0008")
    rows = [
        ("t", "a", "x", T0 + i * HOUR * 7, float(i), None, T0, "old", i % 2) for i in range(10)
    ] + [("t", "a", "s", T0, None, '"text"', T0, "old", 0)]
    with db.write() as conn:
        conn.execute(
            text(
                "INSERT INTO telemetry (tenant, twin_id, name, event_time, value_num, value_json,"
                " ingest_time, source, flags) VALUES (:a, :b, :c, :d, :e, :f, :g, :h, :i)"
            ),
            [dict(zip("abcdefghi", row, strict=True)) for row in rows],
        )
    command.upgrade(config, "head")
    store = SqlStateStore(db)
    page = store.history("t", "a", "x", start=None, end=None, limit=100)
    assert [(s.time, s.value, int(s.flags)) for s in page.items] == [
        (r[3], int(r[4]), r[8]) for r in rows[:10]
    ]
    assert [s.value for s in store.history("t", "a", "s", start=None, end=None, limit=9).items] == [
        "text"
    ]
    command.downgrade(config, "0008")
    with db.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM telemetry")).scalar_one() == 11
    db.dispose()


def add_and_drop_a_segment(database: Database, tenant: str) -> int:
    with database.write() as conn:
        empty = encode(build([], [], 0, [], [], []))
        row = dict(tenant=tenant, first_time=0, last_time=0, points=0, payload=empty)
        added = conn.execute(insert(telemetry_segments).values(**row)).inserted_primary_key[0]
        conn.execute(telemetry_segments.delete().where(telemetry_segments.c.id == added))
        return int(added)


def test_segment_ids_are_never_reused_after_compaction(database: Database, tenant: str) -> None:
    store = SqlStateStore(database, EAGER)
    store.apply(tenant, [AcceptedPoint("a", "x", T0, 1.0, "s")], [], T0)
    first = add_and_drop_a_segment(database, tenant)
    # The newest id is gone: a table without AUTOINCREMENT would hand it out again.
    assert add_and_drop_a_segment(database, tenant) > first


def test_a_dense_day_is_cut_into_blocks_of_bounded_size(database: Database, tenant: str) -> None:
    store = SqlStateStore(database, EAGER)
    count = BLOCK_POINTS * 2 + 10
    store.apply(tenant, [AcceptedPoint("a", "x", T0 + i, 1.5, "s") for i in range(count)], [], T0)
    sizes = [points for _, _, points in blocks_of(database, tenant)]
    assert max(sizes) <= BLOCK_POINTS and sum(sizes) == count and len(sizes) == 3
    found = store.as_of(tenant, ["a"], T0 + BLOCK_POINTS + 7)["a"]["x"]
    assert found.event_time == T0 + BLOCK_POINTS + 7


def test_background_compaction_catches_up_and_stops_on_close(
    database: Database, tenant: str
) -> None:
    store = SqlStateStore(database, CompactionPolicy(points=5, segments=1000, background=True))
    for i in range(4):
        batch = [AcceptedPoint("a", "x", T0 + i * 10 + k, float(k), "s") for k in range(3)]
        store.apply(tenant, batch, [], T0)
    deadline = time.monotonic() + 20
    while segment_count(database, tenant) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert segment_count(database, tenant) == 0
    assert len(store.history(tenant, "a", "x", start=None, end=None, limit=99).items) == 12
    store.close()
    worker = store.history_log._worker
    assert worker is not None and not worker.is_alive()


def test_compaction_keeps_the_newest_segments(database: Database, tenant: str) -> None:
    store = SqlStateStore(database, CompactionPolicy(points=1, segments=1, keep_segments=2))
    for i in range(5):
        store.apply(tenant, [AcceptedPoint("a", "x", T0 + i, float(i), "s")], [], T0)
    assert segment_count(database, tenant) == 2
    assert max(last for *_, last in blocks_with_ends(database, tenant)) == T0 + 2
    page = store.history(tenant, "a", "x", start=None, end=None, limit=99)
    assert [s.value for s in page.items] == [0, 1, 2, 3, 4]


def test_kept_segments_do_not_count_towards_a_compaction(
    database: Database, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SqlStateStore(database, CompactionPolicy(points=10, segments=100, keep_segments=3))
    compactions = []
    compact = store.history_log.compact
    monkeypatch.setattr(store.history_log, "compact", lambda t: compactions.append(compact(t)))
    counts = []
    for i in range(5):
        batch = [AcceptedPoint("a", "x", T0 + i * 10 + k, float(k), "s") for k in range(5)]
        store.apply(tenant, batch, [], T0)
        counts.append(segment_count(database, tenant))
    # 15 points in the three kept segments are not "enough points" (that asked for a
    # compaction after every batch from the second on): only what a compaction would take
    # counts, 10 points once there are five segments.
    assert counts == [1, 2, 3, 4, 3]
    assert compactions == [10]


def blocks_with_ends(database: Database, tenant: str) -> list[tuple[int, int]]:
    with database.read() as conn:
        rows = conn.execute(
            select(telemetry_blocks.c.first_time, telemetry_blocks.c.last_time).where(
                telemetry_blocks.c.tenant == tenant
            )
        )
        return [tuple(r) for r in rows]


def test_the_segment_cache_forgets_compacted_segments_and_keeps_to_its_budget(
    database: Database, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    eager = SqlStateStore(database, EAGER)
    eager.apply(tenant, [AcceptedPoint("a", "x", T0, 1.0, "s")], [], T0)
    assert not eager.history_log._cache  # written, cached, compacted, forgotten
    monkeypatch.setattr(sql_history, "_CACHE_POINTS", 10)
    store = SqlStateStore(database)
    for i in range(6):
        batch = [AcceptedPoint("b", "x", T0 + i * 10 + k, float(k), "s") for k in range(4)]
        store.apply(tenant, batch, [], T0)
    assert store.history_log._cached_points <= 10
    assert len(store.history(tenant, "b", "x", start=None, end=None, limit=99).items) == 24


def test_a_merge_reads_its_field_day_through_the_field_index(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'plan.db'}")
    try:
        stmt = sql_history.field_day_blocks("t", "pump-1", "flow", 19_000, 0)
        compiled = stmt.compile(dialect=db.engine.dialect)
        params = tuple(compiled.params[name] for name in compiled.positiontup or ())
        with db.read() as conn:
            plan = " ".join(
                str(row[-1])
                for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", params)
            )
    finally:
        db.dispose()
    # Not the (tenant, day, level) index: that one walks every block of the day.
    assert "ix_telemetry_blocks_field" in plan, plan


@pytest.mark.parametrize("spans", [1, 2, 10, 1000])
def test_a_late_batch_lists_its_blocks_by_field_seeks_in_the_end_time_index_alone(
    tmp_path: Path, spans: int
) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'plan.db'}")
    try:
        sql = sql_history.blocks_of_field_days_sql("?", spans)
        params = tuple(["pump-1", "flow", 19_000, 1, 2] * spans + ["t", "t"])
        with db.read() as conn:
            plan = [str(r[-1]) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)]
    finally:
        db.dispose()
    # One seek per span on (tenant, twin, field, day, last_time), reading no block row: never a
    # walk of the tenant's blocks by (tenant, last_time) (an OR of ten terms with the tenant
    # outside it did that), nor of the day's blocks from its start (the field index).
    # The published id, looked up once by the tenant's key, filters on the rowid every index
    # entry holds: the listing stays within the index.
    searches = [line for line in plan if line.startswith("SEARCH")]
    assert searches == [
        "SEARCH b USING COVERING INDEX ix_telemetry_blocks_field_end"
        " (tenant=? AND twin_id=? AND name=? AND day=? AND last_time>?)",
        "SEARCH history_compactions USING INDEX sqlite_autoindex_history_compactions_1 (tenant=?)",
    ], plan
    assert not [line for line in plan if line.startswith("SCAN b")], plan


def test_the_merge_step_groups_a_days_blocks_from_the_day_index_alone(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'plan.db'}")
    try:
        stmt = sql_history.mergeable_field_days("t", [19_000, 19_001], 0, 64)
        compiled = stmt.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True})
        with db.read() as conn:
            plan = " ".join(
                str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}")
            )
    finally:
        db.dispose()
    # No block row read and no sort: a walk of the covering (tenant, day, level, ...) index.
    assert "COVERING INDEX ix_telemetry_blocks_day" in plan, plan
    assert "TEMP B-TREE" not in plan, plan


def test_a_merge_leaves_a_field_day_alone_when_its_blocks_changed_after_it_read_them(
    database: Database, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SqlStateStore(database, EAGER)
    with monkeypatch.context() as setup:
        setup.setattr(sql_history, "FANIN", 10 * FANIN)  # FANIN level-0 blocks, none merged
        for i in range(FANIN):
            points = [AcceptedPoint(t, "x", T0 + i, float(i), "s") for t in ("a", "b")]
            store.apply(tenant, points, [], T0)
    day = T0 // DAY_US
    with database.snapshot() as conn:
        merges = [sql_history._Merge.read(conn, tenant, (t, "x"), day, 0) for t in ("a", "b")]
    assert all(m is not None for m in merges)
    with database.write() as conn:  # another writer (retention, a second process) moves b's
        conn.execute(
            delete(telemetry_blocks).where(
                telemetry_blocks.c.tenant == tenant,
                telemetry_blocks.c.twin_id == "b",
                telemetry_blocks.c.first_time == T0,
            )
        )
    assert store.history_log._take_lease(tenant)  # as a compaction does before merging
    store.history_log._swap(tenant, [m for m in merges if m is not None])

    with database.read() as conn:
        rows = conn.execute(
            select(telemetry_blocks.c.twin_id, telemetry_blocks.c.level, func.count())
            .where(telemetry_blocks.c.tenant == tenant)
            .group_by(telemetry_blocks.c.twin_id, telemetry_blocks.c.level)
            .order_by(telemetry_blocks.c.twin_id)
        ).all()
    assert [tuple(r) for r in rows] == [("a", 1, 1), ("b", 0, FANIN - 1)]
    a = store.history(tenant, "a", "x", start=None, end=None, limit=100)
    assert [s.value for s in a.items] == [float(i) for i in range(FANIN)]
