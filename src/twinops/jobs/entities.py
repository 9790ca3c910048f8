"""Job entities: the lifecycle (a status enum plus its transition table), jobs, artifacts.

No I/O here. A status changes only through :func:`check_transition`, which refuses any move
the table does not list with a reason naming both ends::

    submitted ──> queued ──> running ──> succeeded
        │           │  ^        │
        │           │  └────────┤ (infrastructure failure: retried with backoff)
        │           v           v
        └──────> cancelled    failed / cancelled
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from twinops.errors import Conflict


class JobStatus(StrEnum):
    """Where a job is in its life."""

    SUBMITTED = "submitted"  # accepted by the API, being validated and snapshotted
    QUEUED = "queued"  # stored with its inputs, waiting for a worker
    RUNNING = "running"  # an attempt is on a worker
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        """True once the job can no longer change."""
        return self in _TERMINAL


_TERMINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})

TRANSITIONS: Mapping[JobStatus, frozenset[JobStatus]] = {
    JobStatus.SUBMITTED: frozenset({JobStatus.QUEUED, JobStatus.FAILED, JobStatus.CANCELLED}),
    JobStatus.QUEUED: frozenset({JobStatus.RUNNING, JobStatus.CANCELLED}),
    # Back to queued: the attempt was lost to an infrastructure failure and will be retried.
    JobStatus.RUNNING: frozenset(
        {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.QUEUED}
    ),
    JobStatus.SUCCEEDED: frozenset(),
    JobStatus.FAILED: frozenset(),
    JobStatus.CANCELLED: frozenset(),
}


class TransitionRefused(Conflict):
    """A status change the transition table does not allow (HTTP 409)."""

    def __init__(self, job_id: str, source: JobStatus, target: JobStatus, reason: str) -> None:
        super().__init__(f"job {job_id} cannot go from {source} to {target}: {reason}")
        self.job_id = job_id
        self.source = source
        self.target = target
        self.reason = reason


def refusal_reason(source: JobStatus, target: JobStatus) -> str | None:
    """Why ``source -> target`` is not allowed, or None when the table allows it."""
    if target in TRANSITIONS[source]:
        return None
    if source.terminal:
        return f"a {source} job is finished and does not change"
    if source == target:
        return f"the job is already {source}"
    if target in (JobStatus.SUCCEEDED, JobStatus.FAILED) and source == JobStatus.QUEUED:
        return "only a running job can finish"
    if target == JobStatus.RUNNING:
        return "only a queued job can start"
    allowed = ", ".join(sorted(TRANSITIONS[source]))
    return f"from {source} a job may only go to {allowed}"


def check_transition(job_id: str, source: JobStatus, target: JobStatus) -> None:
    """Raise :class:`TransitionRefused` unless the table allows ``source -> target``."""
    reason = refusal_reason(source, target)
    if reason is not None:
        raise TransitionRefused(job_id, source, target, reason)


class ErrorKind(StrEnum):
    """Why a job failed; only infrastructure failures are retried."""

    MODEL = "model"  # the model raised: its traceback is in the job log
    TIMEOUT = "timeout"  # no result within the job's timeout; the worker was killed
    INFRASTRUCTURE = "infrastructure"  # worker killed or lost, server crashed, attempts used up
    UNAVAILABLE = "unavailable"  # this server cannot run the job's kind


@dataclass(frozen=True)
class JobError:
    """Why a job failed (or why its last attempt was lost)."""

    kind: ErrorKind
    message: str
    type: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The error as stored and shown."""
        return {"kind": str(self.kind), "type": self.type, "message": self.message}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> JobError:
        """The error from its stored form."""
        return cls(ErrorKind(raw["kind"]), str(raw.get("message", "")), raw.get("type"))


@dataclass(frozen=True)
class Progress:
    """How far a running job is, as its model last reported (fraction 0..1 and a message)."""

    fraction: float = 0.0
    message: str = ""
    at: int | None = None


@dataclass(frozen=True)
class Job:
    """A stored job. Times are epoch microseconds."""

    tenant: str
    job_id: str
    kind: str
    status: JobStatus
    priority: int
    spec_sha256: str
    snapshot_sha256: str
    created_at: int
    submitted_by: str
    timeout_seconds: float
    max_attempts: int
    attempts: int = 0
    progress: Progress = field(default_factory=Progress)
    started_at: int | None = None
    finished_at: int | None = None
    not_before: int | None = None
    error: JobError | None = None
    runner: str | None = None
    lease_until: int | None = None
    reproduces: str | None = None
    traceparent: str | None = None  # the submit's W3C trace context: the run continues it


class ArtifactRole(StrEnum):
    """What an artifact is to its job; reproduction compares the outputs only."""

    INPUT = "input"  # the canonical spec, the input snapshot, the seeds
    OUTPUT = "output"  # tables and summary: what reproduction compares
    RECORD = "record"  # model record, package versions, metrics, log


@dataclass(frozen=True)
class Artifact:
    """A job's named artifact: content-addressed bytes in the artifact store."""

    name: str
    sha256: str
    size: int
    media_type: str
    role: ArtifactRole


@dataclass(frozen=True)
class LogLine:
    """One line of a job's log: what the runner did, or what a worker printed."""

    at: int
    attempt: int
    source: str  # "runner" or "worker"
    message: str


@dataclass(frozen=True)
class OutputComparison:
    """One output of a reproduction against the original's."""

    name: str
    original: str | None
    reproduced: str | None

    @property
    def matches(self) -> bool:
        """Both runs produced this output with the same hash."""
        return self.original is not None and self.original == self.reproduced


@dataclass(frozen=True)
class Reproduction:
    """How a reproduction's outputs compare with the job it re-ran."""

    of: str
    outputs: tuple[OutputComparison, ...]
    finished: bool

    @property
    def matches(self) -> bool | None:
        """True when every output hash matches; None until the reproduction has finished."""
        if not self.finished:
            return None
        return bool(self.outputs) and all(o.matches for o in self.outputs)

    @property
    def differing(self) -> list[str]:
        """The names of the outputs whose hashes differ (or exist on one side only)."""
        return [o.name for o in self.outputs if not o.matches]


@dataclass(frozen=True)
class JobView:
    """A job as the API shows it: the row, its output hashes, and a reproduction's verdict."""

    job: Job
    outputs: Mapping[str, str] = field(default_factory=dict)
    reproduction: Reproduction | None = None
