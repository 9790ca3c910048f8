"""The Python client for a twinops server."""

from twinops.sdk.client import ApiError, Client

__all__ = ["ApiError", "Client"]
