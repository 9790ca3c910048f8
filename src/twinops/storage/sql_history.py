"""Log-structured history on SQL: one segment row per applied batch, compacted into blocks.

A row per point made history the most expensive write of ingest (a table row and a
primary-key entry each). Here an applied batch writes one ``telemetry_segments`` row holding
all its points (``history_codec``). Once the segments of a tenant hold enough points,
compaction rewrites them into ``telemetry_blocks``: one block per field and UTC day, sorted by
event time. Blocks of one field and day are merged ``FANIN`` at a time into a block of the
next level, so a field's day ends up in a few large blocks (write amplification about the
number of levels).

A compaction stages its blocks in small transactions, unseen (their ids are above the tenant's
``published`` id in ``history_compactions``), then publishes them and deletes their segments in
one short transaction: a few thousand block rows (four index entries each) inserted at once
held the write lock for some 45 ms, and every ingest batch arriving meanwhile waited it out.
Block writers of a tenant take a lease there, so one process at a time stages, publishes or
merges; the next holder removes what a compactor that died had staged.

Reads of one field merge its blocks in the range with the field's points in the segments.
Segments are immutable, so a process keeps decoded ones in a small cache; a read runs in
one snapshot (``Database.snapshot``) so a concurrent compaction is seen entirely or not at
all. Writers of a tenant's history are serialised (SQLite's single writer; an advisory lock
on PostgreSQL), which keeps the uniqueness of (twin, field, event time) that apply checks.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from sqlalchemy import Connection, Select, delete, func, insert, select, text, update

from twinops.digits import is_ascii_integer
from twinops.state.entities import AcceptedPoint
from twinops.storage import history_codec as codec
from twinops.storage.bulk import sql_marker
from twinops.storage.database import Database
from twinops.storage.schema import (
    history_compactions,
    history_trims,
    telemetry_blocks,
    telemetry_segments,
)

DAY_US = 86_400_000_000
FANIN = 16  # blocks of one level merged into the next level
MAX_LEVEL = 2  # blocks of this level are never merged again
# The most points in a block: an as-of read decodes one block per field, so blocks stay small
# (about 60 KiB) however dense a field's day is.
BLOCK_POINTS = 2048
log = logging.getLogger(__name__)

# Decoded segments a process keeps (by points: a segment holds one batch, up to 50k points).
_CACHE_POINTS = 400_000
# Decoded blocks a process keeps for late points' lookups (by points; a block holds <= 2048).
_BLOCK_CACHE_POINTS = 400_000
_MERGES_PER_TRANSACTION = 32
_RUNS_PER_PAUSE = 256
_PAUSE_SECONDS = 0.002
_MERGES_PER_COMPACTION = 1024
_IN_CHUNK = 400
_SPANS_PER_LISTING = 1000  # 5 parameters each, within SQLite's and PostgreSQL's limits
# Block rows a staging transaction inserts: some 5 ms of the write lock on SQLite.
_STAGED_ROWS_PER_TRANSACTION = 400
# How long a compactor's lease lasts unless renewed (each staging and merge transaction does).
_LEASE_SECONDS = 120.0
_NO_WATERMARK = 2**63 - 1  # a tenant without a history_compactions row: every block is seen


class LeaseLost(RuntimeError):
    """Another compactor took the tenant's lease (this one stalled past its end)."""


StreamKey = tuple[str, str]
PointKey = tuple[str, str, int]


@dataclass(frozen=True)
class CompactionPolicy:
    """When a tenant's segments are compacted into blocks."""

    points: int = 100_000  # once the segments beyond the kept ones hold this many points
    segments: int = 64  # or there are this many segments (a trickle of small batches)
    # Compact on a background thread of the process (servers), or in the writing call.
    background: bool = False
    # The newest segments stay: points of a source lagging by up to this many batches are
    # found in (cached) segments, and the blocks end before them, so they need no block
    # lookup, which costs some 15 times more per batch.
    keep_segments: int = 0


class _Segment:
    """A decoded segment and, built on first use, the positions of each stream in it."""

    __slots__ = ("_points", "_positions", "columns", "first", "last")

    def __init__(self, columns: codec.Columns) -> None:
        self.columns = columns
        self._positions: dict[StreamKey, np.ndarray] | None = None
        self._points: dict[PointKey, int] | None = None
        times = columns.times
        self.first = int(times.min()) if len(times) else 0
        self.last = int(times.max()) if len(times) else -1

    def point(self, key: PointKey) -> int | None:
        """The position of the point at ``key`` (twin, field, event time), or None."""
        if self._points is None:
            assert self.columns.stream_idx is not None
            streams = self.columns.streams
            self._points = {
                (*streams[code], at): i
                for i, (code, at) in enumerate(
                    zip(
                        self.columns.stream_idx.tolist(),
                        self.columns.times.tolist(),
                        strict=True,
                    )
                )
            }
        return self._points.get(key)

    def positions(self, key: StreamKey) -> np.ndarray | None:
        """Where the points of ``key`` are (in time order within the segment), or None."""
        if self._positions is None:
            self._positions = _group_positions(self.columns)
        return self._positions.get(key)


