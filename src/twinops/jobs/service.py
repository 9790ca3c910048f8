"""The job service: submit, read, cancel and reproduce jobs; start and stop the runner.

What the API, the CLI and the tests call. Submitting validates the spec with its kind, takes
the input snapshot, stores both content-addressed, and queues the job, audited with the
spec's hash, in one transaction. The runner (started by ``serve``) does the rest.
"""

from __future__ import annotations

import json
import logging
import math
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from twinops.errors import Conflict, Forbidden, InvalidInput, NotFound, TooManyRequests
from twinops.jobs.artifacts import ArtifactStore
from twinops.jobs.canonical import canonical_json
from twinops.jobs.config import JobSettings
from twinops.jobs.entities import (
    Artifact,
    ArtifactRole,
    Job,
    JobStatus,
    JobView,
    LogLine,
    OutputComparison,
    Reproduction,
    check_transition,
)
from twinops.jobs.executors.base import Executor
from twinops.jobs.kinds import JobKind, KindRegistry, PrepareContext, Prepared
from twinops.jobs.recording import render_log
from twinops.jobs.runner import JobRunner
from twinops.jobs.store import JobStore, Move
from twinops.jobs.worker import JSON
from twinops.obs import Metrics, tracing
from twinops.security.entities import AuditEntry, Role
from twinops.timeutil import Clock, system_clock
from twinops.twins.store import Page

# Job-level options of a spec: how to run it, not what it computes (not passed to the kind).
JOB_OPTIONS = ("priority", "timeoutSeconds")
PRIORITY_RANGE = (-100, 100)
SUMMARY = "outputs/summary.json"
_INPUTS = ("spec.json", "snapshot.json", "seeds.json")

log = logging.getLogger(__name__)


def _priority(body: Mapping[str, Any]) -> int:
    value = body.get("priority", 0)
    low, high = PRIORITY_RANGE
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput.single(
            "priority", "range", f"an integer from {low} to {high} (higher runs first)", value
        )
    return value


def _timeout(body: Mapping[str, Any], settings: JobSettings) -> float:
    value = body.get("timeoutSeconds", settings.timeout_seconds)
    cap = settings.max_timeout_seconds
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 < value <= cap
    ):
        raise InvalidInput.single(
            "timeoutSeconds", "range", f"a number of seconds above 0 and at most {cap:g}", value
        )
    return float(value)


