"""/healthz and /readyz: liveness and readiness, open to probes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from twinops.api.deps import PlatformDep

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
    if any(state != "ok" for state in checks.values()):
        body = {"status": "unavailable", "checks": checks, "jobs": jobs}
        return JSONResponse(body, status_code=503)
    return {"status": "ok", "checks": checks, "jobs": jobs}
