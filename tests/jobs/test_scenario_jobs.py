"""Scenario specs (the ``sim`` context) as jobs, on the pump-fleet demo: run, quota, reproduce."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jobhelp import MakePlatform, run, submit

from twinops.errors import InvalidInput
from twinops.jobs.entities import JobStatus
from twinops.security.entities import Role

SCENARIOS = Path(__file__).resolve().parents[2] / "examples" / "pump_fleet" / "scenarios"


def small_what_if() -> dict[str, Any]:
    """The example what-if, over one day in hourly steps."""
    spec: dict[str, Any] = yaml.safe_load((SCENARIOS / "what-if.yaml").read_text())
    spec.update(horizon="1d", step="1h", record="1h")
    return spec


def test_a_what_if_runs_as_a_job_and_reproduces(make_platform: MakePlatform) -> None:
    from twinops.demo import load_demo

    platform = make_platform()
    load_demo(platform)
    done = run(platform, small_what_if(), timeout=120)
    job = done.job
    assert job.status == JobStatus.SUCCEEDED, platform.jobs.log_text(job.tenant, job.job_id)
    assert job.kind == "what-if"
    assert "outputs/summary.json" in done.outputs
    assert any(name.endswith(".parquet") for name in done.outputs)
    _, chunks = platform.jobs.artifact(job.tenant, job.job_id, "model.json")
    model = json.loads(b"".join(chunks))
    assert "PumpModel" in json.dumps(model)
    rerun = platform.jobs.reproduce(job.tenant, job.job_id, actor="key:t", role=Role.OPERATOR)
    again = platform.jobs.wait(job.tenant, rerun.job.job_id, 120)
    assert again.reproduction is not None and again.reproduction.matches is True


def test_a_horizon_over_the_step_quota_is_refused(make_platform: MakePlatform) -> None:
    from twinops.demo import load_demo

    platform = make_platform(start=False, sim_max_steps=10)
    load_demo(platform)
    with pytest.raises(InvalidInput) as caught:
        submit(platform, small_what_if())
    assert caught.value.violations[0].rule == "quota"
    assert platform.jobs.unfinished(platform.settings.default_tenant) == 0


def test_result_tables_reach_the_sdk_as_pandas_frames(make_platform: MakePlatform) -> None:
    from fastapi.testclient import TestClient

    from twinops.api import create_app
    from twinops.demo import load_demo
    from twinops.sdk import Client

    platform = make_platform()
    load_demo(platform)
    done = run(platform, small_what_if(), timeout=120)
    headers = {"Authorization": f"Bearer {platform.security.first_admin_key()}"}
    with TestClient(create_app(platform), headers=headers) as http:
        frame = Client(http=http).job_table(done.job.job_id, "series")
    assert {"variant", "twin", "time", "output", "value"} <= set(frame.columns)
    assert set(frame["variant"]) == {"baseline", "scenario"}
    assert len(frame) > 0
