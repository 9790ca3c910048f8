"""The app factory uvicorn worker processes call: each builds its own platform from settings."""

from __future__ import annotations

import atexit

from fastapi import FastAPI

from twinops.api.app import create_app
from twinops.config import load_settings
from twinops.platform import Platform, configure_logging, freeze_startup_heap


def app_from_environment() -> FastAPI:
    """An app for settings read from ``TWINOPS_*`` variables (and ``TWINOPS_CONFIG``)."""
    settings = load_settings()
    configure_logging(settings)  # each worker process logs as the server does
    platform = Platform.open(settings)
    atexit.register(platform.close)
    app = create_app(platform)
    freeze_startup_heap()
    return app
