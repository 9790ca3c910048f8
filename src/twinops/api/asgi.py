"""The app factory uvicorn worker processes call: each builds its own platform from settings."""

from __future__ import annotations

import atexit

from fastapi import FastAPI

from twinops.api.app import create_app
from twinops.config import load_settings
from twinops.platform import Platform


def app_from_environment() -> FastAPI:
    """An app for settings read from ``TWINOPS_*`` variables (and ``TWINOPS_CONFIG``)."""
    platform = Platform.open(load_settings())
    atexit.register(platform.close)
    return create_app(platform)
