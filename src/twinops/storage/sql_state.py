"""The state store on SQL (both dialects)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import Connection, insert, select, update

from twinops.obs import tracing
from twinops.state.entities import (
    AcceptedPoint,
    ApplyResult,
    FieldValue,
    PointFlag,
    Quality,
    QuarantineEntry,
    Rejected,
    Sample,
    Window,
)
from twinops.state.store import StateStore
from twinops.storage.bulk import Statement, execute_statements, render_upsert_newer
from twinops.storage.database import Database
from twinops.storage.events import render_subject_events
from twinops.storage.history_codec import joined_number
from twinops.storage.schema import (
    current_state,
    data_quality,
    message_ids,
    quarantine,
)
from twinops.storage.shown_cache import Shown, ShownCache
from twinops.storage.sql_history import CompactionPolicy, HistoryLog, PointKey, PreparedSegment
from twinops.storage.upsert import insert_ignoring_conflicts, render_counts
from twinops.twins.entities import EventType
from twinops.twins.store import Page

_CHUNK = 400
_CURRENT_COLUMNS = (
    "tenant",
    "twin_id",
    "name",
    "event_time",
    "value_num",
    "value_json",
    "ingest_time",
    "source",
)


def _split(value: Any) -> tuple[float | None, Any]:
    """A value as (value_num, value_json): numbers go where windows can aggregate them."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value), None
    return None, value


def _point_row(tenant: str, point: AcceptedPoint, ingest_time: int) -> tuple[Any, ...]:
    """A point as a row of ``current_state``, in ``_CURRENT_COLUMNS`` order."""
    value = point.value
    value_num: float | None
    if type(value) is float:  # the common case, without _split's type tests
        value_num, value_json = value, None
    else:
        value_num, value_json = _split(value)
    return (
        tenant,
        point.twin_id,
        point.name,
        point.event_time,
        value_num,
        value_json,
        ingest_time,
        point.source,
    )


def _conflict(point: AcceptedPoint, stored: Any) -> Rejected:
    """A point refused because its field already holds another value at its event time."""
    return Rejected(
        point.source,
        {"twin": point.twin_id, "name": point.name, "time": point.event_time, "value": point.value},
        "value",
        "conflictingValue",
        f"{point.twin_id}.{point.name} already has the value {stored!r} at this event time;"
        " a point is immutable once stored",
        point.twin_id,
        point.name,
    )


def _joined(value_num: float | None, value_json: Any) -> Any:
    return value_json if value_num is None else joined_number(value_num)


T = TypeVar("T")


