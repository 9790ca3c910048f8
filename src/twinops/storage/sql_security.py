"""The security store on SQL (both dialects)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from twinops.security.entities import ApiKey, AuditEntry, AuditRecord, Role
from twinops.security.store import SecurityStore
from twinops.storage.audit import append_audit, audit_head, iter_audit
from twinops.storage.database import Database
from twinops.storage.schema import api_keys, tenants


def _to_key(row: Any) -> ApiKey:
    return ApiKey(
        tenant=row.tenant,
        key_id=row.key_id,
        name=row.name,
        role=Role(row.role),
        secret_hash=row.secret_hash,
        created_at=row.created_at,
        created_by=row.created_by,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


class SqlSecurityStore(SecurityStore):
    """Keys, tenants and audit records in their tables."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get_key(self, key_id: str) -> ApiKey | None:
        with self._db.read() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.key_id == key_id)).first()
            return _to_key(row) if row else None

    def add_key(self, key: ApiKey, audit: AuditEntry) -> None:
        with self._db.write() as conn:
            conn.execute(
                insert(api_keys).values(
                    key_id=key.key_id,
                    tenant=key.tenant,
                    name=key.name,
                    role=str(key.role),
                    secret_hash=key.secret_hash,
                    created_at=key.created_at,
                    created_by=key.created_by,
                    expires_at=key.expires_at,
                    revoked_at=key.revoked_at,
                )
            )
            append_audit(conn, audit)

    def revoke_key(self, tenant: str, key_id: str, at: int, audit: AuditEntry) -> bool:
        with self._db.write() as conn:
            result = conn.execute(
                update(api_keys)
                .where(
                    api_keys.c.tenant == tenant,
                    api_keys.c.key_id == key_id,
                    api_keys.c.revoked_at.is_(None),
                )
                .values(revoked_at=at)
            )
            if not result.rowcount:
                return False
            append_audit(conn, audit)
            return True

    def list_keys(self, tenant: str) -> list[ApiKey]:
        stmt = (
            select(api_keys)
            .where(api_keys.c.tenant == tenant)
            .order_by(api_keys.c.created_at.desc(), api_keys.c.key_id)
        )
        with self._db.read() as conn:
            return [_to_key(row) for row in conn.execute(stmt)]

    def add_tenant(self, tenant: str, at: int, by: str, audit: AuditEntry) -> bool:
        try:
            with self._db.write() as conn:
                conn.execute(insert(tenants).values(tenant=tenant, created_at=at, created_by=by))
                append_audit(conn, audit)
        except IntegrityError:
            return False
        return True

    def tenant_exists(self, tenant: str) -> bool:
        with self._db.read() as conn:
            stmt = select(tenants.c.tenant).where(tenants.c.tenant == tenant)
            return conn.execute(stmt).first() is not None

    def list_tenants(self) -> list[str]:
        with self._db.read() as conn:
            return list(conn.execute(select(tenants.c.tenant).order_by(tenants.c.tenant)).scalars())

    def append_audit(self, entry: AuditEntry) -> AuditRecord:
        with self._db.write() as conn:
            return append_audit(conn, entry)

    def list_audit(self, tenant: str, *, after_seq: int = 0, limit: int = 100) -> list[AuditRecord]:
        with self._db.read() as conn:
            return list(iter_audit(conn, tenant, after_seq=after_seq, limit=limit))

    def audit_chain(self, tenant: str) -> tuple[list[AuditRecord], tuple[int, str] | None]:
        with self._db.read() as conn:
            return list(iter_audit(conn, tenant)), audit_head(conn, tenant)
