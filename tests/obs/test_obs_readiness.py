"""/readyz answers 503 naming the dependency that is down: the broker, the executor."""

from __future__ import annotations

import socket
from pathlib import Path

from fastapi.testclient import TestClient
from obshelp import open_platform

from twinops.api import create_app


def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_unreachable_broker_makes_readyz_503(tmp_path: Path, tenant: str) -> None:
    platform = open_platform(tmp_path, tenant, mqtt_url=f"mqtt://127.0.0.1:{closed_port()}")
    try:
        platform.start_mqtt()
        with TestClient(create_app(platform)) as http:
            ready = http.get("/readyz")
        assert ready.status_code == 503
        body = ready.json()
        assert body["failed"] == ["broker"]
        assert body["checks"] == {"store": "ok", "broker": "disconnected"}
    finally:
        platform.close()


def test_closed_executor_makes_readyz_503(tmp_path: Path, tenant: str) -> None:
    platform = open_platform(tmp_path, tenant)
    try:
        platform.start_jobs()
        runner = platform.jobs.runner
        assert runner is not None
        with TestClient(create_app(platform)) as http:
            ready = http.get("/readyz")
            assert ready.status_code == 200, ready.json()
            assert ready.json()["checks"] == {"store": "ok", "jobs": "ok", "executor": "ok"}
            runner.executor.close()  # every worker process gone
            down = http.get("/readyz")
        assert down.status_code == 503
        assert down.json()["failed"] == ["executor"]
        assert down.json()["checks"]["executor"] == "closed"
    finally:
        platform.close()


def test_broken_store_is_named(tmp_path: Path, tenant: str) -> None:
    platform = open_platform(tmp_path, tenant)
    try:
        with TestClient(create_app(platform)) as http:
            assert http.get("/readyz").status_code == 200
            platform.db.dispose()
            database = tmp_path / "data" / "twinops.db"
            for leftover in database.parent.glob("twinops.db-*"):
                leftover.unlink()
            database.write_bytes(b"this is not a database" * 512)
            down = http.get("/readyz")
        assert down.status_code == 503
        assert down.json()["failed"] == ["store"]
        assert down.json()["checks"]["store"] == "DatabaseError"
    finally:
        platform.close()
