"""Registering versions, aliases through the promotion gate, evidence, registry references."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from twinops.config import Settings
from twinops.errors import Conflict, Forbidden, InvalidInput, NotFound
from twinops.platform import Platform
from twinops.registry.entities import EvidenceKind, Expectation, NewEvidence
from twinops.registry.gates import check_expectations, score_validation
from twinops.security.entities import AuditEntry, Role

PUMP = "twinops.sim.library.pump:PumpModel"


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    built = Platform.open(Settings(data_dir=tmp_path / "data"))
    yield built
    built.close()


def _tenant(platform: Platform) -> str:
    return platform.settings.default_tenant


def _register(platform: Platform, **body: Any) -> Any:
    return platform.registry.register(
        _tenant(platform), "pump", {"model": PUMP, **body}, actor="key:modeler"
    )


def _validation(platform: Platform, number: int, passed: bool, reasons: list[str]) -> None:
    tenant = _tenant(platform)
    # Evidence straight into the store: the end-to-end path (a validate job) is tested in
    # tests/fidelity; here only the gate's reading of it matters.
    platform.registry._store.add_evidence(
        tenant,
        "pump",
        number,
        NewEvidence(EvidenceKind.VALIDATION, "validation", "job-v", passed, {}, reasons),
        1,
        "key:t",
        AuditEntry(tenant, "key:t", "EvidenceAttached", "pump", 1),
    )


def test_a_registered_version_records_the_model_code_hash_and_author(platform: Platform) -> None:
    version = _register(platform, parameters={"shutoffHeadRatio": 1.3}, notes="first")
    assert version.version == 1 and version.author == "key:modeler"
    assert len(version.code_sha256) == 64
    assert version.twin_model == "dtmi:twinops:example:Pump;1"
    assert _register(platform).version == 2
    assert platform.registry.version(_tenant(platform), "pump", 1).notes == "first"


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        ({"parameters": {"noSuch": 1.0}}, "/parameters/noSuch", "knownParameter"),
        ({"parameters": {"shutoffHeadRatio": 9.0}}, "/parameters/shutoffHeadRatio", "bounds"),
        ({"thresholds": {"noOutput": {"rmse": 1}}}, "/thresholds/noOutput", "knownOutput"),
        ({"thresholds": {"flowRate": {"nse": 1}}}, "/thresholds", "value_error"),
        ({"model": "os:system"}, "model", "unknownModel"),
        ({"twinModel": "dtmi:no:Such;1"}, "/twinModel", "knownModel"),
        ({"extra": 1}, "/extra", "extra_forbidden"),
    ],
)
def test_a_bad_version_is_refused_naming_field_and_rule(
    platform: Platform, body: dict[str, Any], field: str, rule: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        _register(platform, **body)
    violation = caught.value.violations[0]
    assert (violation.field, violation.rule) == (field, rule)
    assert platform.registry.models(_tenant(platform)) == []


def test_production_is_refused_without_evidence_and_says_why(platform: Platform) -> None:
    _register(platform)
    with pytest.raises(Conflict) as caught:
        platform.registry.move_alias(
            _tenant(platform), "pump", "production", 1, actor="key:admin", role=Role.ADMIN
        )
    reasons = " ".join(v.message for v in caught.value.violations)
    assert "no validation thresholds" in reasons and "no validation evidence" in reasons
    assert platform.registry.aliases(_tenant(platform), "pump") == []


def test_only_an_admin_moves_production(platform: Platform) -> None:
    _register(platform, thresholds={"flowRate": {"rmse": 5}})
    _validation(platform, 1, True, [])
    with pytest.raises(Forbidden):
        platform.registry.move_alias(
            _tenant(platform), "pump", "production", 1, actor="key:m", role=Role.MODELER
        )
    move = platform.registry.move_alias(
        _tenant(platform), "pump", "production", 1, actor="key:admin", role=Role.ADMIN
    )
    assert (move.previous, move.version) == (None, 1)


def test_a_failed_validation_keeps_the_version_out_of_production(platform: Platform) -> None:
    _register(platform, thresholds={"flowRate": {"rmse": 5}})
    _validation(platform, 1, False, ["flowRate.rmse = 9 exceeds the maximum 5"])
    with pytest.raises(Conflict) as caught:
        platform.registry.move_alias(
            _tenant(platform), "pump", "production", 1, actor="key:a", role=Role.ADMIN
        )
    assert "flowRate.rmse = 9" in caught.value.violations[0].message


def test_candidate_moves_freely_and_rollback_moves_it_back(platform: Platform) -> None:
    tenant = _tenant(platform)
    for _ in range(2):
        _register(platform)
    registry = platform.registry
    registry.move_alias(tenant, "pump", "candidate", 1, actor="key:m", role=Role.MODELER)
    registry.move_alias(tenant, "pump", "candidate", 2, actor="key:m", role=Role.MODELER)
    assert registry.version(tenant, "pump", "candidate").version == 2
    back = registry.rollback(tenant, "pump", "candidate", actor="key:m", role=Role.MODELER)
    assert (back.previous, back.version) == (2, 1)
    assert registry.version(tenant, "pump", "candidate").version == 1
    assert [m.version for m in registry.history(tenant, "pump", "candidate")] == [1, 2, 1]
    admin = platform.security
    from twinops.security.entities import Principal

    records = admin.list_audit(Principal(tenant, "t", Role.ADMIN), limit=100)
    moves = [r for r in records if r.action == "AliasMoved"]
    assert [r.details["to"] for r in moves] == [1, 2, 1]
    assert moves[-1].details["reason"].startswith("rollback")


def test_a_registry_reference_runs_the_version_with_its_parameters(platform: Platform) -> None:
    tenant = _tenant(platform)
    _register(platform, parameters={"shutoffHeadRatio": 1.3, "staticHeadRatio": 0.3})
    platform.registry.move_alias(tenant, "pump", "candidate", 1, actor="k", role=Role.MODELER)
    raw = {
        "kind": "what-if",
        "model": "registry:pump@candidate",
        "parameters": {"staticHeadRatio": 0.2},
    }
    resolved = platform.registry.resolve_spec(tenant, raw)
    assert resolved["model"] == PUMP
    assert resolved["parameters"] == {"shutoffHeadRatio": 1.3, "staticHeadRatio": 0.2}
    assert resolved["registry"] == {"name": "pump", "version": 1, "alias": "candidate"}
    with pytest.raises(NotFound):
        platform.registry.resolve_spec(tenant, {"model": "registry:pump@production"})
    with pytest.raises(InvalidInput):
        platform.registry.resolve_spec(tenant, {"model": "registry:pump"})


def test_a_version_whose_code_changed_is_not_run_silently(platform: Platform) -> None:
    tenant = _tenant(platform)
    _register(platform)
    stored = platform.registry._store.version(tenant, "pump", 1)
    assert stored is not None
    from dataclasses import replace

    from twinops.registry.service import InspectedModel

    real = platform.registry._inspect

    def drifted(reference: str) -> InspectedModel:
        return replace(real(reference), code_sha256="0" * 64)

    platform.registry._inspect = drifted
    with pytest.raises(Conflict, match="register a new version for the new code"):
        platform.registry.resolve_spec(tenant, {"model": "registry:pump@1"})


def test_validation_scores_treat_r2_and_coverage_as_minimums() -> None:
    thresholds = {"flowRate": {"rmse": 2.0, "r2": 0.9, "bias": 0.5}}
    good = score_validation(thresholds, {"flowRate": {"rmse": 1.0, "r2": 0.95, "bias": -0.4}})
    assert good.passed and good.reasons == ()
    bad = score_validation(thresholds, {"flowRate": {"rmse": 3.0, "r2": 0.8, "bias": -0.6}})
    assert not bad.passed and len(bad.reasons) == 3
    missing = score_validation(thresholds, {})
    assert not missing.passed and "no metrics" in missing.reasons[0]


def test_regression_expectations_read_dotted_paths_of_the_summary() -> None:
    summary = {"deltas": {"pump-1": {"wear": {"final": {"whatIf": 0.3}}}}}
    ok = check_expectations([Expectation("deltas.pump-1.wear.final.whatIf", max=0.5)], summary)
    assert ok.passed
    low = check_expectations([Expectation("deltas.pump-1.wear.final.whatIf", min=0.4)], summary)
    assert not low.passed and "below the minimum" in low.reasons[0]
    absent = check_expectations([Expectation("deltas.nope", max=1)], summary)
    assert not absent.passed and "not in the job's summary" in absent.reasons[0]


def test_a_per_twin_calibration_becomes_a_version_with_twin_parameters(
    platform: Platform,
) -> None:
    from twinops.registry.outcomes import calibrated_version_body
    from twinops.registry.service import JobFacts

    spec = {
        "kind": "calibrate",
        "model": PUMP,
        "twins": ["p1", "p2"],
        "window": {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00Z"},
        "parameters": {"staticHeadRatio": {"initial": 0.4}, "powerFactor": {}},
        "fixed": {"wearNoise": 0.0},
        "register": {"name": "station", "notes": "per pump"},
    }
    summary = {
        "estimates": {
            "p1": {"staticHeadRatio": 0.31, "powerFactor": 0.85},
            "p2": {"staticHeadRatio": 0.29, "powerFactor": 0.87},
        },
        "intervals": {"p1": {"staticHeadRatio": {"low": 0.3, "high": 0.32}}},
        "fit": {"flowRate": {"rmse": 1.0}},
    }
    body = calibrated_version_body(JobFacts("job-1", "calibrate", "succeeded", spec, summary), None)
    version = platform.registry.register(_tenant(platform), "station", body, actor="key:m")
    assert version.parameters == {"wearNoise": 0.0}
    assert version.twin_parameters["p2"] == {"staticHeadRatio": 0.29, "powerFactor": 0.87}
    assert version.lineage["job"] == "job-1" and version.lineage["twins"] == ["p1", "p2"]
    assert version.notes == "per pump"