def _find_in_blocks(
    blocks: Sequence[tuple[StreamKey, codec.Columns]], keys: Sequence[PointKey]
) -> dict[PointKey, Any]:
    """The stored values at ``keys`` that ``blocks`` (each one field's points) hold.

    A batch that arrives after newer ones checks thousands of fields against a few blocks
    each. One stable sort of every block time and every wanted time by (field, time) puts a
    stored point just before the wanted key it matches, where a loop over the blocks cost
    about 15 µs a block.
    """
    if not blocks or not keys:
        return {}
    codes: dict[StreamKey, int] = {}
    block_codes = np.array([codes.setdefault(stream, len(codes)) for stream, _ in blocks])
    lengths = np.array([len(columns) for _, columns in blocks], dtype=np.int64)
    stored = int(lengths.sum())
    times = np.concatenate(
        [columns.times for _, columns in blocks]
        + [np.fromiter((at for _, _, at in keys), np.int64, len(keys))]
    )
    fields = np.concatenate(
        [
            np.repeat(block_codes, lengths),
            np.array([codes.get((twin_id, name), -1) for twin_id, name, _ in keys]),
        ]
    )
    order = np.lexsort((times, fields))  # stable: a stored point sorts before its key
    sorted_times, sorted_fields = times[order], fields[order]
    equal = np.flatnonzero(
        (sorted_fields[1:] == sorted_fields[:-1]) & (sorted_times[1:] == sorted_times[:-1])
    )
    point, key = order[equal], order[equal + 1]
    matched = (point < stored) & (key >= stored)
    point, key = point[matched], key[matched] - stored
    starts = np.cumsum(lengths) - lengths
    which = np.searchsorted(starts, point, side="right") - 1
    positions = point - starts[which]
    return {
        keys[k]: blocks[b][1].value(i)
        for k, b, i in zip(key.tolist(), which.tolist(), positions.tolist(), strict=True)
    }


def _group_positions(columns: codec.Columns) -> dict[StreamKey, np.ndarray]:
    assert columns.stream_idx is not None
    order = np.lexsort((columns.times, columns.stream_idx))
    codes = columns.stream_idx[order]
    starts = np.flatnonzero(np.diff(codes)) + 1
    firsts = np.concatenate(([0], starts)).tolist()
    return {
        columns.streams[int(codes[first])]: group
        for first, group in zip(firsts, np.split(order, starts), strict=True)
    }


class _BlockKey(NamedTuple):
    """What identifies a block's contents for the block cache (see ``_blocks_of_field_days``).

    A named tuple, not a dataclass: a late batch hashes ten thousand of them, in C.
    """

    id: int
    tenant: str
    twin_id: str
    name: str
    first_time: int
    last_time: int
    points: int


@dataclass(frozen=True)
class PreparedSegment:
    """A batch's points encoded as a segment, ready to insert."""

    columns: codec.Columns
    payload: bytes
    first_time: int
    last_time: int
    points: int


@dataclass(frozen=True)
class Fresh:
    """A segment written in a transaction not yet committed."""

    key: tuple[int, int, int]
    segment: _Segment


@dataclass(frozen=True)
class _Merge:
    """One field-day's blocks of a level, read for merging into the next level."""

    stream: StreamKey
    day: int
    level: int
    block_ids: tuple[int, ...]
    merged: codec.Columns

    @classmethod
    def read(
        cls, conn: Connection, tenant: str, stream: StreamKey, day: int, level: int
    ) -> _Merge | None:
        """The field-day's blocks merged in time order, or None when fewer than FANIN remain."""
        blocks = conn.execute(field_day_blocks(tenant, *stream, day, level)).all()
        if len(blocks) < FANIN:
            return None  # another process merged them first
        merged = _sorted([codec.decode(payload) for _id, payload in blocks])
        return cls(stream, day, level, tuple(int(i) for i, _ in blocks), merged)

    def rows(self, tenant: str) -> list[BlockRow]:
        """The merged blocks' rows, at the next level."""
        return [
            _block_row(
                tenant, self.stream, self.day, self.level + 1, part.times, codec.encode(part)
            )
            for part in _capped(self.merged)
        ]