class JobService:
    """Jobs of every tenant: the queue, their artifacts and logs, and the runner."""

    def __init__(
        self,
        store: JobStore,
        artifacts: ArtifactStore,
        kinds: KindRegistry,
        settings: JobSettings,
        context: Callable[[str], PrepareContext],
        clock: Clock = system_clock,
        *,
        metrics: Metrics | None = None,
    ) -> None:
        self.kinds = kinds
        self.metrics = metrics
        self.settings = settings
        self._store = store
        self._artifacts = artifacts
        self._context = context
        self._clock = clock
        self._runner: JobRunner | None = None
        # Other contexts hook in here (the registry resolves ``model: registry:...`` and
        # registers calibrations); the job system itself knows nothing of them.
        self.spec_resolvers: list[Callable[[str, Mapping[str, Any]], Mapping[str, Any]]] = []
        self.success_listeners: list[Callable[[Job], None]] = []

    # -- the runner ------------------------------------------------------------------------

    def start(self, executor: Executor) -> JobRunner:
        """Run queued jobs on ``executor`` from now on, in a thread of this process."""
        if self._runner is None:
            self._runner = JobRunner(
                self._store,
                self._artifacts,
                executor,
                self.kinds,
                self.settings,
                self._clock,
                on_success=self._succeeded,
                metrics=self.metrics,
            )
            self._runner.start()
        return self._runner

    def stop(self) -> None:
        """Stop the runner: running attempts are killed and their jobs re-queued."""
        if self._runner is not None:
            self._runner.stop()
            self._runner = None

    @property
    def runner(self) -> JobRunner | None:
        """The runner, when this process runs jobs."""
        return self._runner

    def describe(self) -> dict[str, Any]:
        """The configured executor, and the runner's state when this process runs jobs."""
        if self._runner is None:
            return {"executor": self.settings.executor, "runner": "not in this process"}
        return {**self._runner.describe(), "runner": self._runner.runner_id}

    # -- commands --------------------------------------------------------------------------

    @tracing.traced("jobs.submit")
    def submit(self, tenant: str, body: Any, *, actor: str, role: Role) -> JobView:
        """Validate a spec, snapshot its inputs, store them and queue the job."""
        if not isinstance(body, Mapping):
            raise InvalidInput.single(
                "body", "type", 'a job spec is a JSON object: {"kind": ..., ...}'
            )
        name = body.get("kind")
        kind = self.kinds.get(name)
        self._check_role(kind, role)
        priority = _priority(body)
        timeout = _timeout(body, self.settings)
        waiting = self.unfinished(tenant)
        if waiting >= self.settings.max_queued_per_tenant:
            raise TooManyRequests(
                f"{waiting} jobs are queued or running for this tenant, the most allowed;"
                " submit again when some have finished",
                retry_after=5.0,
            )
        raw: Mapping[str, Any] = {k: v for k, v in body.items() if k not in JOB_OPTIONS}
        for resolve in self.spec_resolvers:
            raw = resolve(tenant, raw)
        prepared = kind.prepare(raw, self._context(tenant))
        inputs = [
            self._put("spec.json", prepared.spec),
            self._put("snapshot.json", prepared.snapshot),
            self._put("seeds.json", canonical_json(dict(prepared.seeds), "seeds")),
        ]
        return self._enqueue(tenant, str(name), prepared, inputs, actor, priority, timeout, None)

    def reproduce(self, tenant: str, job_id: str, *, actor: str, role: Role) -> JobView:
        """Queue a re-run of a succeeded job from its stored spec and snapshot."""
        original = self._job(tenant, job_id)
        if original.status != JobStatus.SUCCEEDED:
            raise Conflict(
                f"job {job_id} is {original.status}: only a succeeded job can be reproduced"
            )
        kind = self.kinds.find(original.kind)
        if kind is None:
            raise Conflict(f"this server does not run {original.kind} jobs")
        self._check_role(kind, role)
        stored = {a.name: a for a in self._store.artifacts(tenant, job_id)}
        inputs = [stored[name] for name in _INPUTS if name in stored]
        if not all(
            self._artifacts.has(sha) for sha in (original.spec_sha256, original.snapshot_sha256)
        ):
            raise Conflict(f"the inputs of job {job_id} are no longer stored")
        spec = self._artifacts.get(original.spec_sha256)
        snapshot = self._artifacts.get(original.snapshot_sha256)
        seeds = (
            json.loads(self._artifacts.get(stored["seeds.json"].sha256))
            if "seeds.json" in stored
            else {}
        )
        prepared = Prepared(spec, snapshot, seeds)
        return self._enqueue(
            tenant,
            original.kind,
            prepared,
            inputs,
            actor,
            original.priority,
            original.timeout_seconds,
            job_id,
        )

    def cancel(self, tenant: str, job_id: str, *, actor: str) -> JobView:
        """Cancel a queued or running job (a running attempt is killed); idempotent."""
        for _ in range(5):
            job = self._job(tenant, job_id)
            if job.status == JobStatus.CANCELLED:
                return self._view(job)
            check_transition(job_id, job.status, JobStatus.CANCELLED)
            now = self._clock()
            audit = AuditEntry(
                tenant,
                actor,
                "JobCancelled",
                job_id,
                now,
                {"kind": job.kind, "specSha256": job.spec_sha256, "was": str(job.status)},
            )
            line = LogLine(now, job.attempts, "runner", f"cancelled by {actor} while {job.status}")
            moved = self._store.move(
                Move(tenant, job_id, job.status, JobStatus.CANCELLED, now, attempt=job.attempts),
                audit=audit,
                log=[line],
            )
            if moved is not None:
                if self._runner is not None:
                    self._runner.wake()
                return self._view(moved)
        raise Conflict(f"job {job_id} kept changing while it was being cancelled; try again")

    # -- queries ---------------------------------------------------------------------------

    def get(self, tenant: str, job_id: str) -> JobView:
        """A job with its output hashes (and, for a reproduction, how they compare)."""
        return self._view(self._job(tenant, job_id))

    def list_jobs(
        self, tenant: str, *, status: str | None = None, limit: int = 100, after: str | None = None
    ) -> Page[Job]:
        """The tenant's jobs, newest first, optionally of one status."""
        wanted: JobStatus | None = None
        if status is not None:
            try:
                wanted = JobStatus(status)
            except ValueError:
                names = ", ".join(s.value for s in JobStatus)
                raise InvalidInput.single(
                    "status", "oneOf", f"one of {names}", status[:50]
                ) from None
        return self._store.list_jobs(tenant, status=wanted, limit=limit, after=after)

    def log_text(self, tenant: str, job_id: str) -> str:
        """The job's log: what the runner did and what the model printed, with tracebacks."""
        self._job(tenant, job_id)
        return render_log(self._store.log(tenant, job_id))

    def artifacts(self, tenant: str, job_id: str) -> list[Artifact]:
        """Everything stored for the job, by name."""
        self._job(tenant, job_id)
        return self._store.artifacts(tenant, job_id)

    def artifact(self, tenant: str, job_id: str, name: str) -> tuple[Artifact, Iterator[bytes]]:
        """One artifact of the job and its content, in chunks."""
        found = next((a for a in self.artifacts(tenant, job_id) if a.name == name), None)
        if found is None or not self._artifacts.has(found.sha256):
            raise NotFound(f"job {job_id} has no artifact {name[:256]!r}")
        return found, self._artifacts.chunks(found.sha256)

    def summary(self, tenant: str, job_id: str) -> Any:
        """The job's summary output (once it has succeeded)."""
        job = self._job(tenant, job_id)
        stored = {a.name: a for a in self._store.artifacts(tenant, job_id)}
        if SUMMARY not in stored:
            raise NotFound(f"job {job_id} is {job.status} and has no summary")
        return json.loads(self._artifacts.get(stored[SUMMARY].sha256))

    def spec(self, tenant: str, job_id: str) -> Any:
        """The job's canonical spec, as stored when it was submitted."""
        stored = {a.name: a for a in self.artifacts(tenant, job_id)}
        if "spec.json" not in stored:
            raise NotFound(f"job {job_id} has no stored spec")
        return json.loads(self._artifacts.get(stored["spec.json"].sha256))

    def _succeeded(self, job: Job) -> None:
        for listener in self.success_listeners:
            try:
                listener(job)
            except Exception as exc:  # a listener's failure must not stop the runner
                log.exception("after job %s succeeded, %s failed", job.job_id, listener)
                reasons = "; ".join(
                    f"{v.field}: {v.message}" for v in getattr(exc, "violations", ())
                )
                text = f"after success: {exc}" + (f" ({reasons})" if reasons else "")
                line = LogLine(self._clock(), job.attempts, "runner", text)
                self._store.append_log(job.tenant, job.job_id, [line])

    def unfinished(self, tenant: str) -> int:
        """How many of the tenant's jobs are queued or running."""
        return self._store.count(tenant, [JobStatus.QUEUED, JobStatus.RUNNING])

    def wait(self, tenant: str, job_id: str, timeout: float = 60.0) -> JobView:
        """Poll until the job has finished; TimeoutError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            view = self.get(tenant, job_id)
            if view.job.status.terminal:
                return view
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} is still {view.job.status}")
            time.sleep(0.02)

    # -- helpers ---------------------------------------------------------------------------

    def _job(self, tenant: str, job_id: str) -> Job:
        job = self._store.get(tenant, job_id) if len(job_id) <= 128 else None
        if job is None:
            raise NotFound(f"no job {job_id[:128]}")
        return job

    def _check_role(self, kind: JobKind, role: Role) -> None:
        if not role.allows(kind.role):
            raise Forbidden(f"{kind.name} jobs need the {kind.role} role; the caller is a {role}")

    def _put(self, name: str, data: bytes) -> Artifact:
        return Artifact(name, self._artifacts.put(data), len(data), JSON, ArtifactRole.INPUT)

    def _enqueue(
        self,
        tenant: str,
        kind: str,
        prepared: Prepared,
        inputs: list[Artifact],
        actor: str,
        priority: int,
        timeout: float,
        reproduces: str | None,
    ) -> JobView:
        now = self._clock()
        job_id = f"job-{uuid.uuid4().hex[:20]}"
        check_transition(job_id, JobStatus.SUBMITTED, JobStatus.QUEUED)
        by_name = {a.name: a for a in inputs}
        job = Job(
            tenant=tenant,
            job_id=job_id,
            kind=kind,
            status=JobStatus.QUEUED,
            priority=priority,
            spec_sha256=by_name["spec.json"].sha256,
            snapshot_sha256=by_name["snapshot.json"].sha256,
            created_at=now,
            submitted_by=actor,
            timeout_seconds=timeout,
            max_attempts=self.settings.max_attempts,
            reproduces=reproduces,
            traceparent=tracing.traceparent(),
        )
        details: dict[str, Any] = {
            "kind": kind,
            "specSha256": prepared.spec_sha256,
            "priority": priority,
        }
        note = f"submitted by {actor}; queued with priority {priority}"
        if reproduces is not None:
            details["reproduces"] = reproduces
            note += f", to reproduce {reproduces}"
        audit = AuditEntry(tenant, actor, "JobSubmitted", job_id, now, details)
        self._store.create(job, inputs, [LogLine(now, 0, "runner", note)], audit)
        tracing.annotate("twinops.job_id", job_id)
        if self._runner is not None:
            self._runner.wake()
        return JobView(job)

    def _view(self, job: Job) -> JobView:
        if job.status != JobStatus.SUCCEEDED and job.reproduces is None:
            return JobView(job)
        mine = self._outputs(job.tenant, job.job_id)
        if job.reproduces is None:
            return JobView(job, mine)
        original = self._outputs(job.tenant, job.reproduces)
        names = sorted(set(original) | set(mine))
        compared = tuple(OutputComparison(n, original.get(n), mine.get(n)) for n in names)
        return JobView(job, mine, Reproduction(job.reproduces, compared, job.status.terminal))

    def _outputs(self, tenant: str, job_id: str) -> dict[str, str]:
        return {
            a.name: a.sha256
            for a in self._store.artifacts(tenant, job_id)
            if a.role == ArtifactRole.OUTPUT
        }
