"""The FastAPI application, built around a platform (the composition root's product)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.routing import APIRoute

from twinops import __version__
from twinops.api.problems import install_problem_handlers
from twinops.api.routes import events, external_ids, health, models, query, relationships, twins
from twinops.platform import Platform


def _operation_id(route: APIRoute) -> str:
    return route.operation_id or f"{route.tags[0]}-{route.name}"


def create_app(platform: Platform) -> FastAPI:
    """An app serving ``platform``; routes are thin and call its services."""
    app = FastAPI(
        title="twinops",
        version=__version__,
        description="Digital twins: DTDL models, twin graph, queries and events.",
        generate_unique_id_function=_operation_id,
    )
    app.state.platform = platform
    install_problem_handlers(app)
    for router in (
        health.router,
        models.router,
        twins.router,
        relationships.router,
        external_ids.router,
        query.router,
        events.router,
    ):
        app.include_router(router)
    return app
