"""The job store contract: the persisted queue, artifacts per job, logs.

Implementations live in ``twinops.storage``. Every method that names a job is scoped to its
tenant; the runner's methods (``claim``, ``expired``, ...) work across tenants and answer
jobs that carry theirs. Status changes are compare-and-set: a change applies only when the
job is still where the caller saw it, so a late worker cannot overwrite a cancel.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from twinops.jobs.entities import Artifact, Job, JobError, JobStatus, LogLine
from twinops.security.entities import AuditEntry
from twinops.twins.store import Page

JobKey = tuple[str, str]
"""(tenant, job id)"""


@dataclass(frozen=True)
class Move:
    """A status change, applied only if the job is still ``source`` (and at ``attempt``).

    The store checks it against the transition table. Leaving ``running`` clears the runner
    and its lease; entering ``running`` sets ``started_at``; a terminal status sets
    ``finished_at``.
    """

    tenant: str
    job_id: str
    source: JobStatus
    target: JobStatus
    at: int
    attempt: int | None = None  # must equal the stored attempts when given
    error: JobError | None = None
    not_before: int | None = None  # when re-queued: not claimed before this time
    attempts: int | None = None  # the new attempt count, when it changes


@dataclass(frozen=True)
class Claim:
    """What a runner asks for: up to ``limit`` queued jobs, at most ``per_tenant`` running.

    ``tenants``, when not empty, limits the claim to those tenants' jobs (a runner dedicated
    to some tenants). Each claimed job's log gets "attempt N <note>".
    """

    runner: str
    now: int
    lease_until: int
    limit: int
    per_tenant: int
    tenants: tuple[str, ...] = ()
    note: str = "started"


@dataclass(frozen=True)
class ProgressUpdate:
    """The latest progress of a running attempt."""

    tenant: str
    job_id: str
    attempt: int
    fraction: float
    message: str
    at: int


class JobStore(ABC):
    """Jobs, their artifacts and logs, and the queue the runner claims from."""

    @abstractmethod
    def create(
        self,
        job: Job,
        artifacts: Sequence[Artifact],
        log: Sequence[LogLine],
        audit: AuditEntry,
    ) -> None:
        """Insert a new job with its input artifacts and first log lines, audited, at once."""

    @abstractmethod
    def get(self, tenant: str, job_id: str) -> Job | None:
        """The job, or None (also when it belongs to another tenant)."""

    @abstractmethod
    def list_jobs(
        self, tenant: str, *, status: JobStatus | None, limit: int, after: str | None
    ) -> Page[Job]:
        """The tenant's jobs, newest first, optionally of one status; keyset pages."""

    @abstractmethod
    def count(self, tenant: str, statuses: Sequence[JobStatus]) -> int:
        """How many of the tenant's jobs are in one of ``statuses``."""

    @abstractmethod
    def move(
        self,
        move: Move,
        *,
        audit: AuditEntry | None = None,
        artifacts: Sequence[Artifact] = (),
        log: Sequence[LogLine] = (),
    ) -> Job | None:
        """Apply ``move`` with its artifacts, log lines and audit record in one transaction.

        Answers the updated job, or None (and writes nothing) when the job is no longer in
        ``move.source`` or at ``move.attempt``. Raises TransitionRefused for a move the
        transition table does not allow.
        """

    @abstractmethod
    def claim(self, claim: Claim) -> list[Job]:
        """Start queued jobs that are due, highest priority first, then oldest.

        Each claimed job becomes running under ``claim.runner`` with the lease, its attempt
        count one higher. A tenant with ``per_tenant`` jobs running gets no more.
        """

    @abstractmethod
    def renew(self, runner: str, keys: Sequence[JobKey], lease_until: int) -> None:
        """Extend the lease of the runner's running jobs."""

    @abstractmethod
    def expired(
        self, now: int, *, exclude_runner: str | None = None, tenants: Sequence[str] = ()
    ) -> list[Job]:
        """Running jobs whose lease ended before ``now`` (their runner is gone).

        ``tenants``, when not empty, limits the answer to those tenants' jobs.
        """

    @abstractmethod
    def owned(self, runner: str) -> list[Job]:
        """The running jobs a runner holds."""

    @abstractmethod
    def statuses(self, keys: Sequence[JobKey]) -> dict[JobKey, tuple[JobStatus, int]]:
        """Current (status, attempts) of the given jobs that exist."""

    @abstractmethod
    def set_progress(self, updates: Sequence[ProgressUpdate]) -> None:
        """Record progress of running attempts (ignored for jobs no longer at that attempt)."""

    @abstractmethod
    def append_log(self, tenant: str, job_id: str, lines: Sequence[LogLine]) -> None:
        """Add lines to a job's log."""

    @abstractmethod
    def log(self, tenant: str, job_id: str) -> list[LogLine]:
        """The job's log lines in the order they were written."""

    @abstractmethod
    def artifacts(self, tenant: str, job_id: str) -> list[Artifact]:
        """The job's artifacts, by name."""
