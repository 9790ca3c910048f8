"""The job store contract, run against SQLite and a real PostgreSQL server."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import update

from twinops.jobs.entities import (
    Artifact,
    ArtifactRole,
    ErrorKind,
    Job,
    JobError,
    JobStatus,
    LogLine,
    TransitionRefused,
)
from twinops.jobs.store import Claim, Move, ProgressUpdate
from twinops.security.entities import AuditEntry
from twinops.storage import Database
from twinops.storage.audit import iter_audit
from twinops.storage.schema import jobs
from twinops.storage.sql_jobs import SqlJobStore

SHA = "a" * 64


def job(tenant: str, *, created: int = 1_000, priority: int = 0, job_id: str = "") -> Job:
    return Job(
        tenant=tenant,
        job_id=job_id or f"job-{uuid.uuid4().hex[:12]}",
        kind="test.echo",
        status=JobStatus.QUEUED,
        priority=priority,
        spec_sha256=SHA,
        snapshot_sha256="b" * 64,
        created_at=created,
        submitted_by="key:k1",
        timeout_seconds=60.0,
        max_attempts=3,
    )


def create(store: SqlJobStore, new: Job) -> Job:
    audit = AuditEntry(new.tenant, "key:k1", "JobSubmitted", new.job_id, new.created_at, {})
    spec = Artifact("spec.json", SHA, 10, "application/json", ArtifactRole.INPUT)
    store.create(new, [spec], [LogLine(new.created_at, 0, "runner", "queued")], audit)
    return new


def claim(
    tenant: str, limit: int, *, now: int = 10_000, per_tenant: int = 10, **kw: object
) -> Claim:
    tenants = kw.pop("tenants", (tenant,))
    return Claim("runner-a", now, now + 5_000, limit, per_tenant, tenants)  # type: ignore[arg-type]


def test_a_job_round_trips_and_other_tenants_do_not_see_it(database: Database, tenant: str) -> None:
    store = SqlJobStore(database)
    stored = create(store, job(tenant))
    assert store.get(tenant, stored.job_id) == stored
    assert store.get(f"{tenant}-other", stored.job_id) is None
    assert store.artifacts(tenant, stored.job_id)[0].name == "spec.json"
    assert store.artifacts(f"{tenant}-other", stored.job_id) == []
    assert [line.message for line in store.log(tenant, stored.job_id)] == ["queued"]
    with database.read() as conn:
        assert [r.action for r in iter_audit(conn, tenant)] == ["JobSubmitted"]


def test_listing_pages_newest_first_and_filters_by_status(database: Database, tenant: str) -> None:
    store = SqlJobStore(database)
    made = [create(store, job(tenant, created=1_000 + i // 2)) for i in range(7)]
    seen, cursor = [], None
    while True:
        page = store.list_jobs(tenant, status=None, limit=3, after=cursor)
        seen.extend(j.job_id for j in page.items)
        if page.next is None:
            break
        cursor = page.next
    expected = sorted(made, key=lambda j: (j.created_at, j.job_id), reverse=True)
    assert seen == [j.job_id for j in expected]
    store.claim(claim(tenant, 2))
    running = store.list_jobs(tenant, status=JobStatus.RUNNING, limit=10, after=None)
    assert len(running.items) == 2
    assert store.count(tenant, [JobStatus.QUEUED, JobStatus.RUNNING]) == 7
    assert store.count(tenant, [JobStatus.RUNNING]) == 2


def test_claims_take_the_highest_priority_then_the_oldest(database: Database, tenant: str) -> None:
    store = SqlJobStore(database)
    low = create(store, job(tenant, created=1, priority=-5))
    old = create(store, job(tenant, created=2, priority=10))
    new = create(store, job(tenant, created=3, priority=10))
    mid = create(store, job(tenant, created=4, priority=0))
    order = [j.job_id for j in store.claim(claim(tenant, 3))]
    assert order == [old.job_id, new.job_id, mid.job_id]
    assert [j.job_id for j in store.claim(claim(tenant, 3))] == [low.job_id]
    started = store.get(tenant, old.job_id)
    assert started is not None and started.status == JobStatus.RUNNING
    assert started.attempts == 1 and started.runner == "runner-a" and started.started_at == 10_000


def test_a_tenant_at_its_quota_gets_no_more(database: Database, tenant: str) -> None:
    store = SqlJobStore(database)
    other = f"{tenant}-b"
    for i in range(3):
        create(store, job(tenant, created=i, priority=5))
    theirs = create(store, job(other, created=10))
    both = (tenant, other)
    picked = store.claim(claim(tenant, 4, per_tenant=2, tenants=both))
    assert sorted(j.tenant for j in picked) == [tenant, tenant, other]
    assert theirs.job_id in {j.job_id for j in picked}
    assert store.claim(claim(tenant, 4, per_tenant=2, tenants=both)) == []


def test_a_retry_waits_for_its_backoff(database: Database, tenant: str) -> None:
    store = SqlJobStore(database)
    create(store, job(tenant))
    (running,) = store.claim(claim(tenant, 1))
    back = store.move(
        Move(
            tenant,
            running.job_id,
            JobStatus.RUNNING,
            JobStatus.QUEUED,
            11_000,
            attempt=1,
            error=JobError(ErrorKind.INFRASTRUCTURE, "worker died"),
            not_before=20_000,
        )
    )
    assert back is not None and back.runner is None and back.error is not None
    assert store.claim(claim(tenant, 1, now=19_999)) == []
    (again,) = store.claim(claim(tenant, 1, now=20_000))
    assert again.attempts == 2


def test_a_move_from_a_stale_state_changes_nothing(database: Database, tenant: str) -> None:
    store = SqlJobStore(database)
    create(store, job(tenant))
    (running,) = store.claim(claim(tenant, 1))
    output = Artifact("outputs/x.parquet", SHA, 1, "x", ArtifactRole.OUTPUT)
    audit = AuditEntry(tenant, "system:jobs", "JobSucceeded", running.job_id, 2, {})
    stale = Move(tenant, running.job_id, JobStatus.RUNNING, JobStatus.SUCCEEDED, 2, attempt=7)
    assert store.move(stale, audit=audit, artifacts=[output]) is None
    assert [a.name for a in store.artifacts(tenant, running.job_id)] == ["spec.json"]
    with database.read() as conn:
        assert [r.action for r in iter_audit(conn, tenant)] == ["JobSubmitted"]
    fresh = Move(tenant, running.job_id, JobStatus.RUNNING, JobStatus.SUCCEEDED, 2, attempt=1)
    done = store.move(fresh, audit=audit, artifacts=[output])
    assert done is not None and done.status == JobStatus.SUCCEEDED and done.finished_at == 2
    assert done.progress.fraction == 1.0


def test_the_store_refuses_moves_outside_the_table(database: Database, tenant: str) -> None:
    store = SqlJobStore(database)
    queued = create(store, job(tenant))
    with pytest.raises(TransitionRefused, match="from queued to succeeded"):
        store.move(Move(tenant, queued.job_id, JobStatus.QUEUED, JobStatus.SUCCEEDED, 5))
    stored = store.get(tenant, queued.job_id)
    assert stored is not None and stored.status == JobStatus.QUEUED


def test_leases_expire_unless_renewed(database: Database, tenant: str) -> None:
    store = SqlJobStore(database)
    for i in range(2):
        create(store, job(tenant, created=i))
    first, second = store.claim(claim(tenant, 2, now=100))
    store.renew("runner-a", [(tenant, first.job_id)], 50_000)
    expired = store.expired(20_000, tenants=(tenant,))
    assert [j.job_id for j in expired] == [second.job_id]
    assert store.expired(20_000, exclude_runner="runner-a", tenants=(tenant,)) == []
    assert {j.job_id for j in store.owned("runner-a") if j.tenant == tenant} == {
        first.job_id,
        second.job_id,
    }


def test_progress_is_kept_for_the_current_attempt_only(database: Database, tenant: str) -> None:
    store = SqlJobStore(database)
    create(store, job(tenant))
    (running,) = store.claim(claim(tenant, 1))
    store.set_progress(
        [
            ProgressUpdate(tenant, running.job_id, 1, 0.4, "step 4 of 10", 123),
            ProgressUpdate(tenant, running.job_id, 9, 0.9, "an old attempt", 124),
        ]
    )
    current = store.get(tenant, running.job_id)
    assert current is not None
    assert (current.progress.fraction, current.progress.message) == (0.4, "step 4 of 10")
    assert store.statuses([(tenant, running.job_id), (tenant, "nope")]) == {
        (tenant, running.job_id): (JobStatus.RUNNING, 1)
    }


def test_concurrent_runners_never_overrun_a_tenant_quota(database: Database, tenant: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    store = SqlJobStore(database)
    for i in range(20):
        create(store, job(tenant, created=i))

    def one_runner(n: int) -> int:
        ask = Claim(f"runner-{n}", 10_000, 15_000, 5, 2, (tenant,))
        return len(store.claim(ask))

    with ThreadPoolExecutor(max_workers=8) as pool:
        claimed = sum(pool.map(one_runner, range(8)))
    assert claimed == 2
    assert store.count(tenant, [JobStatus.RUNNING]) == 2


def test_a_claim_with_nothing_due_never_opens_a_write_transaction(
    database: Database, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SqlJobStore(database)
    writes: list[int] = []
    write = database.write

    def counted() -> Any:
        writes.append(1)
        return write()

    monkeypatch.setattr(database, "write", counted)
    assert store.claim(claim(tenant, 2)) == []
    retried = create(store, job(tenant))
    with write() as conn:  # a retry waiting for its backoff: queued, not due before 20_000
        conn.execute(update(jobs).where(jobs.c.job_id == retried.job_id).values(not_before=20_000))
    writes.clear()
    assert store.claim(claim(tenant, 2, now=10_000)) == []
    assert writes == []
    assert [j.job_id for j in store.claim(claim(tenant, 2, now=20_000))] == [retried.job_id]
    assert writes == [1]
