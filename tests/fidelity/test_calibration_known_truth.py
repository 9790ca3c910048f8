"""Known truth, end to end: pumps simulated with chosen parameters, their noisy telemetry
ingested into a real platform, calibrated through the job system; every estimate within 2 %
of the truth and inside its reported interval."""

from __future__ import annotations

import json

from fidelityhelp import TRUTH, calibration_spec, generate, running_pumps

from twinops.demo import load_demo
from twinops.jobs.entities import JobStatus
from twinops.platform import Platform
from twinops.security.entities import Role


def test_calibration_recovers_known_parameters_within_two_percent(platform: Platform) -> None:
    tenant = platform.settings.default_tenant
    load_demo(platform)
    _, pumps = running_pumps(2)
    generated = generate(pumps, hours=12.0, step_s=120.0, seed=3)
    result = platform.ingest.ingest(tenant, generated.points, source="known-truth")
    assert not platform.state.quarantined(tenant), result
    platform.start_jobs()
    spec = calibration_spec(generated.twins, level=0.99, name="known truth")
    view = platform.jobs.submit(tenant, spec, actor="key:test", role=Role.MODELER)
    done = platform.jobs.wait(tenant, view.job.job_id, 180)
    assert done.job.status == JobStatus.SUCCEEDED, platform.jobs.log_text(tenant, view.job.job_id)
    _, chunks = platform.jobs.artifact(tenant, view.job.job_id, "outputs/summary.json")
    summary = json.loads(b"".join(chunks))
    assert summary["converged"] is True
    assert summary["twins"] == generated.twins
    assert summary["window"]["start"].startswith("2025-06-02T00:00:00")
    for twin, truth in zip(generated.twins, generated.truth, strict=True):
        for name in TRUTH:
            estimate = summary["estimates"][twin][name]
            interval = summary["intervals"][twin][name]
            assert abs(estimate / truth[name] - 1.0) < 0.02, (twin, name, estimate, truth[name])
            assert interval["low"] <= truth[name] <= interval["high"], (twin, name, interval)
    for output, metrics in summary["fit"].items():
        assert metrics["r2"] > 0.9, (output, metrics)
    names = {a.name for a in platform.jobs.artifacts(tenant, view.job.job_id)}
    assert {"outputs/report.html", "outputs/report.json", "outputs/estimates.parquet"} <= names