def _chunks(items: Sequence[T], size: int = _CHUNK) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class SqlStateStore(StateStore):
    """History, current state, message ids, quarantine and data quality in their tables."""

    def __init__(self, db: Database, compaction: CompactionPolicy | None = None) -> None:
        self._db = db
        self.history_log = HistoryLog(db, compaction)
        self._shown = ShownCache()

    def close(self) -> None:
        """Stop compacting history in the background."""
        self.history_log.close()

    def apply(
        self,
        tenant: str,
        points: Sequence[AcceptedPoint],
        rejected: Sequence[Rejected],
        ingest_time: int,
    ) -> ApplyResult:
        # Worked out before the writer lock, as if no field showed anything yet and no message
        # id had been seen: in live telemetry that holds, and the lock is held only for SQL.
        plan = self._plan(tenant, points, rejected, ingest_time)
        with tracing.span("state.apply", {"twinops.points": len(points)}), self._db.write() as conn:
            self.history_log.lock(conn, tenant)
            seen = self._record_message_ids(conn, tenant, plan.ids, ingest_time)
            read = self._shown.read(conn, tenant, {p.twin_id for p in plan.fresh})
            if seen or not plan.holds(read.shown):
                plan = self._plan(
                    tenant,
                    points,
                    rejected,
                    ingest_time,
                    seen=seen,
                    shown=read.shown,
                    lookup=lambda keys: self.history_log.lookup(conn, tenant, keys),
                    base=plan,
                )
            written = self.history_log.append(conn, tenant, plan.segment)
            execute_statements(conn, plan.statements)
            if plan.moved:
                self._shown.bump(conn, tenant)
            self._quarantine(conn, tenant, plan.rejected, ingest_time)
            compact = bool(plan.new) and self.history_log.needs_compaction(conn, tenant)
        self._shown.committed(
            tenant,
            read,
            ((p.twin_id, p.name, p.event_time) for p in plan.moved),
            bumped=bool(plan.moved),
        )
        if written is not None:
            self.history_log.remember(written)
        if compact:
            self.history_log.request_compaction(tenant)
        return ApplyResult(
            accepted=len(plan.new),
            duplicates=len(plan.repeated) + len(plan.duplicates),
            late=sum(plan.late.values()),
            quarantined=len(plan.rejected),
            conflicts=tuple(plan.conflicts),
            very_late=plan.very_late,
        )

    def _plan(
        self,
        tenant: str,
        points: Sequence[AcceptedPoint],
        rejected: Sequence[Rejected],
        now: int,
        *,
        seen: frozenset[str] = frozenset(),
        shown: Shown | None = None,
        lookup: Callable[[list[PointKey]], dict[PointKey, Any]] | None = None,
        base: _Plan | None = None,
    ) -> _Plan:
        """Every write of a batch, given the message ids seen before and what fields show.

        ``base``, a plan of the same batch made with nothing seen or shown, lends what does
        not depend on them: how the batch splits into keys, and the encoded segment when no
        point turns out to be stored already.
        """
        shown = {} if shown is None else shown
        if base is None or seen:
            fresh, repeated, ids = _drop_repeated_ids(points, seen)
            keys, repeats = _split_keys(fresh)
        else:  # every message id is new: the batch splits as the base found
            fresh, repeated, ids = base.fresh, base.repeated, base.ids
            keys, repeats = base.keys, base.repeats
        stored = _stored(keys, shown, lookup)
        if base is not None and not seen and not stored:
            new, duplicates, conflicts = base.new, base.duplicates, base.conflicts
            segment = base.segment
        else:
            new, duplicates, conflicts = _judge(keys, repeats, stored)
            segment = self.history_log.segment(new, now)
        moved, late, oldest, rows, fields_by_twin = _moves(tenant, new, shown, now)
        refused = [*rejected, *conflicts]
        quality, very_late = _quality_rows(
            tenant, new, [*repeated, *duplicates], late, refused, now
        )
        dialect = self._db.dialect
        statements = [
            *render_upsert_newer(
                dialect,
                current_state,
                _CURRENT_COLUMNS,
                rows,
                keys=("tenant", "twin_id", "name"),
                newer="event_time",
                json_columns=frozenset({"value_json"}),
            ),
            *render_subject_events(
                dialect,
                tenant,
                EventType.TELEMETRY_APPLIED,
                now,
                [(twin_id, {"fields": f}) for twin_id, f in sorted(fields_by_twin.items())],
            ),
            *render_counts(dialect, quality),
        ]
        return _Plan(
            fresh=fresh,
            ids=ids,
            keys=keys,
            repeats=repeats,
            new=new,
            repeated=repeated,
            duplicates=duplicates,
            conflicts=conflicts,
            rejected=refused,
            moved=moved,
            late=late,
            oldest=oldest,
            segment=segment,
            statements=statements,
            very_late=very_late,
        )

    def _record_message_ids(
        self, conn: Connection, tenant: str, ids: Sequence[str], now: int
    ) -> frozenset[str]:
        """The batch's message ids stored before (its points are repeats); records the rest."""
        if not ids:
            return frozenset()
        seen: set[str] = set()
        for chunk in _chunks(ids):
            stmt = select(message_ids.c.message_id).where(
                message_ids.c.tenant == tenant, message_ids.c.message_id.in_(chunk)
            )
            seen.update(conn.execute(stmt).scalars())
        insert_ignoring_conflicts(
            conn,
            message_ids,
            [dict(tenant=tenant, message_id=i, seen_at=now) for i in ids if i not in seen],
        )
        return frozenset(seen)

    def _quarantine(
        self, conn: Connection, tenant: str, rejected: Sequence[Rejected], now: int
    ) -> None:
        if rejected:
            conn.execute(
                insert(quarantine),
                [
                    dict(
                        tenant=tenant,
                        source=r.source,
                        received_at=now,
                        twin_id=r.twin_id,
                        name=r.name,
                        field=r.field,
                        rule=r.rule,
                        reason=r.reason,
                        payload=dict(r.payload),
                        replayed_at=None,
                    )
                    for r in rejected
                ],
            )

    def current(self, tenant: str, twin_id: str) -> dict[str, FieldValue]:
        stmt = select(current_state).where(
            current_state.c.tenant == tenant, current_state.c.twin_id == twin_id
        )
        with self._db.read() as conn:
            return {row.name: _field(row) for row in conn.execute(stmt)}

    def as_of(
        self, tenant: str, twin_ids: Sequence[str], at: int
    ) -> dict[str, dict[str, FieldValue]]:
        result: dict[str, dict[str, FieldValue]] = {t: {} for t in twin_ids}
        with self._db.snapshot() as conn:
            for chunk in _chunks(list(twin_ids)):
                rows = conn.execute(
                    select(current_state).where(
                        current_state.c.tenant == tenant, current_state.c.twin_id.in_(chunk)
                    )
                ).all()
                past = []
                for row in rows:
                    # A field whose newest event is not after T shows its current value then.
                    if row.event_time <= at:
                        result[row.twin_id][row.name] = _field(row)
                    else:
                        past.append((row.twin_id, row.name))
                found = self.history_log.newest_at_or_before(conn, tenant, past, at)
                for (twin_id, name), (columns, i) in found.items():
                    result[twin_id][name] = FieldValue(
                        name=name,
                        value=columns.value(i),
                        event_time=int(columns.times[i]),
                        ingest_time=int(columns.ingest[i]),
                        source=columns.source(i),
                    )
        return result

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
        if after is not None:
            start = after + 1 if start is None else max(start, after + 1)
        with self._db.snapshot() as conn:
            columns = self.history_log.read(conn, tenant, twin_id, name, start, end, limit)
        shown = min(len(columns), limit)
        items = [
            Sample(time, value, PointFlag(flags))
            for time, value, flags in zip(
                columns.times[:shown].tolist(),
                columns.values(shown),
                columns.flags[:shown].tolist(),
                strict=True,
            )
        ]
        return Page(items, str(items[-1].time) if len(columns) > limit else None)

    def windows(
        self, tenant: str, twin_id: str, name: str, *, start: int, end: int, interval: int
    ) -> list[Window]:
        with self._db.snapshot() as conn:
            columns = self.history_log.read(conn, tenant, twin_id, name, start, end)
        if not len(columns):
            return []
        buckets, firsts, counts = np.unique(
            (columns.times - start) // interval, return_index=True, return_counts=True
        )
        nums = columns.nums  # NaN where a value is not a number: left out of mean, min, max
        numeric = ~np.isnan(nums)
        sums = np.add.reduceat(np.where(numeric, nums, 0.0), firsts)
        numbers = np.add.reduceat(numeric.astype(np.int64), firsts)
        with np.errstate(invalid="ignore"):
            lows = np.fmin.reduceat(nums, firsts)
            highs = np.fmax.reduceat(nums, firsts)
        windows = []
        for k, bucket in enumerate(buckets.tolist()):
            has_numbers = bool(numbers[k])
            windows.append(
                Window(
                    start=start + int(bucket) * interval,
                    count=int(counts[k]),
                    mean=float(sums[k] / numbers[k]) if has_numbers else None,
                    min=float(lows[k]) if has_numbers else None,
                    max=float(highs[k]) if has_numbers else None,
                    # Time order is stable: the bucket's last point is its newest event.
                    last=columns.value(int(firsts[k] + counts[k] - 1)),
                )
            )
        return windows

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
        stmt = select(quarantine).where(quarantine.c.tenant == tenant, quarantine.c.id > after)
        if twin_id is not None:
            stmt = stmt.where(quarantine.c.twin_id == twin_id)
        if rule is not None:
            stmt = stmt.where(quarantine.c.rule == rule)
        if not include_replayed:
            stmt = stmt.where(quarantine.c.replayed_at.is_(None))
        with self._db.read() as conn:
            return [
                QuarantineEntry(
                    id=row.id,
                    tenant=row.tenant,
                    source=row.source,
                    received_at=row.received_at,
                    twin_id=row.twin_id,
                    name=row.name,
                    field=row.field,
                    rule=row.rule,
                    reason=row.reason,
                    payload=row.payload,
                    replayed_at=row.replayed_at,
                )
                for row in conn.execute(stmt.order_by(quarantine.c.id).limit(limit))
            ]

    def mark_replayed(self, tenant: str, ids: Sequence[int], at: int) -> None:
        with self._db.write() as conn:
            for chunk in _chunks(list(ids)):
                conn.execute(
                    update(quarantine)
                    .where(quarantine.c.tenant == tenant, quarantine.c.id.in_(chunk))
                    .values(replayed_at=at)
                )

    def quality(self, tenant: str, twin_id: str | None = None) -> list[Quality]:
        stmt = select(data_quality).where(data_quality.c.tenant == tenant)
        if twin_id is not None:
            stmt = stmt.where(data_quality.c.twin_id == twin_id)
        stmt = stmt.order_by(data_quality.c.twin_id, data_quality.c.source)
        with self._db.read() as conn:
            return [
                Quality(
                    twin_id=row.twin_id,
                    source=row.source,
                    accepted=row.accepted,
                    duplicates=row.duplicates,
                    late=row.late,
                    quarantined=row.quarantined,
                    last_event_time=row.last_event_time,
                    last_ingest_time=row.last_ingest_time,
                    very_late=row.very_late,
                )
                for row in conn.execute(stmt)
            ]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float | int) and isinstance(b, float | int):
        return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=0.0)
    return bool(a == b)


