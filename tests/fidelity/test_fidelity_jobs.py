"""The example calibrate/validate specs as jobs on the pump-fleet demo, and reproduction."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from twinops.demo import fleet_module, load_demo, telemetry_module
from twinops.errors import InvalidInput
from twinops.jobs.entities import JobStatus
from twinops.platform import Platform
from twinops.security.entities import Role

SCENARIOS = Path(__file__).resolve().parents[2] / "examples" / "pump_fleet" / "scenarios"


def _demo(platform: Platform) -> str:
    """The demo fleet with its last 10 minutes of telemetry, as the live demo has it."""
    tenant = platform.settings.default_tenant
    load_demo(platform)
    fleet = fleet_module().generate_fleet(3, 4, seed=7)
    generator = telemetry_module()
    duty = [t for t in fleet.twins if t["$dtId"] in {"pump-01-01-01", "pump-01-01-02"}]
    run = generator.generate(
        duty, time.time() - 600, 600, seed=0, faults=generator.FaultConfig.none()
    )
    platform.ingest.ingest(tenant, run.points, source="demo")
    platform.start_jobs()
    return tenant


def _run(platform: Platform, tenant: str, spec: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    view = platform.jobs.submit(tenant, spec, actor="key:test", role=Role.MODELER)
    done = platform.jobs.wait(tenant, view.job.job_id, 120)
    assert done.job.status == JobStatus.SUCCEEDED, platform.jobs.log_text(tenant, view.job.job_id)
    _, chunks = platform.jobs.artifact(tenant, view.job.job_id, "outputs/summary.json")
    return view.job.job_id, json.loads(b"".join(chunks))


def test_the_example_calibration_runs_on_the_demo_and_reproduces(platform: Platform) -> None:
    tenant = _demo(platform)
    spec = yaml.safe_load((SCENARIOS / "calibrate.yaml").read_text())
    job_id, summary = _run(platform, tenant, spec)
    assert summary["converged"] is True
    assert set(summary["estimates"]) == {"pump-01-01-01", "pump-01-01-02"}
    for twin, estimates in summary["estimates"].items():
        # The demo's telemetry follows pure affinity laws: no static head.
        assert estimates["staticHeadRatio"] == pytest.approx(0.0, abs=0.05), twin
        interval = summary["intervals"][twin]["powerFactor"]
        assert interval["low"] < estimates["powerFactor"] < interval["high"]
    assert summary["register"] == {
        "name": "pump-station-01-01",
        "notes": spec["register"]["notes"],
        "labels": {},
    }
    _, page = platform.jobs.artifact(tenant, job_id, "outputs/report.html")
    assert b"<svg" in b"".join(page)
    candidate = _registered(platform, tenant, "pump-station-01-01")
    assert candidate.lineage["job"] == job_id
    assert set(candidate.twin_parameters) == {"pump-01-01-01", "pump-01-01-02"}
    assert candidate.parameters == spec["fixed"]
    again = platform.jobs.reproduce(tenant, job_id, actor="key:test", role=Role.MODELER)
    rerun = platform.jobs.wait(tenant, again.job.job_id, 120)
    assert rerun.reproduction is not None and rerun.reproduction.matches is True
    time.sleep(0.5)  # the runner's after-success step would have registered by now
    assert [v.version for v in platform.registry.versions(tenant, "pump-station-01-01")] == [1]


def _registered(platform: Platform, tenant: str, name: str) -> Any:
    """The candidate version of ``name`` once the runner has registered it."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        # Registered, then made the candidate: two steps, wait for both.
        found = {m.name: m for m in platform.registry.models(tenant)}
        if name in found and "candidate" in found[name].aliases:
            return platform.registry.version(tenant, name, "candidate")
        time.sleep(0.05)
    raise AssertionError(f"{name} was never registered")


def test_the_example_validation_runs_on_the_demo_with_threshold_verdicts(
    platform: Platform,
) -> None:
    tenant = _demo(platform)
    spec = yaml.safe_load((SCENARIOS / "validate.yaml").read_text())
    job_id, summary = _run(platform, tenant, spec)
    assert set(summary["outputs"]) == {
        "flowRate",
        "dischargePressure",
        "motorPower",
        "motorCurrent",
    }
    assert summary["thresholds"]["flowRate"]["checks"]["mape"]["passed"] is True
    assert summary["passed"] is True
    coverage = summary["outputs"]["flowRate"]["coverage"]
    assert coverage is not None and 0.0 <= coverage <= 1.0
    names = {a.name for a in platform.jobs.artifacts(tenant, job_id)}
    assert {"outputs/report.html", "outputs/report.json", "outputs/series.parquet"} <= names


def test_a_window_without_data_is_refused_at_submission(platform: Platform) -> None:
    tenant = _demo(platform)
    spec = yaml.safe_load((SCENARIOS / "calibrate.yaml").read_text())
    spec["window"] = {"start": "2020-01-01T00:00:00Z", "end": "2020-01-01T01:00:00Z"}
    with pytest.raises(InvalidInput) as caught:
        platform.jobs.submit(tenant, spec, actor="key:test", role=Role.MODELER)
    assert caught.value.violations[0].rule in {"noHistory", "noData"}
    assert "pump-01-01-01" in str(caught.value)
