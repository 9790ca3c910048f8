"""The job store on SQL (both dialects): the queue, job artifacts and logs."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, insert, or_, select, text, update

from twinops.jobs.entities import (
    Artifact,
    ArtifactRole,
    Job,
    JobError,
    JobStatus,
    LogLine,
    Progress,
    check_transition,
)
from twinops.jobs.store import Claim, JobKey, JobStore, Move, ProgressUpdate
from twinops.security.entities import AuditEntry
from twinops.storage.audit import append_audit
from twinops.storage.cursor import decode_cursor, encode_cursor
from twinops.storage.database import Database
from twinops.storage.schema import job_artifacts, job_logs, jobs
from twinops.twins.store import Page

_IN_CHUNK = 400
_CLAIM_LOCK = 0x74776E6A6F6273  # "twnjobs": the advisory lock claims serialize on
# Built once: a statement object reused with fresh parameters skips SQLAlchemy's per-call
# construction (this is the job system's hot path).
_INSERT_JOB = insert(jobs)
_INSERT_ARTIFACTS = insert(job_artifacts)
_INSERT_LOG = insert(job_logs)
_RUNNING = str(JobStatus.RUNNING)
_QUEUED = str(JobStatus.QUEUED)


class _Stale(Exception):
    """The job moved since the caller read it: roll the whole transaction back."""


def _to_job(row: Any) -> Job:
    return Job(
        tenant=row.tenant,
        job_id=row.job_id,
        kind=row.kind,
        status=JobStatus(row.status),
        priority=row.priority,
        spec_sha256=row.spec_sha256,
        snapshot_sha256=row.snapshot_sha256,
        created_at=row.created_at,
        submitted_by=row.submitted_by,
        timeout_seconds=row.timeout_seconds,
        max_attempts=row.max_attempts,
        attempts=row.attempts,
        progress=Progress(row.progress, row.progress_message, row.progress_at),
        started_at=row.started_at,
        finished_at=row.finished_at,
        not_before=row.not_before,
        error=JobError.from_json(row.error) if row.error else None,
        runner=row.runner,
        lease_until=row.lease_until,
        reproduces=row.reproduces,
        traceparent=row.traceparent,
    )


def _job_row(job: Job) -> dict[str, Any]:
    return {
        "tenant": job.tenant,
        "job_id": job.job_id,
        "kind": job.kind,
        "status": str(job.status),
        "priority": job.priority,
        "spec_sha256": job.spec_sha256,
        "snapshot_sha256": job.snapshot_sha256,
        "created_at": job.created_at,
        "submitted_by": job.submitted_by,
        "timeout_seconds": job.timeout_seconds,
        "max_attempts": job.max_attempts,
        "attempts": job.attempts,
        "progress": job.progress.fraction,
        "progress_message": job.progress.message,
        "progress_at": job.progress.at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "not_before": job.not_before,
        "error": job.error.to_json() if job.error else None,
        "runner": job.runner,
        "lease_until": job.lease_until,
        "reproduces": job.reproduces,
        "traceparent": job.traceparent,
    }


def _insert_artifacts(
    conn: Connection, tenant: str, job_id: str, artifacts: Sequence[Artifact], at: int
) -> None:
    if artifacts:
        conn.execute(
            _INSERT_ARTIFACTS,
            [
                {
                    "tenant": tenant,
                    "job_id": job_id,
                    "name": a.name,
                    "sha256": a.sha256,
                    "size": a.size,
                    "media_type": a.media_type,
                    "role": str(a.role),
                    "created_at": at,
                }
                for a in artifacts
            ],
        )


def _insert_log(conn: Connection, tenant: str, job_id: str, lines: Sequence[LogLine]) -> None:
    if lines:
        conn.execute(
            _INSERT_LOG,
            [
                {
                    "tenant": tenant,
                    "job_id": job_id,
                    "at": line.at,
                    "attempt": line.attempt,
                    "source": line.source,
                    "message": line.message,
                }
                for line in lines
            ],
        )


def _by_tenant(keys: Sequence[JobKey]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for tenant, job_id in keys:
        grouped[tenant].append(job_id)
    return grouped


class SqlJobStore(JobStore):
    """Jobs in ``jobs``, their artifacts in ``job_artifacts``, logs in ``job_logs``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create(
        self,
        job: Job,
        artifacts: Sequence[Artifact],
        log: Sequence[LogLine],
        audit: AuditEntry,
    ) -> None:
        with self._db.write() as conn:
            conn.execute(_INSERT_JOB, _job_row(job))
            _insert_artifacts(conn, job.tenant, job.job_id, artifacts, job.created_at)
            _insert_log(conn, job.tenant, job.job_id, log)
            append_audit(conn, audit)

    def get(self, tenant: str, job_id: str) -> Job | None:
        with self._db.read() as conn:
            row = conn.execute(
                select(jobs).where(jobs.c.tenant == tenant, jobs.c.job_id == job_id)
            ).first()
        return _to_job(row) if row is not None else None

    def list_jobs(
        self, tenant: str, *, status: JobStatus | None, limit: int, after: str | None
    ) -> Page[Job]:
        stmt = select(jobs).where(jobs.c.tenant == tenant)
        if status is not None:
            stmt = stmt.where(jobs.c.status == str(status))
        if after is not None:
            created, last_id = decode_cursor(after, 2)
            try:
                created_at = int(created)
            except ValueError:
                created_at = 0
            stmt = stmt.where(
                or_(
                    jobs.c.created_at < created_at,
                    and_(jobs.c.created_at == created_at, jobs.c.job_id < last_id),
                )
            )
        stmt = stmt.order_by(jobs.c.created_at.desc(), jobs.c.job_id.desc()).limit(limit + 1)
        with self._db.read() as conn:
            items = [_to_job(row) for row in conn.execute(stmt)]
        more = len(items) > limit
        items = items[:limit]
        cursor = encode_cursor(str(items[-1].created_at), items[-1].job_id) if more else None
        return Page(items, cursor)

    def count(self, tenant: str, statuses: Sequence[JobStatus]) -> int:
        stmt = (
            select(func.count())
            .select_from(jobs)
            .where(jobs.c.tenant == tenant, jobs.c.status.in_([str(s) for s in statuses]))
        )
        with self._db.read() as conn:
            return int(conn.execute(stmt).scalar_one())

    def move(
        self,
        move: Move,
        *,
        audit: AuditEntry | None = None,
        artifacts: Sequence[Artifact] = (),
        log: Sequence[LogLine] = (),
    ) -> Job | None:
        check_transition(move.job_id, move.source, move.target)
        values: dict[str, Any] = {"status": str(move.target)}
        if move.error is not None:
            values["error"] = move.error.to_json()
        if move.attempts is not None:
            values["attempts"] = move.attempts
        if move.source == JobStatus.RUNNING:
            values.update(runner=None, lease_until=None)
        if move.target == JobStatus.QUEUED:
            values.update(not_before=move.not_before, progress=0.0, progress_message="")
        if move.target.terminal:
            values["finished_at"] = move.at
        if move.target == JobStatus.SUCCEEDED:
            values.update(progress=1.0, progress_message="done", progress_at=move.at)
        where = [
            jobs.c.tenant == move.tenant,
            jobs.c.job_id == move.job_id,
            jobs.c.status == str(move.source),
        ]
        if move.attempt is not None:
            where.append(jobs.c.attempts == move.attempt)
        stmt = update(jobs).where(*where).values(**values).returning(*jobs.c)
        try:
            with self._db.write() as conn:
                row = conn.execute(stmt).first()
                if row is None:
                    raise _Stale
                _insert_artifacts(conn, move.tenant, move.job_id, artifacts, move.at)
                _insert_log(conn, move.tenant, move.job_id, log)
                if audit is not None:
                    append_audit(conn, audit)
        except _Stale:
            return None
        return _to_job(row)

    def claim(self, claim: Claim) -> list[Job]:
        if claim.limit <= 0:
            return []
        check_transition("(claim)", JobStatus.QUEUED, JobStatus.RUNNING)
        if not self._any_ready(claim):
            # Idle runners poll twice a second: a read, so they never queue for SQLite's one
            # writer (ingest holds it most of the time) only to find nothing.
            return []
        picked: list[Job] = []
        with self._db.write() as conn:
            if not self._db.is_sqlite:
                # Runners on several servers would each count the running jobs before the
                # others commit and overrun a tenant's quota together: claims take turns.
                # (SQLite has one writer at a time already.)
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CLAIM_LOCK})
            counts = (
                select(jobs.c.tenant, func.count())
                .where(jobs.c.status == _RUNNING)
                .group_by(jobs.c.tenant)
            )
            running: Counter[str] = Counter({t: int(n) for t, n in conn.execute(counts)})
            full = {t for t, n in running.items() if n >= claim.per_tenant}
            # Another pass only when a tenant filled up mid-page and left rows unclaimed.
            for _ in range(claim.limit + 1):
                skipped = self._claim_page(conn, claim, picked, running, full)
                if not skipped or len(picked) >= claim.limit:
                    break
        return picked

    def _any_ready(self, claim: Claim) -> bool:
        """True when a job the claim may take is queued and due."""
        stmt = select(jobs.c.job_id).where(
            jobs.c.status == _QUEUED,
            or_(jobs.c.not_before.is_(None), jobs.c.not_before <= claim.now),
        )
        if claim.tenants:
            stmt = stmt.where(jobs.c.tenant.in_(claim.tenants))
        with self._db.read() as conn:
            return conn.execute(stmt.limit(1)).first() is not None

    def _claim_page(
        self,
        conn: Connection,
        claim: Claim,
        picked: list[Job],
        running: Counter[str],
        full: set[str],
    ) -> bool:
        """Claim from one page of candidates; True when some were skipped for quota."""
        stmt = select(jobs).where(
            jobs.c.status == _QUEUED,
            or_(jobs.c.not_before.is_(None), jobs.c.not_before <= claim.now),
        )
        if claim.tenants:
            stmt = stmt.where(jobs.c.tenant.in_(claim.tenants))
        if full:
            stmt = stmt.where(jobs.c.tenant.not_in(sorted(full)))
        stmt = stmt.order_by(jobs.c.priority.desc(), jobs.c.created_at, jobs.c.job_id)
        stmt = stmt.limit(claim.limit - len(picked))
        if not self._db.is_sqlite:
            # Concurrent runners on PostgreSQL skip each other's candidates instead of waiting.
            stmt = stmt.with_for_update(skip_locked=True)
        skipped = False
        for row in conn.execute(stmt).all():
            job = _to_job(row)
            if job.tenant in full:
                skipped = True
                continue
            done = conn.execute(
                update(jobs)
                .where(
                    jobs.c.tenant == job.tenant,
                    jobs.c.job_id == job.job_id,
                    jobs.c.status == _QUEUED,
                )
                .values(
                    status=_RUNNING,
                    attempts=job.attempts + 1,
                    runner=claim.runner,
                    lease_until=claim.lease_until,
                    started_at=claim.now,
                    not_before=None,
                    progress=0.0,
                    progress_message="",
                    progress_at=None,
                )
            )
            if done.rowcount != 1:
                continue
            attempt = job.attempts + 1
            _insert_log(
                conn,
                job.tenant,
                job.job_id,
                [LogLine(claim.now, attempt, "runner", f"attempt {attempt} {claim.note}")],
            )
            picked.append(
                replace(
                    job,
                    status=JobStatus.RUNNING,
                    attempts=job.attempts + 1,
                    runner=claim.runner,
                    lease_until=claim.lease_until,
                    started_at=claim.now,
                    not_before=None,
                    progress=Progress(),
                )
            )
            running[job.tenant] += 1
            if running[job.tenant] >= claim.per_tenant:
                full.add(job.tenant)
        return skipped

    def renew(self, runner: str, keys: Sequence[JobKey], lease_until: int) -> None:
        if not keys:
            return
        with self._db.write() as conn:
            for tenant, ids in _by_tenant(keys).items():
                for start in range(0, len(ids), _IN_CHUNK):
                    conn.execute(
                        update(jobs)
                        .where(
                            jobs.c.tenant == tenant,
                            jobs.c.job_id.in_(ids[start : start + _IN_CHUNK]),
                            jobs.c.status == _RUNNING,
                            jobs.c.runner == runner,
                        )
                        .values(lease_until=lease_until)
                    )

    def expired(
        self, now: int, *, exclude_runner: str | None = None, tenants: Sequence[str] = ()
    ) -> list[Job]:
        stmt = select(jobs).where(jobs.c.status == _RUNNING, jobs.c.lease_until < now)
        if exclude_runner is not None:
            stmt = stmt.where(jobs.c.runner != exclude_runner)
        if tenants:
            stmt = stmt.where(jobs.c.tenant.in_(list(tenants)))
        with self._db.read() as conn:
            return [_to_job(row) for row in conn.execute(stmt)]

    def owned(self, runner: str) -> list[Job]:
        stmt = select(jobs).where(jobs.c.status == _RUNNING, jobs.c.runner == runner)
        with self._db.read() as conn:
            return [_to_job(row) for row in conn.execute(stmt)]

    def statuses(self, keys: Sequence[JobKey]) -> dict[JobKey, tuple[JobStatus, int]]:
        found: dict[JobKey, tuple[JobStatus, int]] = {}
        with self._db.read() as conn:
            for tenant, ids in _by_tenant(keys).items():
                for start in range(0, len(ids), _IN_CHUNK):
                    stmt = select(jobs.c.job_id, jobs.c.status, jobs.c.attempts).where(
                        jobs.c.tenant == tenant, jobs.c.job_id.in_(ids[start : start + _IN_CHUNK])
                    )
                    for row in conn.execute(stmt):
                        found[tenant, row.job_id] = (JobStatus(row.status), int(row.attempts))
        return found

    def set_progress(self, updates: Sequence[ProgressUpdate]) -> None:
        if not updates:
            return
        stmt = (
            update(jobs)
            .where(
                jobs.c.tenant == bindparam("b_tenant"),
                jobs.c.job_id == bindparam("b_job_id"),
                jobs.c.status == _RUNNING,
                jobs.c.attempts == bindparam("b_attempt"),
            )
            .values(
                progress=bindparam("b_fraction"),
                progress_message=bindparam("b_message"),
                progress_at=bindparam("b_at"),
            )
        )
        rows = [
            {
                "b_tenant": u.tenant,
                "b_job_id": u.job_id,
                "b_attempt": u.attempt,
                "b_fraction": u.fraction,
                "b_message": u.message[:512],
                "b_at": u.at,
            }
            for u in updates
        ]
        with self._db.write() as conn:
            conn.execute(stmt, rows)

    def append_log(self, tenant: str, job_id: str, lines: Sequence[LogLine]) -> None:
        with self._db.write() as conn:
            _insert_log(conn, tenant, job_id, lines)

    def log(self, tenant: str, job_id: str) -> list[LogLine]:
        stmt = (
            select(job_logs)
            .where(job_logs.c.tenant == tenant, job_logs.c.job_id == job_id)
            .order_by(job_logs.c.id)
        )
        with self._db.read() as conn:
            return [
                LogLine(row.at, row.attempt, row.source, row.message) for row in conn.execute(stmt)
            ]

    def artifacts(self, tenant: str, job_id: str) -> list[Artifact]:
        stmt = (
            select(job_artifacts)
            .where(job_artifacts.c.tenant == tenant, job_artifacts.c.job_id == job_id)
            .order_by(job_artifacts.c.name)
        )
        with self._db.read() as conn:
            return [
                Artifact(row.name, row.sha256, row.size, row.media_type, ArtifactRole(row.role))
                for row in conn.execute(stmt)
            ]
