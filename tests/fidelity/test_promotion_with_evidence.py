"""The whole fidelity loop on real jobs: a validate job on a registry version is scored as
its evidence, and production accepts the version only when that evidence passes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fidelityhelp import FIXED, START, TRUTH, generate, running_pumps

from twinops.config import Settings
from twinops.demo import load_demo
from twinops.errors import Conflict
from twinops.jobs.entities import JobStatus
from twinops.platform import Platform
from twinops.security.entities import Role
from twinops.timeutil import format_rfc3339

PUMP = "twinops.sim.library.pump:PumpModel"
HOUR = 3600 * 1_000_000


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    built = Platform.open(Settings(data_dir=tmp_path / "data", jobs_workers=1))
    load_demo(built, register=False)
    _, pumps = running_pumps(1)
    built.ingest.ingest(
        built.settings.default_tenant,
        generate(pumps, hours=1.0, step_s=30.0, seed=5).points,
        source="test",
    )
    built.start_jobs()
    yield built
    built.close()


def _validate(platform: Platform, reference: str, twin: str) -> str:
    tenant = platform.settings.default_tenant
    spec: dict[str, Any] = {
        "kind": "validate",
        "model": reference,
        "twins": [twin],
        "window": {"start": format_rfc3339(START), "end": format_rfc3339(START + HOUR)},
        "step": "30s",
        "inputs": {"speed": {"profile": "replay"}, "suctionPressure": {"profile": "replay"}},
        "outputs": ["flowRate", "motorPower"],
    }
    view = platform.jobs.submit(tenant, spec, actor="key:op", role=Role.OPERATOR)
    done = platform.jobs.wait(tenant, view.job.job_id, 120)
    assert done.job.status == JobStatus.SUCCEEDED, platform.jobs.log_text(tenant, view.job.job_id)
    return view.job.job_id


def _evidence(platform: Platform, number: int) -> list[Any]:
    tenant = platform.settings.default_tenant
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = platform.registry.evidence(tenant, "pump", number)
        if found:
            return found
        time.sleep(0.05)
    return []


def test_production_takes_the_version_whose_validation_passed(platform: Platform) -> None:
    tenant = platform.settings.default_tenant
    _, pumps = running_pumps(1)
    twin = pumps[0]["$dtId"]
    thresholds = {"flowRate": {"mape": 3.0, "r2": 0.9}, "motorPower": {"mape": 5.0}}
    right = {k: v * 0.98 for k, v in TRUTH.items()} | FIXED
    wrong = {**right, "shutoffHeadRatio": 1.1, "staticHeadRatio": 0.6}
    registry = platform.registry
    for parameters in (right, wrong):
        body = {"model": PUMP, "parameters": parameters, "thresholds": thresholds}
        registry.register(tenant, "pump", body, actor="key:m")

    good_job = _validate(platform, "registry:pump@1", twin)
    (good,) = _evidence(platform, 1)
    assert (good.kind, good.job_id, good.passed) == ("validation", good_job, True), good.reasons
    assert good.metrics["observed"]["flowRate"]["r2"] > 0.9

    _validate(platform, "registry:pump@2", twin)
    (bad,) = _evidence(platform, 2)
    assert not bad.passed and any("flowRate" in r for r in bad.reasons)

    with pytest.raises(Conflict) as refused:
        registry.move_alias(tenant, "pump", "production", 2, actor="key:a", role=Role.ADMIN)
    assert any("did not pass" in v.message for v in refused.value.violations)
    move = registry.move_alias(tenant, "pump", "production", 1, actor="key:a", role=Role.ADMIN)
    assert move.version == 1
    records = platform.security.list_audit(_admin(tenant), limit=200)
    moved = [r for r in records if r.action == "AliasMoved"]
    assert moved[-1].details["to"] == 1 and moved[-1].details["evidence"] == [good.seq]
    assert platform.security.verify_audit(tenant).intact


def _admin(tenant: str) -> Any:
    from twinops.security.entities import Principal

    return Principal(tenant, "t", Role.ADMIN)
