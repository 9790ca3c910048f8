"""Jobs through the runner and the local process pool: outcomes, retries, limits, cancel."""

from __future__ import annotations

import time

import pytest
from jobhelp import BACKENDS, MakePlatform, run, submit

from twinops.errors import Conflict
from twinops.jobs.entities import ErrorKind, JobStatus, TransitionRefused
from twinops.platform import Platform
from twinops.storage.audit import iter_audit


def wait_for(predicate: object, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def status(platform: Platform, job_id: str) -> JobStatus:
    return platform.jobs.get(platform.settings.default_tenant, job_id).job.status


def audit_actions(platform: Platform) -> list[tuple[str, str, str]]:
    with platform.db.read() as conn:
        records = iter_audit(conn, platform.settings.default_tenant)
        return [(r.action, r.target, r.details.get("specSha256", "")) for r in records]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_job_runs_and_stores_its_artifacts(make_platform: MakePlatform, backend: str) -> None:
    platform = make_platform(backend=backend)
    done = run(platform, {"kind": "test.echo", "seed": 7, "rows": 5})
    job = done.job
    assert job.status == JobStatus.SUCCEEDED and job.attempts == 1 and job.error is None
    assert job.progress.fraction == 1.0 and job.finished_at is not None
    names = {a.name for a in platform.jobs.artifacts(job.tenant, job.job_id)}
    assert names == {
        "spec.json",
        "snapshot.json",
        "seeds.json",
        "outputs/values.parquet",
        "outputs/summary.json",
        "model.json",
        "packages.json",
        "metrics.json",
        "log.txt",
    }
    assert set(done.outputs) == {"outputs/values.parquet", "outputs/summary.json"}
    assert platform.jobs.summary(job.tenant, job.job_id)["rows"] == 5
    actions = audit_actions(platform)
    assert ("JobSubmitted", job.job_id, job.spec_sha256) in actions
    assert ("JobSucceeded", job.job_id, job.spec_sha256) in actions


def test_progress_is_readable_while_the_job_runs(make_platform: MakePlatform) -> None:
    platform = make_platform()
    view = submit(platform, {"kind": "test.sleep", "seconds": 2, "steps": 20})
    tenant, job_id = view.job.tenant, view.job.job_id

    def midway() -> bool:
        progress = platform.jobs.get(tenant, job_id).job.progress
        return 0.0 < progress.fraction < 1.0 and progress.message.startswith("step ")

    wait_for(midway, what="progress between 0 and 1")
    assert platform.jobs.wait(tenant, job_id).job.status == JobStatus.SUCCEEDED


def test_a_model_error_fails_without_retry_and_logs_the_traceback(
    make_platform: MakePlatform,
) -> None:
    platform = make_platform()
    job = run(platform, {"kind": "test.crash"}).job
    assert job.status == JobStatus.FAILED and job.attempts == 1
    assert job.error is not None and job.error.kind == ErrorKind.MODEL
    assert job.error.type == "ModelError" and "diverged" in job.error.message
    log = platform.jobs.log_text(job.tenant, job.job_id)
    assert "Traceback (most recent call last)" in log
    assert "ModelError: the model diverged" in log
    assert "integrating the pump model..." in log  # what the model printed
    assert "retrying" not in log
    assert ("JobFailed", job.job_id, job.spec_sha256) in audit_actions(platform)


def test_a_hanging_model_times_out_and_the_server_stays_up(make_platform: MakePlatform) -> None:
    platform = make_platform(jobs_workers=1)
    hung = run(platform, {"kind": "test.hang", "timeoutSeconds": 1}).job
    assert hung.status == JobStatus.FAILED and hung.attempts == 1
    assert hung.error is not None and hung.error.kind == ErrorKind.TIMEOUT
    # The only worker was killed and replaced: the next job runs.
    assert run(platform, {"kind": "test.echo"}).job.status == JobStatus.SUCCEEDED


def test_a_killed_worker_is_retried_with_the_attempt_counted(make_platform: MakePlatform) -> None:
    platform = make_platform()
    job = run(platform, {"kind": "test.die", "seed": 3}).job
    assert job.status == JobStatus.SUCCEEDED and job.attempts == 2
    log = platform.jobs.log_text(job.tenant, job.job_id)
    assert "attempt 1 lost: the worker process died (killed by SIGKILL)" in log
    assert "attempt 2 started" in log


def test_infrastructure_failures_give_up_after_the_last_attempt(
    make_platform: MakePlatform,
) -> None:
    platform = make_platform(jobs_max_attempts=2)
    job = run(platform, {"kind": "test.die", "dieAttempts": 5}).job
    assert job.status == JobStatus.FAILED and job.attempts == 2
    assert job.error is not None and job.error.kind == ErrorKind.INFRASTRUCTURE
    assert "gave up after 2 attempt(s)" in job.error.message


def test_cancelling_a_queued_job_is_immediate_and_idempotent(make_platform: MakePlatform) -> None:
    platform = make_platform(start=False)
    view = submit(platform, {"kind": "test.echo"})
    tenant, job_id = view.job.tenant, view.job.job_id
    cancelled = platform.jobs.cancel(tenant, job_id, actor="key:ops")
    assert cancelled.job.status == JobStatus.CANCELLED and cancelled.job.attempts == 0
    assert platform.jobs.cancel(tenant, job_id, actor="key:ops").job.status == JobStatus.CANCELLED
    platform.start_jobs()
    time.sleep(0.3)
    assert status(platform, job_id) == JobStatus.CANCELLED
    assert [a for a in audit_actions(platform) if a[0] == "JobCancelled"] == [
        ("JobCancelled", job_id, view.job.spec_sha256)
    ]


def test_cancelling_a_running_job_kills_its_worker(make_platform: MakePlatform) -> None:
    platform = make_platform(jobs_workers=1)
    view = submit(platform, {"kind": "test.sleep", "seconds": 60, "steps": 60})
    tenant, job_id = view.job.tenant, view.job.job_id
    wait_for(lambda: status(platform, job_id) == JobStatus.RUNNING, what="running")
    assert platform.jobs.cancel(tenant, job_id, actor="key:ops").job.status == JobStatus.CANCELLED
    runner = platform.jobs.runner
    assert runner is not None
    wait_for(lambda: runner.describe()["busy"] == 0, timeout=5, what="the worker to be stopped")
    # The one worker is free again: a new job runs at once rather than after 60 s.
    assert run(platform, {"kind": "test.echo"}, timeout=20).job.status == JobStatus.SUCCEEDED
    assert status(platform, job_id) == JobStatus.CANCELLED


def test_a_finished_job_cannot_be_cancelled(make_platform: MakePlatform) -> None:
    platform = make_platform()
    job = run(platform, {"kind": "test.echo"}).job
    with pytest.raises(TransitionRefused, match="from succeeded to cancelled") as caught:
        platform.jobs.cancel(job.tenant, job.job_id, actor="key:ops")
    assert isinstance(caught.value, Conflict)


def test_priorities_order_claims(make_platform: MakePlatform) -> None:
    platform = make_platform(start=False, jobs_workers=1)
    ids = {
        p: submit(platform, {"kind": "test.echo", "priority": p}).job.job_id for p in (-3, 50, 0)
    }
    platform.start_jobs()
    tenant = platform.settings.default_tenant
    started = {p: platform.jobs.wait(tenant, job_id).job.started_at for p, job_id in ids.items()}
    assert started[50] < started[0] < started[-3]  # type: ignore[operator]


def test_a_tenant_runs_no_more_jobs_at_once_than_its_quota(
    make_platform: MakePlatform, tenant: str
) -> None:
    other = f"{tenant}-b"
    platform = make_platform(
        start=False, jobs_max_concurrent_per_tenant=1, jobs_tenants=f"{tenant},{other}"
    )
    slow = {"kind": "test.sleep", "seconds": 2, "steps": 4}
    mine = [submit(platform, slow).job.job_id for _ in range(2)]
    theirs = submit(platform, slow, tenant=other).job.job_id
    platform.start_jobs()

    def running() -> list[str]:
        return [
            j.job_id
            for t in (tenant, other)
            for j in platform.jobs.list_jobs(t, status="running").items
        ]

    wait_for(lambda: len(running()) == 2, what="two running jobs")
    now = running()
    assert theirs in now and len(set(now) & set(mine)) == 1
    for job_id in mine:
        assert platform.jobs.wait(tenant, job_id).job.status == JobStatus.SUCCEEDED
    assert platform.jobs.wait(other, theirs).job.status == JobStatus.SUCCEEDED


def test_the_queue_is_cut_off_per_tenant(make_platform: MakePlatform) -> None:
    from twinops.errors import TooManyRequests

    platform = make_platform(start=False, jobs_max_queued_per_tenant=2)
    for _ in range(2):
        submit(platform, {"kind": "test.echo"})
    with pytest.raises(TooManyRequests, match="most allowed"):
        submit(platform, {"kind": "test.echo"})
