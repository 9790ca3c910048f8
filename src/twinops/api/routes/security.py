"""/v1/keys, /v1/tenants, /v1/tokens and /v1/audit: who may do what, and what was done."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from twinops.api.deps import Admin, PlatformDep, Viewer
from twinops.api.routes.common import Limit
from twinops.platform import jwt_config
from twinops.security.entities import ApiKey, AuditRecord, Role
from twinops.security.tokens import issue_hs256
from twinops.timeutil import format_rfc3339, parse_time

router = APIRouter(prefix="/v1", tags=["security"])


class KeyCreate(BaseModel):
    """A key to create: a name, a role, optionally another tenant (platform admins) and expiry."""

    name: str = Field(min_length=1, max_length=256)
    role: Role
    tenant: str | None = Field(default=None, max_length=64)
    expiresAt: str | None = Field(default=None, max_length=64)


class TenantCreate(BaseModel):
    """A tenant to create."""

    tenant: str = Field(min_length=1, max_length=64)


class TokenRequest(BaseModel):
    """How long the token should live."""

    ttlSeconds: int = Field(default=3600, ge=60, le=24 * 3600)


def key_to_json(key: ApiKey) -> dict[str, Any]:
    """A key as the API shows it: never its hash."""
    return {
        "id": key.key_id,
        "tenant": key.tenant,
        "name": key.name,
        "role": str(key.role),
        "createdAt": format_rfc3339(key.created_at),
        "createdBy": key.created_by,
        "expiresAt": format_rfc3339(key.expires_at) if key.expires_at else None,
        "revokedAt": format_rfc3339(key.revoked_at) if key.revoked_at else None,
    }


def audit_to_json(record: AuditRecord) -> dict[str, Any]:
    """An audit record as the API shows it."""
    return {
        "seq": record.seq,
        "time": format_rfc3339(record.occurred_at),
        "actor": record.actor,
        "action": record.action,
        "target": record.target,
        "details": record.details,
        "prevHash": record.prev_hash,
        "hash": record.hash,
    }


@router.post("/keys", status_code=201, operation_id="security-create_key")
def create_key(platform: PlatformDep, caller: Admin, body: KeyCreate) -> Any:
    """Create an API key; the answer holds the key itself, shown this once."""
    expires = parse_time(body.expiresAt, "expiresAt") if body.expiresAt else None
    key, plaintext = platform.security.create_key(
        caller, name=body.name, role=body.role, tenant=body.tenant, expires_at=expires
    )
    return {**key_to_json(key), "key": plaintext}


@router.get("/keys", operation_id="security-list_keys")
def list_keys(platform: PlatformDep, caller: Admin) -> Any:
    """The tenant's keys (without secrets)."""
    return {"data": [key_to_json(k) for k in platform.security.list_keys(caller)]}


@router.delete("/keys/{key_id}", status_code=204, operation_id="security-revoke_key")
def revoke_key(platform: PlatformDep, caller: Admin, key_id: str) -> Response:
    """Revoke a key of the tenant."""
    platform.security.revoke_key(caller, key_id)
    return Response(status_code=204)


@router.post("/tenants", status_code=201, operation_id="security-create_tenant")
def create_tenant(platform: PlatformDep, caller: Admin, body: TenantCreate) -> Any:
    """Create a tenant and its first admin key (platform admins only)."""
    tenant, plaintext = platform.security.create_tenant(caller, body.tenant)
    return {"tenant": tenant, "adminKey": plaintext}


@router.get("/tenants", operation_id="security-list_tenants")
def list_tenants(platform: PlatformDep, caller: Admin) -> Any:
    """Every tenant (platform admins only)."""
    return {"data": platform.security.list_tenants(caller)}


@router.post("/tokens", status_code=201, operation_id="security-issue_token")
def issue_token(platform: PlatformDep, caller: Viewer, body: TokenRequest) -> Any:
    """A short-lived bearer token with the caller's tenant and role (HS256, embedded mode)."""
    token = issue_hs256(
        jwt_config(platform.settings),
        subject=caller.actor,
        tenant=caller.tenant,
        role=str(caller.role),
        ttl_seconds=body.ttlSeconds,
    )
    return {"token": token, "tokenType": "Bearer", "expiresIn": body.ttlSeconds}


@router.get("/audit", operation_id="security-list_audit")
def list_audit(
    platform: PlatformDep,
    caller: Admin,
    after: Annotated[int, Query(ge=0, le=2**62, description="last `seq` already seen")] = 0,
    limit: Limit = 100,
) -> Any:
    """The tenant's audit records in chain order."""
    records = platform.security.list_audit(caller, after_seq=after, limit=limit)
    next_after = str(records[-1].seq) if len(records) == limit else None
    return {"data": [audit_to_json(r) for r in records], "next": next_after}


@router.get("/audit/verify", operation_id="security-verify_audit")
def verify_audit(platform: PlatformDep, caller: Admin) -> Any:
    """Check the tenant's hash chain; names the first broken record."""
    report = platform.security.verify_audit(caller.tenant)
    return {
        "intact": report.intact,
        "records": report.records,
        "firstBroken": report.first_broken,
        "reason": report.reason,
    }
