"""The app each uvicorn worker process builds for itself from the environment."""

from __future__ import annotations

import gc
import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from twinops.api.asgi import app_from_environment
from twinops.config import env_name
from twinops.ingest.units import default_converter


def test_worker_app_serves_the_configured_folder_with_its_startup_heap_frozen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(env_name("data_dir"), str(tmp_path / "data"))
    monkeypatch.setenv("TWINOPS_ADMIN_KEY", "worker-test-admin-key-0123456789")
    monkeypatch.setenv("TWINOPS_LOG_FORMAT", "text")
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    gc.unfreeze()
    try:
        app = app_from_environment()
        # Start-up objects are out of the collector's reach: full collections skip them.
        assert gc.get_freeze_count() > 10_000
        # The unit registry too: loaded at start-up, not by the first point with a unit.
        converter = default_converter()
        assert all(tracked is not converter for tracked in gc.get_objects())
        platform = app.state.platform
        assert platform.settings.data_dir == tmp_path / "data"
        headers = {"Authorization": "Bearer worker-test-admin-key-0123456789"}
        with TestClient(app, headers=headers) as http:
            assert http.get("/v1/twins/nowhere").status_code == 404
        platform.close()
    finally:
        gc.unfreeze()
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)  # the worker configured process-wide logging
        root.setLevel(level)