def _field(row: Any) -> FieldValue:
    return FieldValue(
        name=row.name,
        value=_joined(row.value_num, row.value_json),
        event_time=row.event_time,
        ingest_time=row.ingest_time,
        source=row.source,
    )


@dataclass(frozen=True)
class _Plan:
    """A batch's writes, worked out from what its fields showed and the message ids seen."""

    fresh: list[AcceptedPoint]  # points whose message id (if any) is new
    ids: list[str]  # the batch's message ids, to record
    keys: dict[PointKey, AcceptedPoint]  # the first fresh point of each key
    repeats: list[AcceptedPoint]  # the later fresh points of a key
    new: list[AcceptedPoint]  # points of keys history does not hold: stored
    repeated: list[AcceptedPoint]  # repeats of a message id
    duplicates: list[AcceptedPoint]  # repeats of a stored or earlier key with its value
    conflicts: list[Rejected]  # repeats of a key with another value
    rejected: list[Rejected]  # everything quarantined, conflicts included
    moved: list[AcceptedPoint]  # the newest point of each field it moves forward
    late: dict[tuple[str, str], int]  # per field, points older than it showed
    oldest: dict[tuple[str, str], int]  # per field, the event time of its oldest new point
    segment: PreparedSegment | None
    statements: list[Statement]  # current state, events, data quality
    very_late: int

    def holds(self, shown: Shown) -> bool:
        """Whether a plan made with nothing shown is also the plan for ``shown``.

        It is when every field's points are all newer than what the field shows: then none
        is late or needs a history lookup, and each field's newest point moves it.
        """
        return all(shown.get(key, -1) < oldest for key, oldest in self.oldest.items())