class HistoryLog:
    """Appends, reads, compacts and trims the history of telemetry fields."""

    def __init__(self, db: Database, policy: CompactionPolicy | None = None) -> None:
        self._db = db
        self.policy = policy or CompactionPolicy()
        self._cache: OrderedDict[tuple[int, int, int], _Segment] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._cached_points = 0
        self._block_cache: OrderedDict[_BlockKey, codec.Columns] = OrderedDict()
        self._block_cached_points = 0
        self._block_trims: dict[str, int] = {}  # history_trims version the cache is of
        self._compacting = threading.Lock()  # one compaction at a time in this process
        # Who holds a tenant's compaction lease: this log, in this process on this host.
        self._holder = _holder_name()
        self._wake = threading.Condition()
        self._pending: set[str] = set()
        self._worker: threading.Thread | None = None
        self._closed = False

    # -- writes, in the caller's write transaction ------------------------------------------

    def lock(self, conn: Connection, tenant: str) -> None:
        """Serialise the tenant's history writers (SQLite's write lock already does)."""
        if not self._db.is_sqlite:
            conn.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                {"key": f"twinops.history:{tenant}"},
            )

    @staticmethod
    def segment(points: Sequence[AcceptedPoint], ingest_time: int) -> PreparedSegment | None:
        """``points`` encoded as a segment, before the write transaction (no I/O)."""
        if not points:
            return None
        # Named tuples transposed in C: one pass over the points instead of one per column.
        twin_ids, names, times, values, sources, _ids, flags = zip(*points, strict=True)
        columns = codec.build(
            times,
            values,
            ingest_time,
            [int(f) for f in flags] if any(flags) else [0] * len(points),
            sources,
            list(zip(twin_ids, names, strict=True)),
        )
        first, last = int(columns.times.min()), int(columns.times.max())
        return PreparedSegment(columns, codec.encode(columns), first, last, len(points))

    def append(
        self, conn: Connection, tenant: str, prepared: PreparedSegment | None
    ) -> Fresh | None:
        """Store a prepared segment (new keys only: apply has checked).

        The answer goes to :meth:`remember` once the transaction has committed, so this
        process never decodes the segment it wrote.
        """
        if prepared is None:
            return None
        result = conn.execute(
            insert(telemetry_segments).values(
                tenant=tenant,
                first_time=prepared.first_time,
                last_time=prepared.last_time,
                points=prepared.points,
                payload=prepared.payload,
            )
        )
        inserted = result.inserted_primary_key
        assert inserted is not None
        key = (int(inserted[0]), prepared.first_time, prepared.points)
        return Fresh(key, _Segment(prepared.columns))

    def remember(self, fresh: Fresh) -> None:
        """Cache a segment this process wrote, once its transaction has committed."""
        with self._cache_lock:
            self._cache_segments({fresh.key: fresh.segment})

    def _cache_segments(self, segments: dict[tuple[int, int, int], _Segment]) -> None:
        """Add decoded segments, dropping the least recently used beyond the point budget."""
        for key, segment in segments.items():
            if key not in self._cache:
                self._cache[key] = segment
                self._cached_points += key[2]
        while self._cached_points > _CACHE_POINTS and len(self._cache) > 1:
            (_, _, points), _ = self._cache.popitem(last=False)
            self._cached_points -= points

    def _forget_segments(self, ids: Iterable[int]) -> None:
        """Drop compacted segments from the cache (they are never listed again)."""
        gone = set(ids)
        with self._cache_lock:
            for key in [key for key in self._cache if key[0] in gone]:
                del self._cache[key]
                self._cached_points -= key[2]

    def lookup(
        self, conn: Connection, tenant: str, keys: Iterable[PointKey]
    ) -> dict[PointKey, Any]:
        """The stored values at ``keys`` (twin, field, event time); absent keys are left out.

        Batched: one listing of the segments and one block query per chunk of field-days,
        since a batch that arrives after a newer one is late for every field it holds.
        """
        wanted = list(keys)
        if not wanted:
            return {}
        times = np.array([at for _, _, at in wanted], dtype=np.int64)
        found: dict[PointKey, Any] = {}
        for segment in self._segments(conn, tenant, int(times.min()), int(times.max()) + 1):
            # Only the keys within the segment's span: a late batch overlaps a few segments,
            # each over a small part of its time range.
            inside = np.flatnonzero((times >= segment.first) & (times <= segment.last))
            for k in inside.tolist():
                key = wanted[k]
                i = segment.point(key)
                if i is not None:
                    found[key] = segment.columns.value(i)
        rest = [key for key in wanted if key not in found]
        if not rest:
            return found
        # Blocks end before the latest compaction's newest point: late live points are
        # younger than that, and no block needs reading.
        newest = conn.execute(
            select(func.max(telemetry_blocks.c.last_time)).where(
                telemetry_blocks.c.tenant == tenant, _published(tenant)
            )
        ).scalar()
        spans: dict[tuple[str, str, int], list[int]] = {}
        in_blocks: list[PointKey] = []
        for key in rest:
            twin_id, name, at = key
            if newest is not None and at <= newest:
                span = spans.setdefault((twin_id, name, at // DAY_US), [at, at])
                span[0], span[1] = min(span[0], at), max(span[1], at)
                in_blocks.append(key)
        blocks: list[tuple[StreamKey, codec.Columns]] = []
        for chunk in _chunks(list(spans.items()), _SPANS_PER_LISTING):
            blocks += self._blocks_of_field_days(conn, tenant, chunk)
        found.update(_find_in_blocks(blocks, in_blocks))
        return found

    def _blocks_of_field_days(
        self, conn: Connection, tenant: str, spans: Sequence[tuple[tuple[str, str, int], list[int]]]
    ) -> list[tuple[StreamKey, codec.Columns]]:
        """The decoded blocks of each (twin, field, day) reaching its [first, last] span.

        Late points of a client that lags behind the others land, batch after batch, in the
        same few blocks: decoded blocks are kept (``_BLOCK_CACHE_POINTS``), and only the
        listing (from the end-time index alone) is read again. A cached block is used while its
        row still has the same id, field, span and point count (a retention trim rewrites a
        block in place), and is dropped once the tenant's ``history_trims`` version moves: a
        retention delete may free the largest rowid, which SQLite gives to the next block.
        """
        self._drop_blocks_on_trims(conn, tenant)
        params: list[Any] = []
        for (twin_id, name, day), (first, last) in spans:
            params += [twin_id, name, day, first, last]
        params += [tenant, tenant]
        sql = blocks_of_field_days_sql(sql_marker(conn), len(spans))
        listed = [
            _BlockKey(int(i), tenant, twin_id, name, int(first), int(last), int(points))
            for i, twin_id, name, first, last, points in conn.exec_driver_sql(sql, tuple(params))
        ]
        found: dict[_BlockKey, codec.Columns] = {}
        with self._cache_lock:
            for key in listed:
                columns = self._block_cache.get(key)
                if columns is not None:
                    self._block_cache.move_to_end(key)
                    found[key] = columns
        missing = {key.id: key for key in listed if key not in found}
        decoded: dict[_BlockKey, codec.Columns] = {}
        for chunk in _chunks(sorted(missing)):
            rows = conn.execute(
                select(telemetry_blocks.c.id, telemetry_blocks.c.payload).where(
                    telemetry_blocks.c.id.in_(chunk)
                )
            )
            for block_id, payload in rows:
                decoded[missing[block_id]] = codec.decode(payload)
        if decoded:
            with self._cache_lock:
                self._cache_blocks(decoded)
        found.update(decoded)
        return [((key.twin_id, key.name), found[key]) for key in listed if key in found]

    def _drop_blocks_on_trims(self, conn: Connection, tenant: str) -> None:
        """Drop the tenant's cached blocks if a retention delete happened since they were read."""
        version = conn.exec_driver_sql(
            f"SELECT version FROM {history_trims.name} WHERE tenant = {sql_marker(conn)}",
            (tenant,),
        ).scalar()
        version = 0 if version is None else int(version)
        with self._cache_lock:
            if self._block_trims.get(tenant, 0) == version:
                return
            for key in [key for key in self._block_cache if key.tenant == tenant]:
                del self._block_cache[key]
                self._block_cached_points -= key.points
            self._block_trims[tenant] = version

    def _cache_blocks(self, blocks: dict[_BlockKey, codec.Columns]) -> None:
        """Add decoded blocks, dropping the least recently used beyond the point budget."""
        for key, columns in blocks.items():
            if key not in self._block_cache:
                self._block_cache[key] = columns
                self._block_cached_points += key.points
        while self._block_cached_points > _BLOCK_CACHE_POINTS and len(self._block_cache) > 1:
            gone, _ = self._block_cache.popitem(last=False)
            self._block_cached_points -= gone.points

    def needs_compaction(self, conn: Connection, tenant: str) -> bool:
        """True once the tenant's segments hold enough points or are numerous enough.

        The newest ``keep_segments`` stay whatever a compaction does, so they do not count:
        with them counted, kept segments holding more than ``points`` would ask for a
        compaction after every batch.
        """
        segments = telemetry_segments.c
        stmt = select(func.count(), func.coalesce(func.sum(segments.points), 0)).where(
            segments.tenant == tenant
        )
        keep = self.policy.keep_segments
        if keep:
            newest_kept = (
                select(segments.id)
                .where(segments.tenant == tenant)
                .order_by(segments.id.desc())
                .offset(keep - 1)
                .limit(1)
                .scalar_subquery()
            )
            stmt = stmt.where(segments.id < newest_kept)
        count, points = conn.execute(stmt).one()
        return bool(count + keep >= self.policy.segments or points >= self.policy.points)

    def request_compaction(self, tenant: str) -> None:
        """Compact the tenant's segments now, or on the background thread (policy)."""
        if not self.policy.background:
            self.compact(tenant)
            return
        with self._wake:
            if self._closed:
                return
            self._pending.add(tenant)
            if self._worker is None:
                self._worker = threading.Thread(
                    target=self._compact_pending, name="twinops-history-compactor", daemon=True
                )
                self._worker.start()
            self._wake.notify()

    def _compact_pending(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                tenant = self._pending.pop()
            try:
                self.compact(tenant)
            except Exception:  # the segments stay and are compacted next time
                log.exception("compacting the history of tenant %s failed", tenant)

    def close(self, timeout: float = 30.0) -> None:
        """Stop the background compactor, letting a compaction under way finish."""
        with self._wake:
            self._closed = True
            self._wake.notify_all()
            worker = self._worker
        if worker is not None:
            worker.join(timeout)

    # -- reads --------------------------------------------------------------------------------

    def read(
        self,
        conn: Connection,
        tenant: str,
        twin_id: str,
        name: str,
        start: int | None = None,
        end: int | None = None,
        limit: int | None = None,
    ) -> codec.Columns:
        """A field's points with ``start <= time < end``, in time order.

        With ``limit``, at least the first ``limit + 1`` points of the range (when there
        are that many): enough to page, without decoding every block of a long range.
        """
        key = (twin_id, name)
        parts = [
            _in_range(segment.columns.take(positions), start, end)
            for segment in self._segments(conn, tenant, start, end)
            if (positions := segment.positions(key)) is not None
        ]
        stmt = select(telemetry_blocks.c.first_time, telemetry_blocks.c.payload).where(
            *_field_blocks(tenant, twin_id, name), _published(tenant)
        )
        if start is not None:
            stmt = stmt.where(
                telemetry_blocks.c.day >= start // DAY_US,
                _unindexed(telemetry_blocks.c.last_time) >= start,
            )
        if end is not None:
            stmt = stmt.where(
                telemetry_blocks.c.day <= (end - 1) // DAY_US, telemetry_blocks.c.first_time < end
            )
        stmt = stmt.order_by(telemetry_blocks.c.day, telemetry_blocks.c.first_time)
        held = sum(len(p) for p in parts)
        result = conn.execute(stmt.execution_options(yield_per=16))
        try:
            for first_time, payload in result:
                # Blocks come in order of their first time: once limit + 1 points precede the
                # next block, it cannot change the first limit + 1.
                if limit is not None and held > limit and _kth_time(parts, limit) < first_time:
                    break
                part = _in_range(codec.decode(payload), start, end)
                parts.append(part)
                held += len(part)
        finally:
            result.close()
        return _sorted(parts)

    def newest_at_or_before(
        self, conn: Connection, tenant: str, fields: Sequence[StreamKey], at: int
    ) -> dict[StreamKey, tuple[codec.Columns, int]]:
        """Each field's newest point at or before ``at``, as (columns, position)."""
        segments = self._segments(conn, tenant, None, at + 1)
        found: dict[StreamKey, tuple[codec.Columns, int]] = {}
        for twin_id, name in fields:
            best: tuple[codec.Columns, int] | None = None
            for segment in segments:
                positions = segment.positions((twin_id, name))
                if positions is not None:
                    best = _newer(best, segment.columns.take(positions), at)
            # The block starting last at or before ``at`` holds a point no later than the
            # answer; so do only the blocks of its day that reach its start (overlapping
            # ones come from late points), usually itself alone. Plain SQL: building it as
            # SQLAlchemy expressions cost ten times running it.
            params: tuple[Any, ...] = (tenant, twin_id, name, at // DAY_US, at, tenant)
            params += (tenant, twin_id, name, at, tenant)
            for (payload,) in conn.exec_driver_sql(_newest_blocks_sql(conn), params):
                best = _newer(best, codec.decode(payload), at)
            if best is not None:
                found[twin_id, name] = best
        return found

    def _segments(
        self, conn: Connection, tenant: str, start: int | None, end: int | None
    ) -> list[_Segment]:
        """The tenant's segments with points in the range, decoded (cached per process)."""
        return self._decoded(conn, self._segment_keys(conn, tenant, start, end))

    def _segment_keys(
        self, conn: Connection, tenant: str, start: int | None, end: int | None
    ) -> list[tuple[int, int, int]]:
        """(id, first time, points) of the tenant's segments with points in the range, by id."""
        # Plain SQL: every read lists segments, and this is cheaper to run than to build.
        m = sql_marker(conn)
        sql = f"SELECT id, first_time, points FROM {telemetry_segments.name} WHERE tenant = {m}"
        params: list[Any] = [tenant]
        if start is not None:
            sql += f" AND last_time >= {m}"
            params.append(start)
        if end is not None:
            sql += f" AND first_time < {m}"
            params.append(end)
        rows = conn.exec_driver_sql(sql + " ORDER BY id", tuple(params))
        return [(int(i), int(first), int(points)) for i, first, points in rows]

    def _decoded(self, conn: Connection, keys: Sequence[tuple[int, int, int]]) -> list[_Segment]:
        """The segments of ``keys``, from the cache or decoded (and then cached)."""
        found: dict[tuple[int, int, int], _Segment] = {}
        with self._cache_lock:
            for key in keys:
                if key in self._cache:
                    self._cache.move_to_end(key)
                    found[key] = self._cache[key]
        missing = {key[0]: key for key in keys if key not in found}
        for chunk in _chunks(sorted(missing)):
            rows = conn.execute(
                select(telemetry_segments.c.id, telemetry_segments.c.payload).where(
                    telemetry_segments.c.id.in_(chunk)
                )
            )
            for segment_id, payload in rows:
                found[missing[segment_id]] = _Segment(codec.decode(payload))
        with self._cache_lock:
            self._cache_segments({key: found[key] for key in missing.values()})
        return [found[key] for key in keys]

    # -- compaction and trimming --------------------------------------------------------------

    def compact(self, tenant: str) -> int:
        """Rewrite the tenant's segments into blocks; the number of points moved.

        The blocks are built outside the write lock from a snapshot and staged, unseen, in
        small transactions; one short transaction then publishes them and deletes the
        segments. Nothing happens while another process holds the tenant's lease.
        """
        if not self._compacting.acquire(blocking=False):
            return 0  # this process is compacting already; it takes every segment there is
        try:
            if not self._take_lease(tenant):
                return 0  # another process is compacting the tenant
            try:
                return self._compact(tenant)
            except LeaseLost:
                log.warning("compaction of tenant %s outlived its lease; stopped", tenant)
                return 0
            finally:
                self._release_lease(tenant)
        finally:
            self._compacting.release()

    def _compact(self, tenant: str) -> int:
        with self._db.snapshot() as conn:
            keys = self._segment_keys(conn, tenant, None, None)
            keys = keys[: max(0, len(keys) - self.policy.keep_segments)]
            if not keys:
                return 0
            segments = self._decoded(conn, keys)
        ids = [segment_id for segment_id, _, _ in keys]
        columns = codec.concat([s.columns for s in segments])
        background = threading.current_thread() is self._worker
        rows = _block_rows(tenant, columns, level=0, pace=background)
        self._stage(tenant, rows, pace=background)
        with self._db.write() as conn:
            self.lock(conn, tenant)
            still = sum(
                conn.execute(
                    select(func.count()).where(telemetry_segments.c.id.in_(chunk))
                ).scalar_one()
                for chunk in _chunks(ids)
            )
            if still != len(ids):
                self._drop_staged(conn, tenant)  # another writer compacted them meanwhile
                return 0
            for chunk in _chunks(ids):
                conn.execute(delete(telemetry_segments).where(telemetry_segments.c.id.in_(chunk)))
            self._publish(conn, tenant)
        self._forget_segments(ids)
        try:
            self._merge(tenant, sorted({row[3] for row in rows}))
        except LeaseLost:  # the blocks are published; their merges wait for the next time
            log.warning("merging the history of tenant %s outlived its lease; stopped", tenant)
        return len(columns)

    # -- the lease, staging and publishing ------------------------------------------------------

    def _take_lease(self, tenant: str) -> bool:
        """Hold the tenant's compaction lease, unless another live holder has it.

        A lease found expired, or held by a process of this host that is gone (a server
        restarted after a crash), was held by a compactor that died or stalled: once it is taken
        over (only from the holder and end seen, so a renewal meanwhile wins), the blocks that
        compactor staged are removed, before anything is staged again.
        """
        c = history_compactions.c
        now = _now_us()
        until = now + int(_LEASE_SECONDS * 1e6)
        with self._db.write() as conn:
            self.lock(conn, tenant)
            row = conn.execute(select(c.holder, c.lease_until).where(c.tenant == tenant)).first()
            if row is None:
                top = conn.execute(select(func.max(telemetry_blocks.c.id))).scalar()
                conn.execute(
                    insert(history_compactions).values(
                        tenant=tenant,
                        published=int(top or 0),
                        holder=self._holder,
                        lease_until=until,
                    )
                )
                return True
            holder, ends = row
            live = ends is not None and ends > now and not _died_here(holder)
            if holder not in (None, self._holder) and live:
                return False
            seen: list[Any] = [c.holder.is_(None) if holder is None else c.holder == holder]
            if ends is not None:
                seen.append(c.lease_until == ends)
            taken = conn.execute(
                update(history_compactions)
                .where(c.tenant == tenant, *seen)
                .values(holder=self._holder, lease_until=until)
            )
            if taken.rowcount != 1:
                return False
            self._drop_staged(conn, tenant)
        return True

    def _renew(self, conn: Connection, tenant: str) -> None:
        """Extend this log's lease; raises LeaseLost once another compactor holds it."""
        c = history_compactions.c
        renewed = conn.execute(
            update(history_compactions)
            .where(c.tenant == tenant, c.holder == self._holder)
            .values(lease_until=_now_us() + int(_LEASE_SECONDS * 1e6))
        )
        if renewed.rowcount != 1:
            raise LeaseLost(tenant)

    def _release_lease(self, tenant: str) -> None:
        c = history_compactions.c
        try:
            with self._db.write() as conn:
                conn.execute(
                    update(history_compactions)
                    .where(c.tenant == tenant, c.holder == self._holder)
                    .values(holder=None, lease_until=None)
                )
        except Exception:  # the lease ends by itself
            log.exception("releasing the compaction lease of tenant %s failed", tenant)

    def _stage(self, tenant: str, rows: Sequence[BlockRow], *, pace: bool) -> None:
        """Insert block rows unseen, a few hundred a transaction (the lease held)."""
        for number, chunk in enumerate(_chunks(rows, _STAGED_ROWS_PER_TRANSACTION)):
            with self._db.write() as conn:
                self._renew(conn, tenant)
                if number == 0:
                    # New rows get ids above every id there is now (SQLite: the largest rowid
                    # + 1; PostgreSQL: its sequence), so above ``published`` set to it here,
                    # whatever other tenants deleted since the lease was taken.
                    self._set_published(conn, tenant)
                _insert_blocks(conn, chunk)
            if pace:
                time.sleep(_PAUSE_SECONDS)  # a waiting ingest takes the write lock first

    def _publish(self, conn: Connection, tenant: str) -> None:
        """Make every block of the tenant seen (the lease held; in the swapping transaction)."""
        self._renew(conn, tenant)
        self._set_published(conn, tenant)

    @staticmethod
    def _set_published(conn: Connection, tenant: str) -> None:
        top = conn.execute(select(func.max(telemetry_blocks.c.id))).scalar()
        conn.execute(
            update(history_compactions)
            .where(history_compactions.c.tenant == tenant)
            .values(published=int(top or 0))
        )

    @staticmethod
    def _drop_staged(conn: Connection, tenant: str) -> None:
        """Delete the blocks staged and not published (the lease held)."""
        published = (
            select(history_compactions.c.published)
            .where(history_compactions.c.tenant == tenant)
            .scalar_subquery()
        )
        conn.execute(
            delete(telemetry_blocks).where(
                telemetry_blocks.c.tenant == tenant, telemetry_blocks.c.id > published
            )
        )

    def _merge(self, tenant: str, days: Sequence[int]) -> None:
        """Merge each field-day's blocks of one level, FANIN or more, into the next level.

        A few field-days at a time, built outside the write lock from a snapshot: the write
        transaction only checks their blocks are still there and swaps them, so ingest
        never waits on a merge's decoding. At most ``_MERGES_PER_COMPACTION`` a time (the
        rest wait for the next compaction).
        """
        budget = _MERGES_PER_COMPACTION
        background = threading.current_thread() is self._worker
        for level in range(MAX_LEVEL):
            groups: list[tuple[str, str, int]] = []
            with self._db.read() as conn:
                for chunk in _chunks(list(days)):
                    stmt = mergeable_field_days(tenant, chunk, level, budget)
                    groups += [(t, n, d) for d, t, n in conn.execute(stmt)]
            groups = groups[:budget]
            budget -= len(groups)
            for batch in _chunks(groups, _MERGES_PER_TRANSACTION):
                with self._db.snapshot() as conn:
                    merges = [
                        merge
                        for twin_id, name, day in batch
                        if (merge := _Merge.read(conn, tenant, (twin_id, name), day, level))
                    ]
                if merges:
                    self._swap(tenant, merges)
                if background:
                    time.sleep(_PAUSE_SECONDS)  # a waiting ingest takes the write lock first

    def _swap(self, tenant: str, merges: Sequence[_Merge]) -> None:
        """Replace each merge's blocks by its merged ones, seen at once (the lease held)."""
        b = telemetry_blocks.c
        rows = {id(m): m.rows(tenant) for m in merges}
        with self._db.write() as conn:
            self.lock(conn, tenant)
            wanted = [i for m in merges for i in m.block_ids]
            present: set[int] = set()
            for chunk in _chunks(wanted):
                present.update(conn.execute(select(b.id).where(b.id.in_(chunk))).scalars())
            done = [m for m in merges if present.issuperset(m.block_ids)]
            _insert_blocks(conn, [row for m in done for row in rows[id(m)]])
            for chunk in _chunks([i for m in done for i in m.block_ids]):
                conn.execute(delete(telemetry_blocks).where(b.id.in_(chunk)))
            self._publish(conn, tenant)

    def delete_before(
        self, conn: Connection, tenant: str, twin_id: str, name: str, before: int, budget: int
    ) -> int:
        """Delete the field's oldest points before ``before`` (whole blocks while the budget
        lasts, so a call may delete a block more); the number deleted.

        Only published blocks are trimmed: callers compact first (``compact``), so the
        segments hold nothing older than the moment retention started, unless another
        process was compacting; what it staged is trimmed by the next run.
        """
        b = telemetry_blocks.c
        rows = conn.execute(
            select(b.id, b.last_time, b.points, b.payload)
            .where(*_field_blocks(tenant, twin_id, name), _published(tenant))
            .where(b.day <= (before - 1) // DAY_US, b.first_time < before)
            .order_by(b.day, b.first_time)
        ).all()
        deleted = 0
        if rows:
            # Before any delete: a process caching this tenant's blocks reads them again.
            conn.exec_driver_sql(
                f"INSERT INTO {history_trims.name} (tenant, version) VALUES ({sql_marker(conn)}, 1)"
                f" ON CONFLICT (tenant) DO UPDATE SET version = {history_trims.name}.version + 1",
                (tenant,),
            )
        for block_id, last_time, points, payload in rows:
            if deleted >= budget:
                break
            if last_time < before:
                conn.execute(delete(telemetry_blocks).where(b.id == block_id))
                deleted += points
                continue
            columns = codec.decode(payload)
            keep = np.flatnonzero(columns.times >= before)
            kept = columns.take(keep)
            conn.execute(
                update(telemetry_blocks)
                .where(b.id == block_id)
                .values(
                    first_time=int(kept.times[0]),
                    points=len(kept),
                    payload=codec.encode(kept),
                )
            )
            deleted += len(columns) - len(kept)
        return deleted


def blocks_of_field_days_sql(marker: str, spans: int) -> str:
    """The blocks (id, twin, field, first and last time, points) reaching field-day spans.

    Parameters: per span twin, field, day, first time, last time; then the tenant, twice. The spans
    are a VALUES list joined to the blocks: for each span, one seek in the end-time index for
    the field-day's blocks ending at or after the span's start (the few newest, where the
    field index walked every block of the day starting before it), whose columns are all in
    that index (``+first_time`` keeps the planner off the field index). An OR of one term per
    span, as before, read every listed block's table row to gather them.
    """
    m = marker
    first = f"(CAST({m} AS VARCHAR), CAST({m} AS VARCHAR), CAST({m} AS INTEGER),"
    first += f" CAST({m} AS BIGINT), CAST({m} AS BIGINT))"  # PostgreSQL: the columns' types
    rows = ", ".join([first] + [f"({m}, {m}, {m}, {m}, {m})"] * (spans - 1))
    return (
        f"WITH spans (twin_id, name, day, lo, hi) AS (VALUES {rows})"
        " SELECT b.id, b.twin_id, b.name, b.first_time, b.last_time, b.points"
        f" FROM spans JOIN {telemetry_blocks.name} b ON b.tenant = {m}"
        " AND b.twin_id = spans.twin_id AND b.name = spans.name AND b.day = spans.day"
        " AND b.last_time >= spans.lo AND +b.first_time <= spans.hi"
        f" AND {_published_sql(m, 'b')}"
    )


def _newest_blocks_sql(conn: Connection) -> str:
    """The blocks that can hold a field's newest point at or before a time (see as-of)."""
    m = sql_marker(conn)
    return (
        f"SELECT b.payload FROM {telemetry_blocks.name} b,"
        f" (SELECT day, first_time FROM {telemetry_blocks.name}"
        f" WHERE tenant = {m} AND twin_id = {m} AND name = {m} AND day <= {m}"
        f" AND first_time <= {m} AND {_published_sql(m, telemetry_blocks.name)}"
        " ORDER BY day DESC, first_time DESC LIMIT 1) top"
        f" WHERE b.tenant = {m} AND b.twin_id = {m} AND b.name = {m} AND b.day = top.day"
        f" AND b.first_time <= {m} AND b.last_time + 0 >= top.first_time"  # see _unindexed
        f" AND {_published_sql(m, 'b')}"
    )


def _published_sql(marker: str, table: str) -> str:
    """``table``'s blocks seen (see ``published``), for plain SQL; its parameter: the tenant."""
    return (
        f"{table}.id <= COALESCE((SELECT published FROM {history_compactions.name}"
        f" WHERE tenant = {marker}), {_NO_WATERMARK})"
    )


def _published(tenant: str) -> Any:
    """The tenant's blocks seen: published, not staged by a compaction under way."""
    published = (
        select(history_compactions.c.published)
        .where(history_compactions.c.tenant == tenant)
        .scalar_subquery()
    )
    return telemetry_blocks.c.id <= func.coalesce(published, _NO_WATERMARK)


def _unindexed(column: Any) -> Any:
    """``column + 0``: a filter, never an index range.

    A field's blocks are found through the field index; left bare, a ``last_time`` bound
    lets the planner pick the (tenant, last_time) index instead and walk every newer block
    of the tenant, whatever the field, and a ``level`` test the (tenant, day, level) index,
    walking every block of the day (10 ms a merge on a fleet, a thousand merges a compaction).
    """
    return column + 0


def mergeable_field_days(tenant: str, days: Sequence[int], level: int, limit: int) -> Select[Any]:
    """(day, twin, field) holding at least ``FANIN`` blocks of ``level`` on one of ``days``."""
    b = telemetry_blocks.c
    return (
        select(b.day, b.twin_id, b.name)
        .where(b.tenant == tenant, b.day.in_(days), b.level == level)
        .group_by(b.day, b.twin_id, b.name)  # the order of the covering day index
        .having(func.count() >= FANIN)
        .limit(limit)
    )


def field_day_blocks(tenant: str, twin_id: str, name: str, day: int, level: int) -> Select[Any]:
    """(id, payload) of a field's blocks of one day and level, found by the field index."""
    b = telemetry_blocks.c
    return select(b.id, b.payload).where(
        *_field_blocks(tenant, twin_id, name), b.day == day, _unindexed(b.level) == level
    )


def _field_blocks(tenant: str, twin_id: str, name: str) -> tuple[Any, ...]:
    b = telemetry_blocks.c
    return (b.tenant == tenant, b.twin_id == twin_id, b.name == name)


_BLOCK_COLUMNS = (
    "tenant",
    "twin_id",
    "name",
    "day",
    "level",
    "first_time",
    "last_time",
    "points",
    "payload",
)
BlockRow = tuple[str, str, str, int, int, int, int, int, bytes]


def _insert_blocks(conn: Connection, rows: Sequence[BlockRow]) -> None:
    """Insert block rows (``_BLOCK_COLUMNS`` order) with one driver-level executemany."""
    if not rows:
        return
    marker = sql_marker(conn)
    sql = (
        f"INSERT INTO {telemetry_blocks.name} ({', '.join(_BLOCK_COLUMNS)})"
        f" VALUES ({', '.join([marker] * len(_BLOCK_COLUMNS))})"
    )
    conn.exec_driver_sql(sql, list(rows))


def _block_rows(
    tenant: str, columns: codec.Columns, *, level: int, pace: bool = False
) -> list[BlockRow]:
    """Block rows of segment columns: per (stream, day), at most ``BLOCK_POINTS`` each."""
    assert columns.stream_idx is not None
    days = columns.times // DAY_US
    order = np.lexsort((columns.times, days, columns.stream_idx))
    ordered = columns.take(order)
    streams = columns.stream_idx[order]
    ordered_days = days[order]
    change = np.flatnonzero((np.diff(streams) != 0) | (np.diff(ordered_days) != 0)) + 1
    starts = np.concatenate(([0], change)).tolist()
    stops = [*starts[1:], len(ordered)]
    runs: list[tuple[int, int]] = []
    for start, stop in zip(starts, stops, strict=True):
        pieces = -(-(stop - start) // BLOCK_POINTS)
        size = -(-(stop - start) // pieces)
        runs.extend((a, min(a + size, stop)) for a in range(start, stop, size))
    times = ordered.times
    payloads: list[bytes] = []
    for first in range(0, len(runs), _RUNS_PER_PAUSE):
        payloads += codec.encode_runs(ordered, runs[first : first + _RUNS_PER_PAUSE])
        if pace:
            # A background compactor lets request threads take the GIL between slices,
            # so ingest latency does not wait on the whole build.
            time.sleep(_PAUSE_SECONDS)
    return [
        _block_row(
            tenant,
            columns.streams[int(streams[start])],
            int(ordered_days[start]),
            level,
            times[start:stop],
            payload,
        )
        for (start, stop), payload in zip(runs, payloads, strict=True)
    ]


def _capped(columns: codec.Columns) -> list[codec.Columns]:
    """Time-sorted points cut into blocks of at most ``BLOCK_POINTS``, evenly."""
    if len(columns) <= BLOCK_POINTS:
        return [columns]
    pieces = -(-len(columns) // BLOCK_POINTS)
    return [columns.take(part) for part in np.array_split(np.arange(len(columns)), pieces)]


def _block_row(
    tenant: str, stream: StreamKey, day: int, level: int, times: np.ndarray, payload: bytes
) -> BlockRow:
    """The row of a block holding the points at ``times`` (sorted), encoded as ``payload``."""
    twin_id, name = stream
    return (tenant, twin_id, name, day, level, int(times[0]), int(times[-1]), len(times), payload)


def _in_range(columns: codec.Columns, start: int | None, end: int | None) -> codec.Columns:
    if start is None and end is None:
        return columns
    times = columns.times
    mask = np.ones(len(times), dtype=bool)
    if start is not None:
        mask &= times >= start
    if end is not None:
        mask &= times < end
    if mask.all():
        return columns
    return columns.take(np.flatnonzero(mask))


def _sorted(parts: Sequence[codec.Columns]) -> codec.Columns:
    """The points of ``parts`` in time order (one Columns, no stream columns)."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return _EMPTY
    merged = parts[0] if len(parts) == 1 else codec.concat([_without_streams(p) for p in parts])
    order = np.argsort(merged.times, kind="stable")
    if np.all(order[:-1] < order[1:]):
        return merged
    return merged.take(order)


def _without_streams(columns: codec.Columns) -> codec.Columns:
    if columns.stream_idx is None:
        return columns
    return columns.take(np.arange(len(columns)))


def _kth_time(parts: Sequence[codec.Columns], k: int) -> int:
    times = np.concatenate([p.times for p in parts])
    return int(np.partition(times, k)[k])


def _newer(
    best: tuple[codec.Columns, int] | None, columns: codec.Columns, at: int
) -> tuple[codec.Columns, int] | None:
    candidates = np.flatnonzero(columns.times <= at)
    if candidates.size == 0:
        return best
    i = int(candidates[np.argmax(columns.times[candidates])])
    if best is None or int(columns.times[i]) > int(best[0].times[best[1]]):
        return columns, i
    return best


def _chunks(items: Sequence[Any], size: int = _IN_CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


_EMPTY = codec.build([], [], 0, [], [])


def _now_us() -> int:
    return time.time_ns() // 1000


def _holder_name() -> str:
    """``host:pid:nonce``: who holds a compaction lease."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def _died_here(holder: str | None) -> bool:
    """True when ``holder`` ran on this host in a process that no longer exists.

    Taking a lease over is always safe (the old holder's next renewal fails, so it publishes
    nothing); this only spares a restarted server the wait for its dead self's lease to end.
    """
    if holder is None:
        return False
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname()[:60] or not is_ascii_integer(pid):
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False
