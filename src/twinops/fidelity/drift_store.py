"""The drift policy store contract; the SQL implementation lives in ``twinops.storage``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from twinops.security.entities import AuditEntry


@dataclass(frozen=True)
class StoredPolicy:
    """A registered model's drift policy as stored (JSON, as it was set)."""

    name: str
    policy: Mapping[str, Any]
    updated_at: int
    updated_by: str


class DriftPolicyStore(ABC):
    """Drift policies per tenant and registered model; writes carry their audit record."""

    @abstractmethod
    def policies(self, tenant: str) -> list[StoredPolicy]:
        """Every policy of the tenant, by model name."""

    @abstractmethod
    def put(
        self, tenant: str, name: str, policy: Mapping[str, Any], at: int, by: str, audit: AuditEntry
    ) -> None:
        """Set (replace) the policy of a registered model."""

    @abstractmethod
    def remove(self, tenant: str, name: str, audit: AuditEntry) -> bool:
        """Remove a policy; False when there was none."""
