"""The app factory uvicorn worker processes call: each builds its own platform from settings."""

from __future__ import annotations

import atexit
import gc

from fastapi import FastAPI

from twinops.api.app import create_app
from twinops.config import load_settings
from twinops.ingest.units import default_converter
from twinops.platform import Platform, configure_logging


def app_from_environment() -> FastAPI:
    """An app for settings read from ``TWINOPS_*`` variables (and ``TWINOPS_CONFIG``)."""
    settings = load_settings()
    configure_logging(settings)  # each worker process logs as the server does
    platform = Platform.open(settings)
    atexit.register(platform.close)
    app = create_app(platform)
    freeze_startup_heap()
    return app


def freeze_startup_heap() -> None:
    """Move what start-up made (modules, models, the app) out of the collector's sight.

    Those objects live as long as the process; without this every full collection walks all
    of them again, a pause of tens of milliseconds in the middle of requests. Ingest makes
    tens of thousands of objects a batch, so full collections come every few batches: walking
    the heap was a third of ingest's time. The unit registry (pint: hundreds of thousands of
    objects) is loaded here for that reason, instead of by the first point with a unit.
    """
    default_converter()
    gc.collect()
    gc.freeze()
