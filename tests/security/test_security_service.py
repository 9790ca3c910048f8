"""Keys, tokens, tenants and the audit chain, on both backends."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select, text, update

from support import pump, sample_models
from twinops.errors import Conflict, Forbidden, Unauthorized
from twinops.models.dtdl import DtdlSource
from twinops.platform import Platform, jwt_config
from twinops.security.entities import Principal, Role
from twinops.security.service import SecurityService
from twinops.security.tokens import issue_hs256
from twinops.storage.schema import api_keys, audit_log
from twinops.storage.sql_security import SqlSecurityStore


def admin(platform: Platform) -> Principal:
    return Principal(platform.settings.default_tenant, "test", Role.ADMIN, None, "local")


def bearer(key: str) -> str:
    return f"Bearer {key}"


def test_created_key_authenticates_with_its_tenant_and_role(platform: Platform) -> None:
    key, plaintext = platform.security.create_key(admin(platform), name="ops", role=Role.OPERATOR)
    principal = platform.security.authenticate(bearer(plaintext))
    assert (principal.tenant, principal.role, principal.key_id) == (
        platform.settings.default_tenant,
        Role.OPERATOR,
        key.key_id,
    )
    assert platform.security.cached_principal(bearer(plaintext)) == principal


def test_only_an_argon2_hash_of_the_key_is_stored(platform: Platform) -> None:
    key, plaintext = platform.security.create_key(admin(platform), name="k", role=Role.VIEWER)
    with platform.db.read() as conn:
        stored = conn.execute(
            select(api_keys.c.secret_hash).where(api_keys.c.key_id == key.key_id)
        ).scalar_one()
    assert stored.startswith("$argon2id$") and plaintext not in stored


@pytest.mark.parametrize(
    "header",
    [None, "", "Basic abc", "Bearer ", "Bearer tok_0123456789abcdef_" + "x" * 43, "Bearer nope"],
)
def test_missing_or_unknown_credentials_are_refused(platform: Platform, header: str | None) -> None:
    with pytest.raises(Unauthorized) as exc:
        platform.security.authenticate(header)
    assert "tok_" not in exc.value.detail


def test_revoked_key_is_refused_at_once(platform: Platform) -> None:
    key, plaintext = platform.security.create_key(admin(platform), name="k", role=Role.VIEWER)
    platform.security.authenticate(bearer(plaintext))
    platform.security.revoke_key(admin(platform), key.key_id)
    assert platform.security.cached_principal(bearer(plaintext)) is None
    with pytest.raises(Unauthorized):
        platform.security.authenticate(bearer(plaintext))


def test_expired_key_is_refused(platform: Platform) -> None:
    now = [1_000_000_000_000_000]
    service = SecurityService(
        SqlSecurityStore(platform.db),
        jwt_config(platform.settings),
        default_tenant=platform.settings.default_tenant,
        clock=lambda: now[0],
    )
    _, plaintext = service.create_key(
        admin(platform), name="k", role=Role.VIEWER, expires_at=now[0] + 60_000_000
    )
    service.authenticate(bearer(plaintext))
    now[0] += 61_000_000
    assert service.cached_principal(bearer(plaintext)) is None
    with pytest.raises(Unauthorized):
        service.authenticate(bearer(plaintext))


def test_seeded_admin_key_works_and_seeds_only_once(platform: Platform) -> None:
    seed = f"automation-admin-key-{uuid.uuid4().hex}"
    assert platform.security.seed_admin_key(seed) is True
    assert platform.security.seed_admin_key(seed) is False
    assert platform.security.authenticate(bearer(seed)).role is Role.ADMIN


def test_issued_token_authenticates_as_the_caller(platform: Platform) -> None:
    token = issue_hs256(
        jwt_config(platform.settings),
        subject="alice",
        tenant=platform.settings.default_tenant,
        role="modeler",
    )
    principal = platform.security.authenticate(bearer(token))
    assert (principal.subject, principal.role, principal.via) == ("alice", Role.MODELER, "jwt")


def test_a_role_cannot_create_a_stronger_key(platform: Platform) -> None:
    modeler = Principal(platform.settings.default_tenant, "m", Role.MODELER, None, "key")
    with pytest.raises(Forbidden):
        platform.security.create_key(modeler, name="x", role=Role.ADMIN)


def test_only_platform_admins_create_tenants(platform: Platform) -> None:
    tenant, key = platform.security.create_tenant(
        admin(platform), "acme-" + platform.settings.default_tenant
    )
    acme_admin = platform.security.authenticate(bearer(key))
    assert acme_admin.tenant == tenant and acme_admin.role is Role.ADMIN
    with pytest.raises(Forbidden):
        platform.security.create_tenant(acme_admin, "other-" + tenant)
    with pytest.raises(Conflict):
        platform.security.create_tenant(admin(platform), tenant)


def test_audit_chain_records_who_changed_what(platform: Platform) -> None:
    tenant = platform.settings.default_tenant
    sources = [DtdlSource(name=f"m{i}", obj=d) for i, d in enumerate(sample_models())]
    platform.models.upload(tenant, sources, actor="key:abc")
    platform.twins.put(tenant, "p1", pump(), actor="key:abc")
    platform.twins.patch(
        tenant, "p1", [{"op": "add", "path": "/serial", "value": "S"}], actor="jwt:bob"
    )
    records = platform.security.list_audit(admin(platform), limit=1000)
    actions = [(r.actor, r.action, r.target) for r in records]
    assert ("key:abc", "TwinCreated", "p1") in actions
    assert ("jwt:bob", "TwinUpdated", "p1") in actions
    assert sum(1 for a in actions if a[1] == "ModelUploaded") == len(sources)
    assert [r.seq for r in records] == list(range(1, len(records) + 1))
    assert platform.security.verify_audit(tenant).intact


def test_tampered_audit_record_is_detected_and_named(platform: Platform) -> None:
    tenant = platform.settings.default_tenant
    for i in range(5):
        platform.security.record(admin(platform), "ScenarioSubmitted", f"job-{i}", {"i": i})
    with platform.db.write() as conn:
        conn.execute(
            update(audit_log)
            .where(audit_log.c.tenant == tenant, audit_log.c.seq == 3)
            .values(details={"i": 99})
        )
    report = platform.security.verify_audit(tenant)
    assert not report.intact and report.first_broken == 3


def test_removed_newest_record_is_detected(platform: Platform) -> None:
    tenant = platform.settings.default_tenant
    for i in range(3):
        platform.security.record(admin(platform), "ScenarioSubmitted", f"job-{i}", {})
    with platform.db.write() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE tenant = :t AND seq = 3"), {"t": tenant})
    report = platform.security.verify_audit(tenant)
    assert not report.intact and report.first_broken == 3


def test_audit_of_one_tenant_is_invisible_to_another(platform: Platform) -> None:
    platform.security.record(admin(platform), "Secret", "x", {})
    other = Principal("other-" + platform.settings.default_tenant, "o", Role.ADMIN, None, "key")
    assert platform.security.list_audit(other) == []


def test_revocation_elsewhere_takes_effect_once_the_cache_expires(platform: Platform) -> None:
    now = [1_000_000_000_000_000]

    def service() -> SecurityService:
        return SecurityService(
            SqlSecurityStore(platform.db),
            jwt_config(platform.settings),
            default_tenant=platform.settings.default_tenant,
            clock=lambda: now[0],
            cache_seconds=5,
        )

    here, elsewhere = service(), service()  # two server processes
    key, plaintext = here.create_key(admin(platform), name="k", role=Role.VIEWER)
    here.authenticate(bearer(plaintext))
    now[0] += 6_000_000
    assert here.authenticate(bearer(plaintext)).key_id == key.key_id  # refreshed, no argon2
    elsewhere.revoke_key(admin(platform), key.key_id)
    now[0] += 6_000_000
    with pytest.raises(Unauthorized):
        here.authenticate(bearer(plaintext))


def test_concurrent_first_requests_verify_a_key_once(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    import twinops.security.service as service_module

    _, plaintext = platform.security.create_key(admin(platform), name="k", role=Role.VIEWER)
    calls: list[int] = []
    real = service_module.verify_key

    def counting(secret_hash: str, token: str) -> bool:
        calls.append(1)
        return real(secret_hash, token)

    monkeypatch.setattr(service_module, "verify_key", counting)
    with ThreadPoolExecutor(8) as pool:
        principals = list(
            pool.map(lambda _: platform.security.authenticate(bearer(plaintext)), range(16))
        )
    assert len({p.key_id for p in principals}) == 1
    assert len(calls) == 1
