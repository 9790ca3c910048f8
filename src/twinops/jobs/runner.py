"""The runner: one thread per server that moves queued jobs through an executor.

Each turn it claims due jobs (priority first, within per-tenant quotas, up to the executor's
free capacity), hands them to the executor, and records what comes back: progress into the
job row, outcomes through the :class:`Recorder`. It also enforces timeouts, notices cancels
(made by any API process: the database is the only channel), renews the leases of its
running jobs, and re-queues jobs whose runner stopped renewing (a crashed server).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from twinops.jobs.artifacts import ArtifactStore
from twinops.jobs.config import JobSettings
from twinops.jobs.entities import ErrorKind, Job, JobError, JobStatus
from twinops.jobs.executors.base import DoneEvent, Executor, ProgressEvent
from twinops.jobs.kinds import KindRegistry
from twinops.jobs.recording import Recorder
from twinops.jobs.store import Claim, JobStore, ProgressUpdate
from twinops.jobs.worker import ModelFailed, Succeeded, Task, TaskKey, WorkResult
from twinops.obs import Metrics, logs, tracing
from twinops.timeutil import Clock

log = logging.getLogger("twinops.jobs")

_SECOND = 1_000_000
_IDLE_POLL = 0.5  # how often an idle runner looks for jobs submitted by other processes
_BUSY_POLL = 0.05  # how long one executor poll may block while attempts run
_CANCEL_CHECK = 0.25
_PROGRESS_FLUSH = 0.3


@dataclass
class _Flight:
    """An attempt on the executor."""

    job: Job
    started: float
    deadline: float
    progress: tuple[float, str] | None = None
    span: tracing.Span | None = None  # the attempt's trace span, child of the submit's


@dataclass
class _Every:
    """A periodic duty: ``due()`` is true once per ``seconds``."""

    seconds: float
    next: float = field(default=0.0)

    def due(self, now: float) -> bool:
        if now < self.next:
            return False
        self.next = now + self.seconds
        return True


class JobRunner:
    """Claims, dispatches and records jobs on a daemon thread."""

    def __init__(
        self,
        store: JobStore,
        artifacts: ArtifactStore,
        executor: Executor,
        kinds: KindRegistry,
        settings: JobSettings,
        clock: Clock,
        on_success: Callable[[Job], None] | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.runner_id = f"runner-{uuid.uuid4().hex[:16]}"
        self.executor = executor
        self._store = store
        self._artifacts = artifacts
        self._kinds = kinds
        self._settings = settings
        self._clock = clock
        self._on_success = on_success
        self._metrics = metrics
        self._recorder = Recorder(
            store, artifacts, clock, retry_backoff_seconds=settings.retry_backoff_seconds
        )
        self._flights: dict[TaskKey, _Flight] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._more = True  # the last claim was full: more jobs may be waiting
        self._next_claim = 0.0
        lease = settings.lease_seconds
        self._renew = _Every(lease / 3)
        self._cancels = _Every(_CANCEL_CHECK)
        self._flush = _Every(_PROGRESS_FLUSH)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="twinops-jobs", daemon=True)
            self._thread.start()

    @property
    def alive(self) -> bool:
        """True while the thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def wake(self) -> None:
        """Look for queued jobs now (a job was submitted or cancelled in this process)."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread, kill running attempts and re-queue their jobs (no attempt used)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.executor.close()
        for flight in list(self._flights.values()):
            self._ended(flight, "interrupted")
            try:
                self._recorder.give_back(flight.job, "the server stopped")
            except Exception:
                log.exception("could not re-queue job %s on shutdown", flight.job.job_id)
        self._flights.clear()

    def describe(self) -> dict[str, Any]:
        """The executor and what runs on it, for ``/readyz``."""
        return {**self.executor.describe(), "running": len(self._flights), "alive": self.alive}

    # -- the loop ----------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._turn()
            except Exception:
                # A database hiccup must not end the runner: wait a little and go on.
                log.exception("job runner turn failed")
                self._stop.wait(1.0)

    def _turn(self) -> None:
        now = time.monotonic()
        if self._renew.due(now):
            self._keep_leases()
        if self._flights and self._cancels.due(now):
            self._drop_cancelled()
        self._dispatch(now)
        if self._flights:
            for event in self.executor.poll(_BUSY_POLL):
                with logs.job_scope(event.key[1]):  # log records name the job
                    if isinstance(event, ProgressEvent):
                        self._progress(event)
                    else:
                        self._done(event)
            self._check_timeouts()
        else:
            self._wake.wait(_IDLE_POLL)
        if self._flush.due(time.monotonic()):
            self._flush_progress()

    def _dispatch(self, now: float) -> None:
        free = self.executor.capacity - len(self._flights)
        woken = self._wake.is_set()
        if free <= 0 or not (woken or self._more or now >= self._next_claim):
            return
        self._wake.clear()
        self._next_claim = now + _IDLE_POLL
        lease_until = self._clock() + int(self._settings.lease_seconds * _SECOND)
        claimed = self._store.claim(
            Claim(
                self.runner_id,
                self._clock(),
                lease_until,
                free,
                self._settings.max_concurrent_per_tenant,
                self._settings.tenants,
                note=f"started on the {self.executor.name} executor",
            )
        )
        self._more = len(claimed) == free
        for job in claimed:
            with logs.job_scope(job.job_id):  # log records name the job
                self._start(job)

    def _start(self, job: Job) -> None:
        kind = self._kinds.find(job.kind)
        if kind is None:
            error = JobError(ErrorKind.UNAVAILABLE, f"this server does not run {job.kind} jobs")
            self._recorder.fail(job, error)
            self._ended(_Flight(job, time.monotonic(), 0.0), "failed")
            return
        try:
            spec = self._artifacts.get(job.spec_sha256)
            snapshot = self._artifacts.get(job.snapshot_sha256)
        except OSError as exc:  # missing, or no longer matching its hash
            message = f"the job's inputs cannot be read from storage: {exc}"
            self._recorder.fail(job, JobError(ErrorKind.INFRASTRUCTURE, message))
            self._ended(_Flight(job, time.monotonic(), 0.0), "failed")
            return
        attributes = {"twinops.job_id": job.job_id, "twinops.job_kind": job.kind}
        span = tracing.start_span("jobs.run", attributes, parent=job.traceparent)
        root = self._artifacts.local_root if self.executor.shares_files else None
        task = Task(
            job.tenant,
            job.job_id,
            job.attempts,
            kind,
            spec,
            snapshot,
            None if root is None else str(root),
            self._artifacts.durable,
            traceparent=tracing.traceparent(span),
        )
        started = time.monotonic()
        self._flights[task.key] = _Flight(job, started, started + job.timeout_seconds, span=span)
        self.executor.submit(task)
        if self._metrics is not None:
            self._metrics.job_started(job.kind)

    def _progress(self, event: ProgressEvent) -> None:
        flight = self._flights.get(event.key)
        if flight is not None:
            flight.progress = (event.fraction, event.message)

    def _done(self, event: DoneEvent) -> None:
        flight = self._flights.pop(event.key, None)
        if flight is None:
            return  # cancelled or timed out meanwhile
        job, result = flight.job, event.result
        self._ended(flight, _outcome(result))
        if isinstance(result, Succeeded):
            wall = time.monotonic() - flight.started
            done = self._recorder.succeed(
                job, result, executor=self.executor.name, wall_seconds=wall
            )
            if done is not None and self._on_success is not None:
                self._on_success(done)
        elif isinstance(result, ModelFailed):
            error = JobError(ErrorKind.MODEL, result.message, result.type)
            done = self._recorder.fail(
                job,
                error,
                worker_log=result.log,
                traceback=result.traceback,
                packages=result.packages,
            )
        else:
            done = self._recorder.lost(job, result.reason)
            self._more = True  # a retry is due later; look again
        if done is None:
            log.info("job %s moved while it ran; its outcome was dropped", job.job_id)

    def _ended(self, flight: _Flight, status: str) -> None:
        """Measure an attempt that ended: metrics by kind and status; its span ends."""
        seconds = time.monotonic() - flight.started
        log.info(
            "job %s attempt %d: %s after %.3f s",
            flight.job.job_id,
            flight.job.attempts,
            status,
            seconds,
        )
        if self._metrics is not None:
            self._metrics.job_finished(flight.job.kind, status, seconds)
        tracing.end_span(flight.span, status)

    def _check_timeouts(self) -> None:
        now = time.monotonic()
        for key, flight in list(self._flights.items()):
            if now < flight.deadline:
                continue
            self.executor.cancel(key)
            del self._flights[key]
            self._ended(flight, "timeout")
            seconds = flight.job.timeout_seconds
            message = f"no result after {seconds:g} s; the worker was stopped"
            self._recorder.fail(flight.job, JobError(ErrorKind.TIMEOUT, message))

    def _drop_cancelled(self) -> None:
        """Kill attempts whose job is no longer running at that attempt (cancelled)."""
        keys = [(job.tenant, job.job_id) for job in (f.job for f in self._flights.values())]
        current = self._store.statuses(keys)
        for key, flight in list(self._flights.items()):
            now = current.get((flight.job.tenant, flight.job.job_id))
            if now == (JobStatus.RUNNING, flight.job.attempts):
                continue
            self.executor.cancel(key)
            del self._flights[key]
            self._ended(flight, "cancelled")
            log.info("job %s is %s: its attempt was stopped", flight.job.job_id, now)

    def _keep_leases(self) -> None:
        lease_until = self._clock() + int(self._settings.lease_seconds * _SECOND)
        keys = [(f.job.tenant, f.job.job_id) for f in self._flights.values()]
        self._store.renew(self.runner_id, keys, lease_until)
        expired = self._store.expired(
            self._clock(), exclude_runner=self.runner_id, tenants=self._settings.tenants
        )
        for job in expired:
            reason = "its server stopped renewing the lease (crashed or lost)"
            if self._recorder.lost(job, reason) is not None:
                self._more = True
        # Jobs this runner holds but does not run (the server died mid-dispatch): give them up.
        flying = {(f.job.tenant, f.job.job_id) for f in self._flights.values()}
        for job in self._store.owned(self.runner_id):
            if (job.tenant, job.job_id) not in flying:
                self._recorder.lost(job, "its attempt was lost by this server")

    def _flush_progress(self) -> None:
        updates = []
        at = self._clock()
        for flight in self._flights.values():
            if flight.progress is not None:
                fraction, message = flight.progress
                job = flight.job
                updates.append(
                    ProgressUpdate(job.tenant, job.job_id, job.attempts, fraction, message, at)
                )
                flight.progress = None
        self._store.set_progress(updates)


def _outcome(result: WorkResult) -> str:
    """The status label of an attempt's result: succeeded, failed (the model) or lost."""
    if isinstance(result, Succeeded):
        return "succeeded"
    return "failed" if isinstance(result, ModelFailed) else "lost"
