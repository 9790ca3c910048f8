"""The retention store on SQL (both dialects)."""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Sequence

from sqlalchemy import Connection, and_, delete, insert, or_, select

from twinops.security.entities import AuditEntry
from twinops.state.retention import RetentionPolicy
from twinops.state.retention_store import HistoryCut, HistoryField, RetentionStore
from twinops.storage.audit import append_audit
from twinops.storage.database import Database
from twinops.storage.schema import (
    current_state,
    model_ancestors,
    retention_policies,
    twins,
)
from twinops.storage.sql_history import HistoryLog

# Fields visited per delete transaction, even when they have nothing to delete: bounds the
# time one transaction holds the (SQLite) writer on a fleet with many fields.
_FIELDS_PER_TRANSACTION = 200
_IN_CHUNK = 400


class SqlRetentionStore(RetentionStore):
    """Policies in ``retention_policies``; enforcement reads current state and twins."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._history = HistoryLog(db)

    def policies(self, tenant: str) -> list[RetentionPolicy]:
        stmt = (
            select(retention_policies)
            .where(retention_policies.c.tenant == tenant)
            .order_by(retention_policies.c.position)
        )
        with self._db.read() as conn:
            return [RetentionPolicy(r.model, r.field, r.keep_seconds) for r in conn.execute(stmt)]

    def replace_policies(
        self, tenant: str, policies: Sequence[RetentionPolicy], at: int, audit: AuditEntry
    ) -> None:
        with self._db.write() as conn:
            conn.execute(delete(retention_policies).where(retention_policies.c.tenant == tenant))
            if policies:
                conn.execute(
                    insert(retention_policies),
                    [
                        dict(
                            tenant=tenant,
                            model=p.model,
                            field=p.field,
                            keep_seconds=p.keep_seconds,
                            position=i,
                            updated_at=at,
                        )
                        for i, p in enumerate(policies)
                    ],
                )
            append_audit(conn, audit)

    def policy_tenants(self) -> list[str]:
        stmt = select(retention_policies.c.tenant).distinct().order_by(retention_policies.c.tenant)
        with self._db.read() as conn:
            return list(conn.execute(stmt).scalars())

    def history_fields(
        self, tenant: str, *, after: tuple[str, str] | None, limit: int
    ) -> list[HistoryField]:
        # Every field with history has a current-state row: far fewer rows to walk than history.
        stmt = (
            select(current_state.c.twin_id, current_state.c.name, twins.c.model)
            .select_from(
                current_state.outerjoin(
                    twins,
                    and_(
                        twins.c.tenant == current_state.c.tenant,
                        twins.c.twin_id == current_state.c.twin_id,
                    ),
                )
            )
            .where(current_state.c.tenant == tenant)
        )
        if after is not None:
            last_twin, last_name = after
            stmt = stmt.where(
                or_(
                    current_state.c.twin_id > last_twin,
                    and_(current_state.c.twin_id == last_twin, current_state.c.name > last_name),
                )
            )
        stmt = stmt.order_by(current_state.c.twin_id, current_state.c.name).limit(limit)
        with self._db.read() as conn:
            return [HistoryField(r.twin_id, r.name, r.model) for r in conn.execute(stmt)]

    def ancestors(self, tenant: str, dtmis: Sequence[str]) -> dict[str, frozenset[str]]:
        found: dict[str, set[str]] = defaultdict(set)
        wanted = sorted(set(dtmis))
        with self._db.read() as conn:
            for start in range(0, len(wanted), _IN_CHUNK):
                stmt = select(model_ancestors.c.dtmi, model_ancestors.c.ancestor).where(
                    model_ancestors.c.tenant == tenant,
                    model_ancestors.c.dtmi.in_(wanted[start : start + _IN_CHUNK]),
                )
                for row in conn.execute(stmt):
                    found[row.dtmi].add(row.ancestor)
        return {dtmi: frozenset(names | {dtmi}) for dtmi, names in found.items()}

    def delete_history(
        self, tenant: str, cuts: Sequence[HistoryCut], *, chunk_rows: int
    ) -> dict[str, int]:
        deleted: dict[str, int] = defaultdict(int)
        pending = deque(cuts)
        # Trimming works on blocks: first move what the segments hold into them.
        self._history.compact(tenant)
        while pending:
            with self._db.write() as conn:
                self._history.lock(conn, tenant)
                budget = chunk_rows
                visited = 0
                while pending and budget > 0 and visited < _FIELDS_PER_TRANSACTION:
                    cut = pending[0]
                    visited += 1
                    count = _delete_oldest(conn, self._history, tenant, cut, budget)
                    deleted[cut.name] += count
                    if count < budget:
                        pending.popleft()  # nothing older is left; a full chunk may hide more
                    budget -= count
        return {name: n for name, n in deleted.items() if n}

    def append_audit(self, entry: AuditEntry) -> None:
        with self._db.write() as conn:
            append_audit(conn, entry)


def _delete_oldest(
    conn: Connection, history: HistoryLog, tenant: str, cut: HistoryCut, limit: int
) -> int:
    """Delete about ``limit`` of a field's oldest points before the cut; the count deleted."""
    current = conn.execute(
        select(current_state.c.event_time).where(
            current_state.c.tenant == tenant,
            current_state.c.twin_id == cut.twin_id,
            current_state.c.name == cut.name,
        )
    ).scalar()
    # The current value stays in history too, so as-of now agrees with current state.
    before = cut.before if current is None else min(cut.before, int(current))
    return history.delete_before(conn, tenant, cut.twin_id, cut.name, before, limit)
