"""The Ray executor, on one local Ray started for the session (kept to a few tests: Ray is slow)."""

from __future__ import annotations

import json
import time
from typing import Any

from jobhelp import MakePlatform, run, submit

from twinops.jobs.entities import JobStatus
from twinops.security.entities import Role


def test_the_ray_executor_runs_a_job_and_reports_progress(
    ray_session: Any, make_platform: MakePlatform
) -> None:
    platform = make_platform(jobs_executor="ray")
    view = submit(platform, {"kind": "test.sleep", "seconds": 1.5, "steps": 6})
    tenant, job_id = view.job.tenant, view.job.job_id
    seen: set[float] = set()
    while not (current := platform.jobs.get(tenant, job_id).job).status.terminal:
        seen.add(current.progress.fraction)
        time.sleep(0.02)
    assert current.status == JobStatus.SUCCEEDED, platform.jobs.log_text(tenant, job_id)
    assert any(0.0 < f < 1.0 for f in seen), seen
    _, chunks = platform.jobs.artifact(tenant, job_id, "metrics.json")
    assert json.loads(b"".join(chunks))["executor"] == "ray"
    assert platform.jobs.describe()["executor"] == "ray"


def test_a_killed_ray_worker_is_retried_and_reproduces(
    ray_session: Any, make_platform: MakePlatform
) -> None:
    platform = make_platform(jobs_executor="ray")
    original = run(platform, {"kind": "test.die", "seed": 4})
    job = original.job
    assert job.status == JobStatus.SUCCEEDED, platform.jobs.log_text(job.tenant, job.job_id)
    assert job.attempts == 2
    assert "attempt 1 lost: the Ray task was lost" in platform.jobs.log_text(job.tenant, job.job_id)
    tenant = job.tenant
    rerun = platform.jobs.reproduce(tenant, job.job_id, actor="key:test", role=Role.OPERATOR)
    done = platform.jobs.wait(tenant, rerun.job.job_id, 120)
    assert done.reproduction is not None and done.reproduction.matches is True


def test_cancel_and_timeout_stop_ray_tasks(ray_session: Any, make_platform: MakePlatform) -> None:
    platform = make_platform(jobs_executor="ray")
    hung = run(platform, {"kind": "test.hang", "timeoutSeconds": 2}, timeout=120).job
    assert hung.status == JobStatus.FAILED and hung.error is not None
    assert hung.error.kind == "timeout"
    after = run(platform, {"kind": "test.echo"}, timeout=120).job
    assert after.status == JobStatus.SUCCEEDED
