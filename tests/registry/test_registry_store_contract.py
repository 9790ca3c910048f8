"""The registry store contract, on SQLite and PostgreSQL (the ``platform`` fixture)."""

from __future__ import annotations

import uuid

import pytest

from twinops.platform import Platform
from twinops.registry.entities import EvidenceKind, ModelVersion, NewEvidence
from twinops.registry.store import StaleAlias
from twinops.security.entities import AuditEntry, Principal, Role
from twinops.storage.sql_registry import SqlRegistryStore


def _store(platform: Platform) -> SqlRegistryStore:
    return SqlRegistryStore(platform.db)


def _version(tenant: str, name: str = "pump", **extra: object) -> ModelVersion:
    fields: dict[str, object] = {
        "tenant": tenant,
        "name": name,
        "version": 0,
        "model_ref": "twinops.sim.library.pump:PumpModel",
        "code_sha256": "a" * 64,
        "parameters": {"shutoffHeadRatio": 1.3},
        "intervals": {"shutoffHeadRatio": (1.28, 1.32)},
        "thresholds": {"flowRate": {"rmse": 2.0}},
        "lineage": {"job": "j-1"},
        "created_at": 5,
        **extra,
    }
    return ModelVersion(**fields)  # type: ignore[arg-type]


def _audit(tenant: str, action: str = "Test") -> AuditEntry:
    return AuditEntry(tenant, "key:test", action, "pump", 5)


def test_versions_are_numbered_per_name_and_read_back_whole(platform: Platform) -> None:
    tenant = platform.settings.default_tenant
    store = _store(platform)
    first = store.add_version(_version(tenant), _audit(tenant))
    second = store.add_version(_version(tenant, notes="second"), _audit(tenant))
    other = store.add_version(_version(tenant, name="bearing"), _audit(tenant))
    assert (first.version, second.version, other.version) == (1, 2, 1)
    stored = store.version(tenant, "pump", 1)
    assert stored == first
    assert stored is not None and stored.intervals == {"shutoffHeadRatio": (1.28, 1.32)}
    assert [v.version for v in store.versions(tenant, "pump")] == [1, 2]
    models = {m.name: m for m in store.models(tenant)}
    assert models["pump"].latest == 2 and models["pump"].versions == 2
    assert models["bearing"].latest == 1


def test_another_tenant_sees_no_versions_evidence_or_aliases(platform: Platform) -> None:
    tenant = platform.settings.default_tenant
    stranger = f"other-{uuid.uuid4().hex[:8]}"
    store = _store(platform)
    store.add_version(_version(tenant), _audit(tenant))
    store.move_alias(tenant, "pump", "candidate", None, 1, 6, "key:t", "", _audit(tenant))
    assert store.version(stranger, "pump", 1) is None
    assert store.versions(stranger, "pump") == []
    assert store.models(stranger) == []
    assert store.aliases(stranger, "pump") == []
    assert store.alias_history(stranger, "pump") == []
    assert store.evidence(stranger, "pump", 1) == []


def test_evidence_is_appended_in_order(platform: Platform) -> None:
    tenant = platform.settings.default_tenant
    store = _store(platform)
    store.add_version(_version(tenant), _audit(tenant))
    for passed in (False, True):
        store.add_evidence(
            tenant,
            "pump",
            1,
            NewEvidence(EvidenceKind.VALIDATION, "validation", "job-1", passed, {"a": 1}, ["r"]),
            7,
            "key:t",
            _audit(tenant),
        )
    evidence = store.evidence(tenant, "pump", 1)
    assert [(e.seq, e.passed) for e in evidence] == [(1, False), (2, True)]
    assert evidence[0].reasons == ("r",) and evidence[0].kind == EvidenceKind.VALIDATION


def test_alias_moves_are_compare_and_set_and_kept_in_history(platform: Platform) -> None:
    tenant = platform.settings.default_tenant
    store = _store(platform)
    for _ in range(2):
        store.add_version(_version(tenant), _audit(tenant))
    store.move_alias(tenant, "pump", "production", None, 1, 6, "key:a", "first", _audit(tenant))
    with pytest.raises(StaleAlias):
        store.move_alias(tenant, "pump", "production", None, 2, 7, "key:b", "", _audit(tenant))
    store.move_alias(tenant, "pump", "production", 1, 2, 8, "key:a", "better", _audit(tenant))
    assert [(a.alias, a.version) for a in store.aliases(tenant, "pump")] == [("production", 2)]
    store.move_alias(tenant, "pump", "production", 2, None, 9, "key:a", "gone", _audit(tenant))
    assert store.aliases(tenant, "pump") == []
    history = store.alias_history(tenant, "pump", "production")
    assert [(m.previous, m.version, m.reason) for m in history] == [
        (None, 1, "first"),
        (1, 2, "better"),
        (2, None, "gone"),
    ]


def test_every_registry_write_extends_the_audit_chain(platform: Platform) -> None:
    tenant = platform.settings.default_tenant
    store = _store(platform)
    store.add_version(_version(tenant), _audit(tenant, "ModelVersionRegistered"))
    store.move_alias(
        tenant, "pump", "candidate", None, 1, 6, "key:t", "", _audit(tenant, "AliasMoved")
    )
    caller = Principal(tenant, "test", Role.ADMIN)
    actions = [r.action for r in platform.security.list_audit(caller, limit=100)]
    assert "ModelVersionRegistered" in actions and "AliasMoved" in actions
    assert platform.security.verify_audit(tenant).intact
