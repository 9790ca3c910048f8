"""The registry and the job system together: regression jobs become evidence, specs run
``registry:name@alias`` versions, and the API enforces the gate and the roles."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from twinops.api import create_app
from twinops.config import Settings
from twinops.demo import load_demo
from twinops.jobs.entities import JobStatus
from twinops.platform import Platform
from twinops.security.entities import Role

PUMP = "twinops.sim.library.pump:PumpModel"
TWIN = "pump-01-01-01"


def _regression(max_wear_delta: float) -> dict[str, Any]:
    return {
        "name": "overspeed-day",
        "spec": {
            "kind": "what-if",
            "twins": [TWIN],
            "horizon": "1d",
            "step": "1h",
            "outputs": ["wear", "flowRate"],
            "changes": {
                "inputs": {
                    "speed": {"profile": "constant", "value": 1.1, "relativeTo": "ratedSpeed"}
                }
            },
        },
        "expect": [
            {"path": f"deltas.{TWIN}.flowRate.final.delta", "min": 0.0},
            {"path": f"deltas.{TWIN}.wear.final.delta", "max": max_wear_delta},
        ],
    }


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    built = Platform.open(Settings(data_dir=tmp_path / "data", jobs_workers=1))
    load_demo(built, register=False)
    built.start_jobs()
    yield built
    built.close()


def _evidence(platform: Platform, number: int, count: int) -> list[Any]:
    """The version's evidence once ``count`` pieces are there: the runner attaches it just
    after the job is marked succeeded."""
    tenant = platform.settings.default_tenant
    deadline = time.monotonic() + 10
    while True:
        found = platform.registry.evidence(tenant, "pump", number)
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def _run_regression(platform: Platform, number: int) -> Any:
    tenant = platform.settings.default_tenant
    spec = platform.registry.regression_spec(tenant, "pump", number, "overspeed-day")
    view = platform.jobs.submit(tenant, spec, actor="key:op", role=Role.OPERATOR)
    done = platform.jobs.wait(tenant, view.job.job_id, 120)
    assert done.job.status == JobStatus.SUCCEEDED, platform.jobs.log_text(tenant, done.job.job_id)
    return done


def test_a_regression_job_runs_the_version_and_becomes_its_evidence(platform: Platform) -> None:
    tenant = platform.settings.default_tenant
    registry = platform.registry
    body = {
        "model": PUMP,
        "parameters": {"shutoffHeadRatio": 1.3},
        "regressions": [_regression(max_wear_delta=1.0)],
    }
    registry.register(tenant, "pump", body, actor="key:m")
    done = _run_regression(platform, 1)
    spec = platform.jobs.spec(tenant, done.job.job_id)
    assert spec["registry"] == {"name": "pump", "version": 1}
    assert spec["parameters"]["shutoffHeadRatio"] == 1.3
    evidence = _evidence(platform, 1, 1)
    assert [(e.label, e.passed, e.job_id) for e in evidence] == [
        ("overspeed-day", True, done.job.job_id)
    ]
    # The same regression with an impossible bound fails, and the gate names it.
    registry.register(tenant, "pump", {**body, "regressions": [_regression(-1.0)]}, actor="k")
    _run_regression(platform, 2)
    failed = _evidence(platform, 2, 1)[-1]
    assert not failed.passed and "exceeds the maximum -1" in failed.reasons[0]
    gate = registry.gate(tenant, "pump", 2)
    assert not gate.passed
    assert any("overspeed-day" in reason and "failed" in reason for reason in gate.reasons)


def test_the_api_refuses_production_with_the_gate_reasons_and_checks_roles(
    platform: Platform,
) -> None:
    tenant = platform.settings.default_tenant
    keys = {
        role: platform.security.create_key(
            _admin(platform), name=f"k-{role}", role=role, tenant=tenant
        )[1]
        for role in (Role.VIEWER, Role.MODELER, Role.ADMIN)
    }
    client = TestClient(create_app(platform))

    def call(method: str, path: str, role: Role, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {keys[role]}"}
        return client.request(method, path, headers=headers, **kw)

    body = {"model": PUMP, "thresholds": {"flowRate": {"rmse": 5}}}
    assert (
        call("POST", "/v1/registry/models/pump/versions", Role.VIEWER, json=body).status_code == 403
    )
    created = call("POST", "/v1/registry/models/pump/versions", Role.MODELER, json=body)
    assert created.status_code == 201 and created.json()["version"] == 1
    moved = call(
        "PUT",
        "/v1/registry/models/pump/aliases/candidate",
        Role.MODELER,
        json={"version": 1, "reason": "try it"},
    )
    assert moved.status_code == 200 and moved.json()["to"] == 1
    refused = call(
        "PUT", "/v1/registry/models/pump/aliases/production", Role.MODELER, json={"version": 1}
    )
    assert refused.status_code == 403
    gated = call(
        "PUT", "/v1/registry/models/pump/aliases/production", Role.ADMIN, json={"version": 1}
    )
    assert gated.status_code == 409
    problem = gated.json()
    assert any(
        e["rule"] == "promotionGate" and "no validation evidence" in e["message"]
        for e in problem["errors"]
    )
    version = call("GET", "/v1/registry/models/pump/versions/candidate", Role.VIEWER).json()
    assert version["version"] == 1 and version["gate"]["passed"] is False
    listed = call("GET", "/v1/registry/models", Role.VIEWER).json()["models"]
    assert listed == [
        {
            "name": "pump",
            "latest": 1,
            "versions": 1,
            "aliases": {"candidate": 1},
            "twinModel": "dtmi:twinops:example:Pump;1",
            "model": PUMP,
        }
    ]


def _admin(platform: Platform) -> Any:
    from twinops.security.entities import Principal

    return Principal(platform.settings.default_tenant, "test", Role.ADMIN)


def test_the_example_version_passes_its_own_regression_on_the_demo(platform: Platform) -> None:
    import yaml

    example = Path(__file__).resolve().parents[2] / "examples/pump_fleet/registry/pump.yaml"
    tenant = platform.settings.default_tenant
    body = yaml.safe_load(example.read_text())
    version = platform.registry.register(tenant, "pump", body, actor="key:m")
    _run_regression(platform, version.version)
    evidence = _evidence(platform, version.version, 1)
    assert [(e.label, e.passed) for e in evidence] == [("overspeed-day", True)], evidence