def _drop_repeated_ids(
    points: Sequence[AcceptedPoint], seen: frozenset[str]
) -> tuple[list[AcceptedPoint], list[AcceptedPoint], list[str]]:
    """(fresh, repeated, ids): points whose message id was seen before, or earlier in the
    batch, are repeats; ``ids`` are the batch's distinct ids, sorted."""
    ids = sorted({p.message_id for p in points if p.message_id})
    if not ids:
        return list(points), [], []
    done = set(seen)
    fresh: list[AcceptedPoint] = []
    repeated: list[AcceptedPoint] = []
    for p in points:
        if p.message_id and p.message_id in done:
            repeated.append(p)
            continue
        if p.message_id:
            done.add(p.message_id)  # a later point of this batch with the id is a repeat
        fresh.append(p)
    return fresh, repeated, ids


def _split_keys(
    points: Sequence[AcceptedPoint],
) -> tuple[dict[PointKey, AcceptedPoint], list[AcceptedPoint]]:
    """The first point of each key (twin, field, event time), and the later ones."""
    first: dict[PointKey, AcceptedPoint] = {}
    repeats: list[AcceptedPoint] = []
    for p in points:
        key = (p.twin_id, p.name, p.event_time)
        if key in first:
            repeats.append(p)
        else:
            first[key] = p
    return first, repeats


