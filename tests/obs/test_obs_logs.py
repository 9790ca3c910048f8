"""JSON logs carry request and job ids, and never a secret."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from obshelp import open_platform

from twinops.api import create_app
from twinops.config import Settings
from twinops.errors import InvalidInput
from twinops.obs import logs
from twinops.platform import configure_logging

MQTT_PASSWORD = "hunter2-broker-pw"
DB_PASSWORD = "pg-s3cret-pw"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """JSON logging into a buffer for the test; the root logger is restored after."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    stream = io.StringIO()
    yield stream
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_request_and_job_ids_in_json_lines_and_no_secrets(
    captured: io.StringIO, tmp_path: Path, tenant: str
) -> None:
    platform = open_platform(
        tmp_path,
        tenant,
        mqtt_url=f"mqtt://ingest:{MQTT_PASSWORD}@127.0.0.1:1883",
        access_log="all",
    )
    key = platform.security.first_admin_key()
    assert key is not None
    secrets = [key, platform.settings.mqtt_url]
    logs.configure("json", "INFO", secrets=secrets, stream=captured)
    platform.start_jobs()
    try:
        headers = {"Authorization": f"Bearer {key}"}
        with TestClient(create_app(platform), headers=headers) as http:
            answer = http.get("/v1/twins/pump-1", headers={"X-Request-ID": "req-obs-1"})
            assert answer.status_code == 200
            refused = http.get("/v1/twins/pump-1", headers={"Authorization": "Bearer leaked-ab"})
            assert refused.status_code == 401
            job_id = http.post("/v1/jobs", json={"kind": "test.echo"}).json()["id"]
            platform.jobs.wait(tenant, job_id, timeout=120)
            deadline = time.monotonic() + 10
            while job_id not in captured.getvalue():
                assert time.monotonic() < deadline
                time.sleep(0.05)
        # What careless code might log: URLs with passwords, headers, the settings, a key.
        noisy = logging.getLogger("twinops.test")
        noisy.warning("broker at %s", platform.settings.mqtt_url)
        noisy.warning("headers: {'authorization': 'Bearer %s'}", key)
        noisy.warning("database postgresql://app:%s@db/twinops", DB_PASSWORD)
        noisy.warning("settings: %r; key %s", platform.settings, key)
        try:
            raise RuntimeError(f"could not connect with api_key={key}")
        except RuntimeError:
            noisy.exception("failed")
    finally:
        platform.close()

    text = captured.getvalue()
    for secret in (key, MQTT_PASSWORD, DB_PASSWORD, "leaked-ab"):
        assert secret not in text
    records = lines(captured)
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    served = [r for r in records if r["logger"] == "twinops.http"]
    mine = [r for r in served if r.get("request_id") == "req-obs-1"]
    assert len(mine) == 1 and mine[0]["message"].startswith("GET /v1/twins/{twin_id} 200")
    assert all(len(r["request_id"]) > 0 for r in served)
    job_lines = [r for r in records if r.get("job_id") == job_id]
    assert any(r["logger"] == "twinops.jobs" and "succeeded" in r["message"] for r in job_lines)
    failed = next(r for r in records if r["message"] == "failed")
    assert "RuntimeError" in failed["exception"] and "***" in failed["exception"]


def test_configure_logging_refuses_an_unknown_format(captured: io.StringIO) -> None:
    with pytest.raises(InvalidInput):
        configure_logging(Settings(log_format="yaml"))


def test_configure_logging_refuses_an_unknown_access_log(captured: io.StringIO) -> None:
    with pytest.raises(InvalidInput) as refused:
        configure_logging(Settings(access_log="some"))
    assert refused.value.violations[0].field == "access_log"


@pytest.mark.parametrize(
    ("access_log", "slow_seconds", "logged"),
    [
        ("problems", 60.0, ["GET /v1/twins/{twin_id} 404"]),
        ("problems", 0.0, ["GET /v1/twins/{twin_id} 200", "GET /v1/twins/{twin_id} 404"]),
        ("all", 60.0, ["GET /v1/twins/{twin_id} 200", "GET /v1/twins/{twin_id} 404"]),
        ("off", 0.0, []),
    ],
)
def test_access_log_takes_problems_and_slow_requests_by_default(
    captured: io.StringIO,
    tmp_path: Path,
    tenant: str,
    access_log: str,
    slow_seconds: float,
    logged: list[str],
) -> None:
    platform = open_platform(
        tmp_path, tenant, access_log=access_log, slow_request_seconds=slow_seconds
    )
    logs.configure("json", "INFO", stream=captured)
    key = platform.security.first_admin_key()
    try:
        with TestClient(create_app(platform), headers={"Authorization": f"Bearer {key}"}) as http:
            assert http.get("/v1/twins/pump-1").status_code == 200
            assert http.get("/v1/twins/no-such-pump").status_code == 404
        assert platform.metrics.exposition().count(b'route="/v1/twins/{twin_id}"') >= 2
    finally:
        platform.close()
    served = [r["message"] for r in lines(captured) if r["logger"] == "twinops.http"]
    assert [" ".join(m.split()[:3]) for m in served] == logged


def test_auto_format_is_text_on_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert logs.resolve_format("auto", Terminal()) == "text"
    assert logs.resolve_format("auto", io.StringIO()) == "json"
    assert logs.resolve_format("text", io.StringIO()) == "text"


def test_redactor_masks_credentials() -> None:
    redact = logs.Redactor(["literal-secret-value"])
    assert redact("Authorization: Bearer abc.def") == "Authorization: ***"
    assert redact("send bearer tok_123") == "send bearer ***"
    assert redact("mqtts://user:pw@host:8883") == "mqtts://user:***@host:8883"
    assert redact("the literal-secret-value here") == "the *** here"
    assert redact("GET /v1/twins 200") == "GET /v1/twins 200"


def test_request_ids_from_callers_are_checked() -> None:
    assert logs.new_request_id("abc-123") == "abc-123"
    assert logs.new_request_id("x" * 129) != "x" * 129
    assert logs.new_request_id('a"b') != 'a"b'


def test_json_line_keeps_an_extra_too_big_for_a_64_bit_int(captured: io.StringIO) -> None:
    logs.configure("json", "INFO", stream=captured)
    logging.getLogger("twinops.test").info("big", extra={"huge": 2**70, "thing": object()})
    (entry,) = lines(captured)
    assert entry["huge"] == 2**70
    assert entry["thing"].startswith("<object object")


@pytest.mark.parametrize(
    "message",
    [
        "token=abc123",
        "Authorization: Bearer abc123",
        "postgresql://u:abc123@db/x",
        "PASSWORD: abc123",
    ],
)
def test_lines_with_credentials_are_masked_whatever_their_case(
    captured: io.StringIO, message: str
) -> None:
    logs.configure("json", "INFO", stream=captured)
    logging.getLogger("twinops.test").info(message)
    (entry,) = lines(captured)
    assert "abc123" not in entry["message"]
    assert logs.MASK in entry["message"]
