"""The security store contract. Implementations live in ``twinops.storage``."""

from __future__ import annotations

from abc import ABC, abstractmethod

from twinops.security.entities import ApiKey, AuditEntry, AuditRecord


class SecurityStore(ABC):
    """API keys, tenants and the audit chain. Every write is audited in its transaction."""

    @abstractmethod
    def get_key(self, key_id: str) -> ApiKey | None:
        """A key by its id (ids are unique across tenants)."""

    @abstractmethod
    def add_key(self, key: ApiKey, audit: AuditEntry) -> None:
        """Store a new key."""

    @abstractmethod
    def revoke_key(self, tenant: str, key_id: str, at: int, audit: AuditEntry) -> bool:
        """Revoke a key of this tenant; False when it does not exist there."""

    @abstractmethod
    def list_keys(self, tenant: str) -> list[ApiKey]:
        """A tenant's keys, newest first."""

    @abstractmethod
    def add_tenant(self, tenant: str, at: int, by: str, audit: AuditEntry) -> bool:
        """Register a tenant; False when it already exists."""

    @abstractmethod
    def tenant_exists(self, tenant: str) -> bool:
        """Whether the tenant is registered."""

    @abstractmethod
    def list_tenants(self) -> list[str]:
        """Every registered tenant."""

    @abstractmethod
    def append_audit(self, entry: AuditEntry) -> AuditRecord:
        """Record an action that changed nothing else (a run started, a login refused...)."""

    @abstractmethod
    def list_audit(self, tenant: str, *, after_seq: int = 0, limit: int = 100) -> list[AuditRecord]:
        """A tenant's audit records in chain order."""

    @abstractmethod
    def audit_chain(self, tenant: str) -> tuple[list[AuditRecord], tuple[int, str] | None]:
        """Every record of a tenant's chain and the recorded head, for verification."""