def _stored(
    keys: dict[PointKey, AcceptedPoint],
    shown: Shown,
    lookup: Callable[[list[PointKey]], dict[PointKey, Any]] | None,
) -> dict[PointKey, Any]:
    """The values history holds at the batch's keys (found with ``lookup``; without, none).

    History never holds a point newer than what its field shows, so only points at or before
    that time are looked up: in live telemetry, none.
    """
    if lookup is None:
        return {}
    older = [key for key, p in keys.items() if p.event_time <= shown.get((p.twin_id, p.name), -1)]
    return lookup(older) if older else {}


def _judge(
    keys: dict[PointKey, AcceptedPoint],
    repeats: Sequence[AcceptedPoint],
    stored: dict[PointKey, Any],
) -> tuple[list[AcceptedPoint], list[AcceptedPoint], list[Rejected]]:
    """New points, duplicates and conflicts (another value at a key).

    A key's value is the stored one, else the batch's first: repeats are judged by it.
    """
    duplicates: list[AcceptedPoint] = []
    conflicts: list[Rejected] = []
    for p in [keys[key] for key in stored] + list(repeats):
        key = (p.twin_id, p.name, p.event_time)
        value = stored[key] if key in stored else keys[key].value
        if _same(value, p.value):
            duplicates.append(p)
        else:
            conflicts.append(_conflict(p, value))
    if not stored:
        return list(keys.values()), duplicates, conflicts
    return [p for key, p in keys.items() if key not in stored], duplicates, conflicts


FieldCounts = dict[tuple[str, str], int]


def _moves(
    tenant: str, points: Sequence[AcceptedPoint], shown: Shown, now: int
) -> tuple[list[AcceptedPoint], FieldCounts, FieldCounts, list[tuple[Any, ...]], dict[str, Any]]:
    """How current state moves forward to the newest event per field.

    The points that moved a field; per field the number of late points (older than what it
    showed before the batch) and the event time of its oldest point; the ``current_state``
    rows to upsert and the fields each twin's event reports.
    """
    newest: dict[tuple[str, str], AcceptedPoint] = {}
    oldest: dict[tuple[str, str], int] = {}
    late: dict[tuple[str, str], int] = {}
    for p in points:
        key = (p.twin_id, p.name)
        known = newest.get(key)
        if known is None:
            newest[key] = p
            oldest[key] = p.event_time
        elif p.event_time > known.event_time:
            newest[key] = p
        elif p.event_time < oldest[key]:  # points usually come in event order: rarely asked
            oldest[key] = p.event_time
        before = shown.get(key)
        if before is not None and p.event_time < before:
            late[key] = late.get(key, 0) + 1
    moved = []
    rows = []
    fields_by_twin: dict[str, dict[str, Any]] = {}
    for key, p in newest.items():
        before = shown.get(key)
        if before is None or p.event_time > before:
            moved.append(p)
            rows.append(_point_row(tenant, p, now))
            fields = fields_by_twin.get(p.twin_id)
            if fields is None:
                fields = fields_by_twin[p.twin_id] = {}
            fields[p.name] = {"value": p.value, "time": p.event_time}
    return moved, late, oldest, rows, fields_by_twin


def _quality_rows(
    tenant: str,
    accepted: Sequence[AcceptedPoint],
    duplicates: Sequence[AcceptedPoint],
    late: dict[tuple[str, str], int],
    rejected: Sequence[Rejected],
    now: int,
) -> tuple[list[tuple[Any, ...]], int]:
    """The data-quality counts to add (rows in ``QUALITY_COLUMNS`` order), and how many of
    the accepted points are very late."""
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0, -1, 0])
    for p in accepted:
        row = counts[p.twin_id, p.source]
        row[0] += 1
        if p.event_time > row[4]:
            row[4] = p.event_time
        if p.flags:  # Flag membership runs enum code; most points carry no flag
            row[5] += PointFlag.VERY_LATE in p.flags
    for p in duplicates:
        counts[p.twin_id, p.source][1] += 1
    sources = {(p.twin_id, p.name): p.source for p in accepted} if late else {}
    for (twin_id, name), n in late.items():
        counts[twin_id, sources.get((twin_id, name), "unknown")][2] += n
    for r in rejected:
        counts[r.twin_id or "", r.source][3] += 1
    rows = [
        (
            tenant,
            twin_id,
            source,
            acc,
            dup,
            lat,
            quar,
            very_late,
            last if last >= 0 else None,
            now,
        )
        for (twin_id, source), (acc, dup, lat, quar, last, very_late) in sorted(counts.items())
    ]
    return rows, sum(counted[5] for counted in counts.values())
