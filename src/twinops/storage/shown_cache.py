"""What each field of a tenant's twins shows now (its event time), cached between batches.

Every batch needs the event time each of its fields shows: it decides which points are late,
which need a history lookup and which move current state. Reading it is one of the dearest
steps of apply (thousands of rows a batch), and the answer is usually what this process's
previous batch left. The cache is trusted only while the tenant's ``state_versions`` row holds
the version this process's own last write left; any other writer (another process, another
node) bumps it, and the tenant's entries are dropped.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import Connection

from twinops.storage.bulk import select_where_in, sql_marker
from twinops.storage.schema import current_state

# Fields held across tenants; beyond it the cache starts again (a re-read costs one batch).
_MAX_FIELDS = 2_000_000

Shown = dict[tuple[str, str], int]


@dataclass
class _TenantFields:
    version: int
    by_twin: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class ShownRead:
    """What a batch's twins show, and the version it is valid for (handed back on commit)."""

    shown: Shown
    version: int
    loaded: Mapping[str, Mapping[str, int]]


class ShownCache:
    """Event times the fields of a process's recently written twins show, per tenant."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tenants: dict[str, _TenantFields] = {}
        self._fields = 0

    def read(self, conn: Connection, tenant: str, twin_ids: Iterable[str]) -> ShownRead:
        """What ``twin_ids`` show, from the cache where it is current, else from the database.

        Call inside the write transaction that holds the tenant's writer lock, so the version
        read cannot move before the transaction commits.
        """
        version = _stored_version(conn, tenant)
        wanted = sorted(set(twin_ids))
        shown: Shown = {}
        with self._lock:
            cached = self._tenants.get(tenant)
            if cached is None or cached.version != version:
                self._drop(tenant)
                cached = None
            missing = []
            for twin_id in wanted:
                fields = None if cached is None else cached.by_twin.get(twin_id)
                if fields is None:
                    missing.append(twin_id)
                    continue
                for name, event_time in fields.items():
                    shown[twin_id, name] = event_time
        loaded: dict[str, dict[str, int]] = {twin_id: {} for twin_id in missing}
        for twin_id, name, event_time in select_where_in(
            conn,
            current_state,
            ("twin_id", "name", "event_time"),
            tenant=tenant,
            column="twin_id",
            values=missing,
        ):
            loaded[twin_id][name] = event_time
            shown[twin_id, name] = event_time
        return ShownRead(shown, version, loaded)

    def bump(self, conn: Connection, tenant: str) -> None:
        """Record a write to the tenant's current state (in the same transaction)."""
        conn.exec_driver_sql(
            f"INSERT INTO state_versions (tenant, version) VALUES ({sql_marker(conn)}, 1)"
            " ON CONFLICT (tenant) DO UPDATE SET version = state_versions.version + 1",
            (tenant,),
        )

    def committed(
        self, tenant: str, read: ShownRead, moved: Iterable[tuple[str, str, int]], bumped: bool
    ) -> None:
        """After commit: keep what was read and what the write moved, at the new version."""
        version = read.version + 1 if bumped else read.version
        with self._lock:
            cached = self._tenants.get(tenant)
            if cached is None:
                cached = self._tenants[tenant] = _TenantFields(read.version)
            if cached.version != read.version:
                return  # another batch saw a newer version first: what we know may be stale
            cached.version = version
            for twin_id, fields in read.loaded.items():
                if twin_id not in cached.by_twin:
                    cached.by_twin[twin_id] = dict(fields)
                    self._fields += len(fields) + 1
            for twin_id, name, event_time in moved:
                known = cached.by_twin.get(twin_id)
                if known is None:
                    continue  # dropped since it was read (the cache overflowed): read it again
                if name not in known:
                    self._fields += 1
                known[name] = event_time
            if self._fields > _MAX_FIELDS:
                self._tenants.clear()
                self._fields = 0

    def _drop(self, tenant: str) -> None:
        cached = self._tenants.pop(tenant, None)
        if cached is not None:
            self._fields -= sum(len(f) + 1 for f in cached.by_twin.values())


def _stored_version(conn: Connection, tenant: str) -> int:
    """The tenant's state version (0 before its first write)."""
    found = conn.exec_driver_sql(
        f"SELECT version FROM state_versions WHERE tenant = {sql_marker(conn)}", (tenant,)
    ).scalar()
    return 0 if found is None else int(found)
