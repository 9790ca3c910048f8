"""Security entities: roles, principals, API keys and audit records. No I/O."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

TENANT_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class Role(StrEnum):
    """What a principal may do in its tenant; each role includes the ones before it."""

    VIEWER = "viewer"  # read
    OPERATOR = "operator"  # ingest telemetry, run scenarios
    MODELER = "modeler"  # models, twins, calibration, registry
    ADMIN = "admin"  # keys, tenants, promotion to production

    @property
    def rank(self) -> int:
        """Position in the hierarchy (viewer 0 ... admin 3)."""
        return _RANKS[self]

    def allows(self, needed: Role) -> bool:
        """Whether this role includes ``needed``."""
        return self.rank >= needed.rank


# Every request and every MQTT message asks; listing the enum each time showed in profiles.
_RANKS = {role: position for position, role in enumerate(Role)}


@dataclass(frozen=True)
class Principal:
    """Who is calling: a subject acting in one tenant with one role."""

    tenant: str
    subject: str
    role: Role
    key_id: str | None = None  # the API key used, for rate limits and the audit log
    via: str = "key"  # key | jwt | local

    @property
    def actor(self) -> str:
        """How the audit log names this principal."""
        return f"{self.via}:{self.key_id or self.subject}"


@dataclass(frozen=True)
class ApiKey:
    """A stored API key: only its argon2 hash is kept, never the key."""

    tenant: str
    key_id: str
    name: str
    role: Role
    secret_hash: str
    created_at: int
    created_by: str
    expires_at: int | None = None
    revoked_at: int | None = None

    def usable_at(self, now: int) -> bool:
        """Neither revoked nor expired at ``now``."""
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


@dataclass(frozen=True)
class AuditEntry:
    """An action about to be recorded; the store assigns its place in the chain."""

    tenant: str
    actor: str
    action: str
    target: str
    occurred_at: int
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditRecord:
    """A stored, hash-chained audit record."""

    tenant: str
    seq: int
    actor: str
    action: str
    target: str
    occurred_at: int
    details: Mapping[str, Any]
    prev_hash: str
    hash: str
