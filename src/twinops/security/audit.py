"""The audit chain: each record's hash covers its content and the previous record's hash."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from twinops.security.entities import AuditRecord

GENESIS = "0" * 64


def record_hash(
    *,
    tenant: str,
    seq: int,
    actor: str,
    action: str,
    target: str,
    occurred_at: int,
    details: Mapping[str, Any],
    prev_hash: str,
) -> str:
    """The sha256 of a record's canonical JSON form, chained to ``prev_hash``."""
    canonical = json.dumps(
        {
            "tenant": tenant,
            "seq": seq,
            "actor": actor,
            "action": action,
            "target": target,
            "time": occurred_at,
            "details": details,
            "prev": prev_hash,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    """The outcome of checking a tenant's chain."""

    records: int
    first_broken: int | None
    reason: str | None

    @property
    def intact(self) -> bool:
        """True when every record's hash and link hold."""
        return self.first_broken is None


def verify_chain(records: Iterable[AuditRecord]) -> ChainReport:
    """Check records in sequence order; name the first one whose hash or link is wrong."""
    expected_prev = GENESIS
    expected_seq = 1
    count = 0
    for record in records:
        count += 1
        if record.seq != expected_seq:
            return ChainReport(
                count, record.seq, f"expected record {expected_seq}, found {record.seq}"
            )
        if record.prev_hash != expected_prev:
            return ChainReport(count, record.seq, "its link to the previous record does not match")
        computed = record_hash(
            tenant=record.tenant,
            seq=record.seq,
            actor=record.actor,
            action=record.action,
            target=record.target,
            occurred_at=record.occurred_at,
            details=record.details,
            prev_hash=record.prev_hash,
        )
        if computed != record.hash:
            return ChainReport(count, record.seq, "its content does not match its hash")
        expected_prev = record.hash
        expected_seq += 1
    return ChainReport(count, None, None)
