"""The wire form of jobs and their artifacts (camelCase keys, RFC 3339 times)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from twinops.jobs.entities import Artifact, Job, JobView, Reproduction
from twinops.timeutil import format_rfc3339


def _time(us: int | None) -> str | None:
    return None if us is None else format_rfc3339(us)


def job_to_json(job: Job) -> dict[str, Any]:
    """A job as listed: status, progress, attempts, timings, error."""
    return {
        "id": job.job_id,
        "kind": job.kind,
        "status": str(job.status),
        "priority": job.priority,
        "specSha256": job.spec_sha256,
        "progress": {
            "fraction": job.progress.fraction,
            "message": job.progress.message,
            "updatedAt": _time(job.progress.at),
        },
        "attempts": job.attempts,
        "maxAttempts": job.max_attempts,
        "timeoutSeconds": job.timeout_seconds,
        "submittedBy": job.submitted_by,
        "createdAt": _time(job.created_at),
        "startedAt": _time(job.started_at),
        "finishedAt": _time(job.finished_at),
        "retryAfter": _time(job.not_before) if job.not_before is not None else None,
        "error": job.error.to_json() if job.error is not None else None,
        "reproduces": job.reproduces,
    }


def reproduction_to_json(reproduction: Reproduction) -> dict[str, Any]:
    """How a reproduction's output hashes compare with the original's."""
    return {
        "of": reproduction.of,
        "finished": reproduction.finished,
        "matches": reproduction.matches,
        "differing": reproduction.differing,
        "outputs": [
            {
                "name": o.name,
                "original": o.original,
                "reproduced": o.reproduced,
                "matches": o.matches,
            }
            for o in reproduction.outputs
        ],
    }


def view_to_json(view: JobView) -> dict[str, Any]:
    """A job as ``GET /v1/jobs/{id}`` shows it: with its output hashes."""
    body = job_to_json(view.job)
    body["outputs"] = dict(view.outputs)
    if view.reproduction is not None:
        body["reproduction"] = reproduction_to_json(view.reproduction)
    return body


def artifact_to_json(artifact: Artifact) -> dict[str, Any]:
    """An artifact's name, role, hash, size and media type."""
    return {
        "name": artifact.name,
        "role": str(artifact.role),
        "sha256": artifact.sha256,
        "size": artifact.size,
        "mediaType": artifact.media_type,
    }


def _cell(value: Any) -> Any:
    """A table cell for JSON: times as RFC 3339, non-finite floats as null."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def table_to_json(parquet: bytes, *, limit: int) -> dict[str, Any]:
    """A Parquet result table as columns of JSON values (the first ``limit`` rows)."""
    import io

    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(parquet))
    rows = table.num_rows
    shown = table.slice(0, limit) if rows > limit else table
    columns = shown.to_pydict()
    return {
        "columns": list(columns),
        "rows": shown.num_rows,
        "totalRows": rows,
        "data": {name: [_cell(v) for v in values] for name, values in columns.items()},
    }
