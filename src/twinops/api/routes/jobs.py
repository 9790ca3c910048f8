"""/v1/jobs: submit scenario (and later calibration) jobs, follow them, fetch their artifacts."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Response
from fastapi.responses import PlainTextResponse, StreamingResponse

from twinops.api.deps import Operator, PlatformDep, Viewer
from twinops.api.routes.common import Cursor, Limit, json_response, page_body
from twinops.jobs.entities import JobStatus
from twinops.jobs.representation import (
    artifact_to_json,
    job_to_json,
    table_to_json,
    view_to_json,
)

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9_.-]")

SpecBody = Annotated[
    Any,
    Body(
        description=(
            'A job spec: `{"kind": ..., ...}` with the kind\'s own fields (a scenario spec for'
            " `scenario`), plus the job options `priority` (-100..100, higher runs first) and"
            " `timeoutSeconds`."
        ),
        examples=[{"kind": "scenario", "priority": 0, "timeoutSeconds": 600}],
    ),
]


@router.post("", status_code=202, operation_id="jobs-submit")
def submit_job(platform: PlatformDep, caller: Operator, body: SpecBody, response: Response) -> Any:
    """Queue a job: its spec is validated and its inputs snapshotted now; audited."""
    view = platform.jobs.submit(caller.tenant, body, actor=caller.actor, role=caller.role)
    response.headers["Location"] = f"/v1/jobs/{view.job.job_id}"
    return view_to_json(view)


@router.get("", operation_id="jobs-list")
def list_jobs(
    platform: PlatformDep,
    caller: Viewer,
    limit: Limit = 100,
    cursor: Cursor = None,
    status: Annotated[JobStatus | None, Query(description="only jobs in this status")] = None,
) -> Any:
    """The tenant's jobs, newest first."""
    page = platform.jobs.list_jobs(
        caller.tenant, status=None if status is None else str(status), limit=limit, after=cursor
    )
    return json_response(page_body(page.items, page.next, job_to_json))


@router.get("/{job_id}", operation_id="jobs-get")
def get_job(platform: PlatformDep, caller: Viewer, job_id: str) -> Any:
    """A job: status, progress, attempts, timings, error and output hashes."""
    return view_to_json(platform.jobs.get(caller.tenant, job_id))


@router.post("/{job_id}/cancel", operation_id="jobs-cancel")
def cancel_job(platform: PlatformDep, caller: Operator, job_id: str) -> Any:
    """Cancel a queued or running job (its worker is stopped); cancelling twice is harmless."""
    return view_to_json(platform.jobs.cancel(caller.tenant, job_id, actor=caller.actor))


@router.post("/{job_id}/reproduce", status_code=202, operation_id="jobs-reproduce")
def reproduce_job(platform: PlatformDep, caller: Operator, job_id: str, response: Response) -> Any:
    """Re-run a succeeded job from its stored spec and snapshot; the new job compares hashes."""
    view = platform.jobs.reproduce(caller.tenant, job_id, actor=caller.actor, role=caller.role)
    response.headers["Location"] = f"/v1/jobs/{view.job.job_id}"
    return view_to_json(view)


@router.get("/{job_id}/log", operation_id="jobs-log", response_class=PlainTextResponse)
def job_log(platform: PlatformDep, caller: Viewer, job_id: str) -> PlainTextResponse:
    """The job's log: the runner's steps and the model's output, tracebacks included."""
    return PlainTextResponse(platform.jobs.log_text(caller.tenant, job_id))


@router.get("/{job_id}/artifacts", operation_id="jobs-artifacts")
def list_artifacts(platform: PlatformDep, caller: Viewer, job_id: str) -> Any:
    """Everything stored for the job: inputs, outputs and records, with their sha256."""
    artifacts = platform.jobs.artifacts(caller.tenant, job_id)
    return {"data": [artifact_to_json(a) for a in artifacts]}


@router.get(
    "/{job_id}/artifacts/{name:path}",
    operation_id="jobs-artifact",
    response_class=Response,
    responses={200: {"description": "the artifact's bytes", "content": {"*/*": {}}}},
)
def get_artifact(platform: PlatformDep, caller: Viewer, job_id: str, name: str) -> Response:
    """Download one artifact (e.g. ``outputs/summary.json``, ``snapshot.json``)."""
    artifact, chunks = platform.jobs.artifact(caller.tenant, job_id, name)
    filename = _UNSAFE_FILENAME.sub("_", artifact.name.rsplit("/", 1)[-1])
    return StreamingResponse(
        chunks,
        media_type=artifact.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Content-Length": str(artifact.size),
            "ETag": f'"{artifact.sha256}"',
        },
    )


@router.get("/{job_id}/summary", operation_id="jobs-summary")
def job_summary(platform: PlatformDep, caller: Viewer, job_id: str) -> Any:
    """The summary output of a succeeded job."""
    return platform.jobs.summary(caller.tenant, job_id)


TableName = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,128}$", description="e.g. `series`")]


@router.get("/{job_id}/tables/{name}", operation_id="jobs-table")
def job_table(
    platform: PlatformDep,
    caller: Viewer,
    job_id: str,
    name: TableName,
    limit: Annotated[int, Query(ge=1, le=200_000, description="at most this many rows")] = 50_000,
) -> Response:
    """A result table (``outputs/<name>.parquet``) as JSON columns, for charts and browsers."""
    _, chunks = platform.jobs.artifact(caller.tenant, job_id, f"outputs/{name}.parquet")
    return json_response(table_to_json(b"".join(chunks), limit=limit))
