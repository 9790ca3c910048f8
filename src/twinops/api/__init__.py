"""The REST edge: FastAPI routes that parse, call one service function, and map the result."""

from twinops.api.app import create_app

__all__ = ["create_app"]
