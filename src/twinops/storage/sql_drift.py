"""Drift policies on SQL (both dialects)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, insert, select

from twinops.fidelity.drift_store import DriftPolicyStore, StoredPolicy
from twinops.security.entities import AuditEntry
from twinops.storage.audit import append_audit
from twinops.storage.database import Database
from twinops.storage.schema import drift_policies


class SqlDriftPolicyStore(DriftPolicyStore):
    """One row per (tenant, registered model)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def policies(self, tenant: str) -> list[StoredPolicy]:
        stmt = (
            select(drift_policies)
            .where(drift_policies.c.tenant == tenant)
            .order_by(drift_policies.c.name)
        )
        with self._db.read() as conn:
            return [
                StoredPolicy(r.name, r.policy, r.updated_at, r.updated_by)
                for r in conn.execute(stmt)
            ]

    def put(
        self, tenant: str, name: str, policy: Mapping[str, Any], at: int, by: str, audit: AuditEntry
    ) -> None:
        key = (drift_policies.c.tenant == tenant, drift_policies.c.name == name)
        with self._db.write() as conn:
            conn.execute(delete(drift_policies).where(*key))
            conn.execute(
                insert(drift_policies).values(
                    tenant=tenant, name=name, policy=dict(policy), updated_at=at, updated_by=by
                )
            )
            append_audit(conn, audit)

    def remove(self, tenant: str, name: str, audit: AuditEntry) -> bool:
        key = (drift_policies.c.tenant == tenant, drift_policies.c.name == name)
        with self._db.write() as conn:
            gone = conn.execute(delete(drift_policies).where(*key)).rowcount
            if gone:
                append_audit(conn, audit)
        return bool(gone)
