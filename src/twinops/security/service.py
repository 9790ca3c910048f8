"""The security service: who is calling, which keys and tenants exist, what was done."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from twinops.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from twinops.security.audit import ChainReport, verify_chain
from twinops.security.entities import (
    TENANT_PATTERN,
    ApiKey,
    AuditEntry,
    AuditRecord,
    Principal,
    Role,
)
from twinops.security.keys import (
    MAX_KEY_LENGTH,
    fingerprint,
    hash_key,
    key_id_of,
    new_key,
    verify_key,
)
from twinops.security.store import SecurityStore
from twinops.security.tokens import JwtConfig, looks_like_jwt, verify_jwt
from twinops.timeutil import Clock, system_clock

_SECOND = 1_000_000


@dataclass(frozen=True)
class _Verified:
    fingerprint: str
    key: ApiKey
    checked_at: int


class SecurityService:
    """Authenticates callers, manages keys and tenants, and keeps the audit chain."""

    def __init__(
        self,
        store: SecurityStore,
        jwt: JwtConfig,
        *,
        default_tenant: str,
        clock: Clock = system_clock,
        cache_seconds: float = 5.0,
    ) -> None:
        self._store = store
        self._jwt = jwt
        self._clock = clock
        self.default_tenant = default_tenant
        # A verified key is trusted this long before its row (revocation, expiry) is re-read;
        # argon2 is never re-run for the same key.
        self._cache_us = int(cache_seconds * _SECOND)
        self._verified: dict[str, _Verified] = {}
        self._key_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    # -- authentication ------------------------------------------------------------------

    def cached_principal(self, authorization: str | None) -> Principal | None:
        """The principal for a recently verified key, without any I/O; None otherwise."""
        token = _bearer(authorization)
        if token is None or looks_like_jwt(token):
            return None
        hit = self._verified.get(key_id_of(token))
        now = self._clock()
        if hit is None or hit.fingerprint != fingerprint(token):
            return None
        if now - hit.checked_at > self._cache_us or not hit.key.usable_at(now):
            return None
        return _key_principal(hit.key)

    def authenticate(self, authorization: str | None) -> Principal:
        """The principal behind an ``Authorization: Bearer <key or JWT>`` header."""
        token = _bearer(authorization)
        if token is None:
            raise Unauthorized("send Authorization: Bearer <API key or token>")
        if looks_like_jwt(token):
            claims = verify_jwt(token, self._jwt)
            try:
                role = Role(claims.role)
            except ValueError as exc:
                raise Unauthorized("the token's role is not one twinops knows") from exc
            return Principal(claims.tenant, claims.subject, role, None, "jwt")
        cached = self.cached_principal(authorization)
        if cached is not None:
            return cached
        key_id = key_id_of(token)
        # One verification per key at a time: concurrent first requests with the same key wait
        # for it instead of each running argon2 (19 MiB apiece, kept by the allocator after).
        with self._verifying(key_id):
            cached = self.cached_principal(authorization)
            if cached is not None:
                return cached
            key = self._store.get_key(key_id)
            now = self._clock()
            if key is None or not self._matches(key, token):
                raise Unauthorized("the API key is not valid")
            if not key.usable_at(now):
                raise Unauthorized("the API key is revoked or expired")
            with self._lock:
                self._verified[key.key_id] = _Verified(fingerprint(token), key, now)
            return _key_principal(key)

    def _verifying(self, key_id: str) -> threading.Lock:
        with self._lock:
            if len(self._key_locks) > 10_000:
                self._key_locks.clear()  # bounded: forged ids must not grow it forever
            return self._key_locks.setdefault(key_id, threading.Lock())

    def _matches(self, key: ApiKey, token: str) -> bool:
        """Whether ``token`` is ``key``; argon2 runs only for a key not verified before.

        A stale cache entry is refreshed from the stored row (revocation, expiry) but the hash
        is not re-checked: otherwise every request arriving in that instant would run argon2
        at once, 19 MiB each.
        """
        known = self._verified.get(key.key_id)
        if (
            known is not None
            and known.fingerprint == fingerprint(token)
            and known.key.secret_hash == key.secret_hash
        ):
            return True
        return verify_key(key.secret_hash, token)

    # -- keys ----------------------------------------------------------------------------

    def create_key(
        self,
        caller: Principal,
        *,
        name: str,
        role: Role,
        tenant: str | None = None,
        expires_at: int | None = None,
    ) -> tuple[ApiKey, str]:
        """A new key (and its plaintext, shown this once) in the caller's or a given tenant."""
        target = self._tenant_for(caller, tenant)
        if not caller.role.allows(role):
            raise Forbidden(f"a {caller.role} cannot create a {role} key")
        if not name or len(name) > 256:
            raise InvalidInput.single("name", "length", "name the key (1-256 characters)")
        now = self._clock()
        if expires_at is not None and expires_at <= now:
            raise InvalidInput.single("expiresAt", "future", "an expiry must be in the future")
        key_id, plaintext = new_key()
        key = ApiKey(target, key_id, name, role, hash_key(plaintext), now, caller.actor, expires_at)
        self._store.add_key(
            key,
            AuditEntry(
                target,
                caller.actor,
                "ApiKeyCreated",
                key_id,
                now,
                {"name": name, "role": str(role), "expiresAt": expires_at},
            ),
        )
        return key, plaintext

    def revoke_key(self, caller: Principal, key_id: str) -> None:
        """Revoke a key of the caller's tenant; it stops working at once in this process."""
        now = self._clock()
        entry = AuditEntry(caller.tenant, caller.actor, "ApiKeyRevoked", key_id, now, {})
        if not self._store.revoke_key(caller.tenant, key_id, now, entry):
            raise NotFound(f"key {key_id} does not exist or is already revoked")
        with self._lock:
            self._verified.pop(key_id, None)

    def list_keys(self, caller: Principal) -> list[ApiKey]:
        """The caller's tenant's keys (hashes are never shown)."""
        return self._store.list_keys(caller.tenant)

    def seed_admin_key(self, plaintext: str, tenant: str | None = None) -> bool:
        """Store ``TWINOPS_ADMIN_KEY`` as an admin key once; False when it is already there."""
        if not 16 <= len(plaintext) <= MAX_KEY_LENGTH:
            raise InvalidInput.single(
                "TWINOPS_ADMIN_KEY", "length", "an admin key needs 16 to 512 characters"
            )
        target = tenant or self.default_tenant
        key_id = key_id_of(plaintext)
        if self._store.get_key(key_id) is not None:
            return False
        self._ensure_tenant(target, "seed")
        now = self._clock()
        key = ApiKey(target, key_id, "seeded admin", Role.ADMIN, hash_key(plaintext), now, "seed")
        self._store.add_key(
            key, AuditEntry(target, "seed", "ApiKeyCreated", key_id, now, {"role": "admin"})
        )
        return True

    def first_admin_key(self, tenant: str | None = None) -> str | None:
        """Create an admin key when the tenant has none; its plaintext, or None if one exists."""
        target = tenant or self.default_tenant
        if any(
            k.role is Role.ADMIN and k.usable_at(self._clock())
            for k in self._store.list_keys(target)
        ):
            return None
        self._ensure_tenant(target, "bootstrap")
        system = Principal(target, "bootstrap", Role.ADMIN, None, "local")
        _, plaintext = self.create_key(system, name="first admin", role=Role.ADMIN)
        return plaintext

    # -- tenants -------------------------------------------------------------------------

    def create_tenant(self, caller: Principal, tenant: str) -> tuple[str, str]:
        """A new tenant and its first admin key; only the platform's own admins may."""
        self._require_platform_admin(caller)
        if not TENANT_PATTERN.match(tenant):
            raise InvalidInput.single(
                "tenant", "pattern", "1-64 letters, digits, '_', '.', '-' (not first)", tenant
            )
        now = self._clock()
        entry = AuditEntry(tenant, caller.actor, "TenantCreated", tenant, now, {})
        if not self._store.add_tenant(tenant, now, caller.actor, entry):
            raise Conflict(f"tenant {tenant} already exists")
        admin = Principal(tenant, caller.subject, Role.ADMIN, caller.key_id, caller.via)
        _, plaintext = self.create_key(admin, name="first admin", role=Role.ADMIN)
        return tenant, plaintext

    def list_tenants(self, caller: Principal) -> list[str]:
        """Every tenant (platform admins only)."""
        self._require_platform_admin(caller)
        return self._store.list_tenants()

    # -- audit ---------------------------------------------------------------------------

    def record(
        self, caller: Principal, action: str, target: str, details: Mapping[str, Any]
    ) -> AuditRecord:
        """Audit an action that changes nothing else here (a run submitted, a spec hashed)."""
        entry = AuditEntry(caller.tenant, caller.actor, action, target, self._clock(), details)
        return self._store.append_audit(entry)

    def list_audit(
        self, caller: Principal, *, after_seq: int = 0, limit: int = 100
    ) -> list[AuditRecord]:
        """The caller's tenant's audit records in order."""
        return self._store.list_audit(caller.tenant, after_seq=after_seq, limit=limit)

    def verify_audit(self, tenant: str) -> ChainReport:
        """Check a tenant's chain and name the first broken record."""
        records, head = self._store.audit_chain(tenant)
        report = verify_chain(records)
        if not report.intact or head is None:
            return report
        last_seq, last_hash = (records[-1].seq, records[-1].hash) if records else (0, "")
        if (last_seq, last_hash) != head and head[0] != 0:
            broken = min(last_seq + 1, head[0])
            return ChainReport(len(records), broken, "records after it are missing or altered")
        return report

    # -- helpers -------------------------------------------------------------------------

    def _tenant_for(self, caller: Principal, tenant: str | None) -> str:
        if tenant is None or tenant == caller.tenant:
            return caller.tenant
        self._require_platform_admin(caller)
        if not self._store.tenant_exists(tenant):
            raise NotFound(f"tenant {tenant} does not exist")
        return tenant

    def _require_platform_admin(self, caller: Principal) -> None:
        if caller.tenant != self.default_tenant or caller.role is not Role.ADMIN:
            raise Forbidden("only an admin of the platform's default tenant manages tenants")

    def _ensure_tenant(self, tenant: str, by: str) -> None:
        if not self._store.tenant_exists(tenant):
            now = self._clock()
            self._store.add_tenant(
                tenant, now, by, AuditEntry(tenant, by, "TenantCreated", tenant, now, {})
            )


def _bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 8192:
        return None
    return token


def _key_principal(key: ApiKey) -> Principal:
    return Principal(key.tenant, key.name, key.role, key.key_id, "key")
