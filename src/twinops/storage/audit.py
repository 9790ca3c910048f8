"""Appending to and reading the per-tenant audit chain, shared by every SQL store."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from twinops.security.audit import GENESIS, record_hash
from twinops.security.entities import AuditEntry, AuditRecord
from twinops.storage.schema import audit_heads, audit_log


def _lock_head(conn: Connection, tenant: str) -> tuple[int, str]:
    head = select(audit_heads.c.seq, audit_heads.c.hash).where(audit_heads.c.tenant == tenant)
    row = conn.execute(head.with_for_update()).first()
    if row is not None:
        return int(row.seq), str(row.hash)
    try:
        with conn.begin_nested():
            conn.execute(insert(audit_heads).values(tenant=tenant, seq=0, hash=GENESIS))
    except IntegrityError:
        pass  # another writer created it first; its row is locked below like any other
    row = conn.execute(head.with_for_update()).first()
    if row is None:
        raise RuntimeError(f"audit head of tenant {tenant} vanished while locked")
    return int(row.seq), str(row.hash)


def append_audit(conn: Connection, entry: AuditEntry) -> AuditRecord:
    """Append one record to its tenant's chain inside the caller's transaction."""
    seq, prev = _lock_head(conn, entry.tenant)
    seq += 1
    details = dict(entry.details)
    digest = record_hash(
        tenant=entry.tenant,
        seq=seq,
        actor=entry.actor,
        action=entry.action,
        target=entry.target,
        occurred_at=entry.occurred_at,
        details=details,
        prev_hash=prev,
    )
    conn.execute(
        insert(audit_log).values(
            tenant=entry.tenant,
            seq=seq,
            actor=entry.actor,
            action=entry.action,
            target=entry.target,
            occurred_at=entry.occurred_at,
            details=details,
            prev_hash=prev,
            hash=digest,
        )
    )
    conn.execute(
        update(audit_heads).where(audit_heads.c.tenant == entry.tenant).values(seq=seq, hash=digest)
    )
    return AuditRecord(
        entry.tenant,
        seq,
        entry.actor,
        entry.action,
        entry.target,
        entry.occurred_at,
        details,
        prev,
        digest,
    )


def iter_audit(
    conn: Connection, tenant: str, *, after_seq: int = 0, limit: int | None = None
) -> Iterator[AuditRecord]:
    """A tenant's records in chain order."""
    stmt = (
        select(audit_log)
        .where(audit_log.c.tenant == tenant, audit_log.c.seq > after_seq)
        .order_by(audit_log.c.seq)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    for row in conn.execute(stmt):
        yield AuditRecord(
            row.tenant,
            row.seq,
            row.actor,
            row.action,
            row.target,
            row.occurred_at,
            row.details,
            row.prev_hash,
            row.hash,
        )


def audit_head(conn: Connection, tenant: str) -> tuple[int, str] | None:
    """The recorded newest (seq, hash) of a tenant's chain."""
    row = conn.execute(
        select(audit_heads.c.seq, audit_heads.c.hash).where(audit_heads.c.tenant == tenant)
    ).first()
    return None if row is None else (int(row.seq), str(row.hash))
