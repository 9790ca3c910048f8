"""Under overload the ingest route answers 503 with Retry-After and takes nothing."""

from __future__ import annotations

import orjson
from fastapi.testclient import TestClient

from twinops.api import create_app
from twinops.demo import examples_dir
from twinops.models.dtdl import load_paths
from twinops.platform import Platform

PUMP = "dtmi:twinops:example:Pump;1"


def test_ingest_at_capacity_answers_503_with_retry_after_and_stores_nothing(
    platform: Platform,
) -> None:
    tenant = platform.settings.default_tenant
    platform.models.upload(tenant, load_paths([examples_dir() / "models"]))
    platform.twins.put(tenant, "pump-1", {"$metadata": {"$model": PUMP}})
    headers = {"Authorization": f"Bearer {platform.security.first_admin_key()}"}
    body = orjson.dumps([{"twin": "pump-1", "name": "speed", "value": 1, "time": 0}])
    with TestClient(create_app(platform), headers=headers) as http:
        # Another batch holds all the capacity, as a burst of large batches would.
        with platform.gate.admit(platform.settings.ingest_max_inflight_bytes):
            refused = http.post("/v1/telemetry", content=body)
        accepted = http.post("/v1/telemetry", content=body)
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "1"
    assert refused.json()["type"] == "urn:twinops:problem:overloaded"
    assert accepted.status_code == 200 and accepted.json()["accepted"] == 1
    page = platform.state.history(tenant, "pump-1", "speed", start=None, end=None, limit=10)
    assert len(page.items) == 1
