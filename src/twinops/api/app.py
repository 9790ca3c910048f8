"""The FastAPI application, built around a platform (the composition root's product)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.routing import APIRoute

from twinops import __version__
from twinops.api.auth import Authenticate
from twinops.api.limits import BodySizeLimit, RateLimiter
from twinops.api.problems import install_problem_handlers
from twinops.api.routes import (
    drift,
    events,
    export,
    external_ids,
    health,
    jobs,
    models,
    query,
    registry,
    relationships,
    retention,
    security,
    telemetry,
    twins,
)
from twinops.obs.asgi import ObserveRequests
from twinops.platform import Platform
from twinops.security.entities import Principal
from twinops.web.routes import console_routes


def _operation_id(route: APIRoute) -> str:
    return route.operation_id or f"{route.tags[0]}-{route.name}"


def create_app(platform: Platform, *, local_principal: Principal | None = None) -> FastAPI:
    """An app serving ``platform``; routes are thin and call its services.

    ``local_principal`` is for the CLI's in-process client only: whoever can open the data
    folder already holds everything in it, so requests without credentials act as it.
    """
    app = FastAPI(
        title="twinops",
        version=__version__,
        description="Digital twins: DTDL models, twin graph, queries and events.",
        generate_unique_id_function=_operation_id,
    )
    app.state.platform = platform
    settings = platform.settings
    install_problem_handlers(app)
    # Added last, so it runs first: callers are authenticated before bodies are even counted.
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(
        Authenticate,
        security=platform.security,
        limiter=RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst),
        local_principal=local_principal,
    )
    # Outermost: request id, server span and latency by route for every answer, 401s included.
    app.add_middleware(
        ObserveRequests,
        metrics=platform.metrics,
        access_log=settings.access_log,
        slow_seconds=settings.slow_request_seconds,
    )
    # FastAPI tries routes in order: the twin and telemetry reads, the hottest, come first.
    for router in (
        twins.router,
        telemetry.router,
        health.router,
        models.router,
        relationships.router,
        external_ids.router,
        query.router,
        events.router,
        security.router,
        retention.router,
        export.router,
        jobs.router,
        registry.router,
        drift.router,
    ):
        app.include_router(router)
    app.router.routes.extend(console_routes())  # the browser console at / (open, no data)
    return app
