"""/healthz and /readyz: liveness and readiness, open to probes; /metrics for Prometheus."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from twinops.api.deps import PlatformDep
from twinops.errors import Forbidden
from twinops.obs.metrics import CONTENT_TYPE
from twinops.platform import Platform
from twinops.security.entities import Role

router = APIRouter(tags=["health"])


@router.get("/healthz", operation_id="health-live")
def live() -> Any:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", operation_id="health-ready")
def ready(platform: PlatformDep) -> Any:
    """The process can serve: its store, broker and job runner (where they run) are up."""
    checks: dict[str, str] = {}
    try:
        with platform.db.read() as conn:
            conn.execute(text("SELECT 1"))
        checks["store"] = "ok"
    except Exception as exc:  # a probe reports any failure rather than raising
        checks["store"] = type(exc).__name__
    if platform.mqtt is not None:
        checks["broker"] = "ok" if platform.mqtt.connected else "disconnected"
    jobs = platform.jobs.describe()
    if platform.jobs.runner is not None:
        checks["jobs"] = "ok" if platform.jobs.runner.alive else "stopped"
        checks["executor"] = platform.jobs.runner.executor.problem() or "ok"
    failed = sorted(name for name, state in checks.items() if state != "ok")
    if failed:
        body = {"status": "unavailable", "failed": failed, "checks": checks, "jobs": jobs}
        return JSONResponse(body, status_code=503)
    return {"status": "ok", "checks": checks, "jobs": jobs}


async def metrics(request: Request) -> Response:
    """The Prometheus exposition of this process; a viewer's key when metrics_require_auth.

    A plain route (not in the OpenAPI document): its body is the Prometheus text format.
    """
    platform: Platform = request.app.state.platform
    if platform.settings.metrics_require_auth:
        header = request.headers.get("authorization")
        principal = await run_in_threadpool(platform.security.authenticate, header)
        if not principal.role.allows(Role.VIEWER):
            raise Forbidden(f"metrics need the viewer role; the caller is a {principal.role}")
    # Off the event loop: a scrape counts the job queue in the database.
    body = await run_in_threadpool(platform.metrics.exposition)
    return Response(body, media_type=CONTENT_TYPE)


router.add_route("/metrics", metrics, methods=["GET"], include_in_schema=False)
