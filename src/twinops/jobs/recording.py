"""Recording what became of an attempt: artifacts, status, log and audit in one transaction.

Every outcome is a compare-and-set from ``running`` at the attempt the runner started, so an
outcome that arrives after a cancel (or after the job was re-queued elsewhere) changes
nothing and answers None.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from twinops.jobs.artifacts import ArtifactStore
from twinops.jobs.canonical import canonical_json
from twinops.jobs.entities import (
    Artifact,
    ArtifactRole,
    ErrorKind,
    Job,
    JobError,
    JobStatus,
    LogLine,
)
from twinops.jobs.store import JobStore, Move
from twinops.jobs.worker import JSON, EncodedOutput, Succeeded
from twinops.security.entities import AuditEntry
from twinops.timeutil import Clock, format_rfc3339

RUNNER_ACTOR = "system:jobs"
TEXT = "text/plain; charset=utf-8"


def render_log(lines: Sequence[LogLine]) -> str:
    """A job's log as text: one stamped line per entry, worker output indented below."""
    out: list[str] = []
    for line in lines:
        stamp = f"{format_rfc3339(line.at)} [attempt {line.attempt}] {line.source}:"
        if "\n" in line.message.rstrip("\n"):
            out.append(stamp)
            out.extend(f"  {text}" for text in line.message.rstrip("\n").splitlines())
        else:
            out.append(f"{stamp} {line.message.rstrip()}")
    return "\n".join(out) + ("\n" if out else "")


class Recorder:
    """Writes outcomes: succeeded, failed, lost (retried with backoff or failed), given back."""

    def __init__(
        self,
        store: JobStore,
        artifacts: ArtifactStore,
        clock: Clock,
        *,
        retry_backoff_seconds: float,
    ) -> None:
        self._store = store
        self._artifacts = artifacts
        self._clock = clock
        self._backoff_us = int(retry_backoff_seconds * 1_000_000)

    def put(self, name: str, data: bytes, media_type: str, role: ArtifactRole) -> Artifact:
        """Store content and describe it as the named artifact."""
        return Artifact(name, self._artifacts.put(data), len(data), media_type, role)

    def _output(self, output: EncodedOutput) -> Artifact:
        """An output the worker sent (stored here) or already stored (checked it is there)."""
        if output.data:
            return self.put(output.name, output.data, output.media_type, ArtifactRole.OUTPUT)
        if not self._artifacts.has(output.sha256):
            raise FileNotFoundError(f"the worker's output {output.name} is not in the store")
        return Artifact(
            output.name, output.sha256, output.size, output.media_type, ArtifactRole.OUTPUT
        )

    def line(self, job: Job, message: str, *, source: str = "runner") -> LogLine:
        """A log line about ``job``'s current attempt, stamped now."""
        return LogLine(self._clock(), job.attempts, source, message)

    def succeed(
        self, job: Job, result: Succeeded, *, executor: str, wall_seconds: float
    ) -> Job | None:
        """The attempt succeeded: store its outputs and records, mark the job succeeded."""
        outputs = [self._output(o) for o in result.outputs]
        metrics = {
            **result.metrics,
            "attempts": job.attempts,
            "executor": executor,
            "wallSeconds": round(wall_seconds, 6),
        }
        if job.started_at is not None:
            metrics["queuedSeconds"] = round((job.started_at - job.created_at) / 1e6, 6)
        records = [
            self.put(
                "packages.json", canonical_json(dict(result.packages)), JSON, ArtifactRole.RECORD
            ),
            self.put("metrics.json", canonical_json(metrics, "metrics"), JSON, ArtifactRole.RECORD),
        ]
        if result.model is not None:
            records.append(
                self.put(
                    "model.json", canonical_json(dict(result.model)), JSON, ArtifactRole.RECORD
                )
            )
        lines = self._worker_lines(job, result.log)
        lines.append(
            self.line(job, f"succeeded in {wall_seconds:.3f} s on the {executor} executor")
        )
        hashes = {a.name: a.sha256 for a in outputs}
        return self._finish(
            job, JobStatus.SUCCEEDED, lines, outputs + records, "JobSucceeded", {"outputs": hashes}
        )

    def fail(
        self,
        job: Job,
        error: JobError,
        *,
        worker_log: str = "",
        traceback: str = "",
        packages: Mapping[str, str] | None = None,
    ) -> Job | None:
        """The job failed for good: record why, with the model's traceback when there is one."""
        lines = self._worker_lines(job, worker_log)
        if traceback:
            lines.append(self.line(job, traceback, source="worker"))
        lines.append(self.line(job, f"failed ({error.kind}): {error.message}"))
        records = []
        if packages is not None:
            records.append(
                self.put("packages.json", canonical_json(dict(packages)), JSON, ArtifactRole.RECORD)
            )
        return self._finish(
            job, JobStatus.FAILED, lines, records, "JobFailed", {"error": error.to_json()}, error
        )

    def lost(self, job: Job, reason: str) -> Job | None:
        """The attempt was lost to the infrastructure: retry after a backoff, or fail."""
        if job.attempts >= job.max_attempts:
            message = f"{reason}; gave up after {job.attempts} attempt(s)"
            return self.fail(job, JobError(ErrorKind.INFRASTRUCTURE, message))
        now = self._clock()
        delay = self._backoff_us * 2 ** max(0, job.attempts - 1)
        note = f"attempt {job.attempts} lost: {reason}; retrying in {delay / 1e6:g} s"
        return self._store.move(
            Move(
                job.tenant,
                job.job_id,
                JobStatus.RUNNING,
                JobStatus.QUEUED,
                now,
                attempt=job.attempts,
                error=JobError(ErrorKind.INFRASTRUCTURE, reason),
                not_before=now + delay,
            ),
            log=[self.line(job, note)],
        )

    def give_back(self, job: Job, reason: str) -> Job | None:
        """Re-queue a running job this server is letting go of, without using an attempt."""
        now = self._clock()
        return self._store.move(
            Move(
                job.tenant,
                job.job_id,
                JobStatus.RUNNING,
                JobStatus.QUEUED,
                now,
                attempt=job.attempts,
                attempts=max(0, job.attempts - 1),
            ),
            log=[self.line(job, f"{reason}; re-queued (the attempt does not count)")],
        )

    def _worker_lines(self, job: Job, text: str) -> list[LogLine]:
        return [self.line(job, text, source="worker")] if text.strip() else []

    def _finish(
        self,
        job: Job,
        status: JobStatus,
        lines: list[LogLine],
        artifacts: list[Artifact],
        action: str,
        details: dict[str, Any],
        error: JobError | None = None,
    ) -> Job | None:
        now = self._clock()
        text = render_log([*self._store.log(job.tenant, job.job_id), *lines])
        artifacts.append(self.put("log.txt", text.encode(), TEXT, ArtifactRole.RECORD))
        audit = AuditEntry(
            job.tenant,
            RUNNER_ACTOR,
            action,
            job.job_id,
            now,
            {"kind": job.kind, "specSha256": job.spec_sha256, "attempts": job.attempts, **details},
        )
        move = Move(
            job.tenant,
            job.job_id,
            JobStatus.RUNNING,
            status,
            now,
            attempt=job.attempts,
            error=error,
        )
        return self._store.move(move, audit=audit, artifacts=artifacts, log=lines)
