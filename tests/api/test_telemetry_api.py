"""The telemetry and state routes of the outer contract, over the real app."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
from fastapi.testclient import TestClient

from twinops.api import create_app
from twinops.demo import examples_dir
from twinops.models.dtdl import load_paths
from twinops.platform import Platform

PUMP = "dtmi:twinops:example:Pump;1"


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    tenant = platform.settings.default_tenant
    platform.models.upload(tenant, load_paths([examples_dir() / "models"]))
    platform.twins.put(tenant, "pump-1", {"$metadata": {"$model": PUMP}})
    key = platform.security.first_admin_key()
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(platform), raise_server_exceptions=False, headers=headers) as http:
        yield http


def test_json_batch_reports_accepted_duplicates_late_and_quarantined(client: TestClient) -> None:
    batch = [
        {
            "twin": "pump-1",
            "name": "flowRate",
            "value": 120.0,
            "time": "2026-01-01T00:00:10Z",
            "id": "a",
        },
        {
            "twin": "pump-1",
            "name": "flowRate",
            "value": 120.0,
            "time": "2026-01-01T00:00:10Z",
            "id": "a",
        },
        {"twin": "pump-1", "name": "flowRate", "value": 100.0, "time": "2026-01-01T00:00:05Z"},
        {
            "twin": "pump-1",
            "name": "dischargePressure",
            "value": 30.0,
            "time": 1767225610,
            "unit": "psi",
        },
        {"twin": "pump-1", "name": "flowRate", "value": "fast", "time": "2026-01-01T00:00:11Z"},
    ]
    report = client.post("/v1/telemetry", json=batch).json()
    assert {k: report[k] for k in ("accepted", "duplicates", "quarantined")} == {
        "accepted": 3,
        "duplicates": 1,
        "quarantined": 1,
    }
    late = client.post(
        "/v1/telemetry",
        json=[
            {"twin": "pump-1", "name": "flowRate", "value": 90.0, "time": "2026-01-01T00:00:01Z"}
        ],
    ).json()
    assert late["late"] == 1
    state = client.get("/v1/twins/pump-1/state").json()["fields"]
    assert state["flowRate"]["value"] == 120.0
    assert state["flowRate"]["time"] == "2026-01-01T00:00:10.000000Z"
    assert state["dischargePressure"]["value"] == pytest.approx(206.84, rel=1e-4)


def test_ndjson_lines_that_are_not_json_are_quarantined(client: TestClient) -> None:
    lines = [
        orjson.dumps({"twin": "pump-1", "name": "speed", "value": 1450.0, "time": 1767225600}),
        b"{not json",
    ]
    response = client.post(
        "/v1/telemetry", content=b"\n".join(lines), headers={"content-type": "application/x-ndjson"}
    )
    assert response.json()["accepted"] == 1 and response.json()["quarantined"] == 1
    quarantined = client.get("/v1/quarantine", params={"rule": "json"}).json()["data"]
    assert quarantined[0]["payload"]["line"] == "{not json"


def test_history_pages_with_cursor_in_event_time_order(client: TestClient) -> None:
    points = [
        {"twin": "pump-1", "name": "speed", "value": float(i), "time": 1767225600 + i}
        for i in reversed(range(25))
    ]
    client.post("/v1/telemetry", json=points)
    seen: list[float] = []
    url = "/v1/twins/pump-1/history/speed?limit=10"
    cursor = None
    while True:
        page = client.get(url + (f"&cursor={cursor}" if cursor else "")).json()
        seen.extend(p["value"] for p in page["data"])
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == [float(i) for i in range(25)]
    window = client.get(
        "/v1/twins/pump-1/history/speed",
        params={"start": "2026-01-01T00:00:05Z", "end": "2026-01-01T00:00:07Z"},
    ).json()["data"]
    assert [p["value"] for p in window] == [5.0, 6.0]


def test_state_as_of_and_windows(client: TestClient) -> None:
    points = [
        {"twin": "pump-1", "name": "speed", "value": float(i), "time": 1767225600 + i}
        for i in range(120)
    ]
    client.post("/v1/telemetry", json=points)
    then = client.get("/v1/twins/pump-1/state", params={"as_of": "2026-01-01T00:00:30Z"}).json()
    assert then["fields"]["speed"]["value"] == 30.0
    windows = client.get(
        "/v1/twins/pump-1/windows/speed",
        params={"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T00:02:00Z", "interval": 60},
    ).json()["data"]
    assert [(w["count"], w["min"], w["max"]) for w in windows] == [
        (60, 0.0, 59.0),
        (60, 60.0, 119.0),
    ]


def test_quality_and_replay(client: TestClient) -> None:
    client.post(
        "/v1/telemetry",
        json=[{"twin": "pump-2", "name": "speed", "value": 1.0, "time": 1767225600}],
    )
    entry = client.get("/v1/quarantine").json()["data"][0]
    assert entry["rule"] == "twinExists"
    client.put("/v1/twins/pump-2", json={"$metadata": {"$model": PUMP}})
    replay = client.post("/v1/quarantine/replay", json={"ids": [entry["id"]]}).json()
    assert replay["accepted"] == 1
    assert client.get("/v1/quarantine").json()["data"] == []
    quality = client.get("/v1/quality", params={"twin": "pump-2"}).json()["data"]
    by_source = {row["source"]: row for row in quality}
    assert by_source["replay"]["accepted"] == 1
    assert by_source["replay"]["freshnessSeconds"] is not None
    assert sum(row["quarantined"] for row in quality) == 1


def test_viewer_cannot_ingest(client: TestClient, platform: Platform) -> None:
    from twinops.security.entities import Principal, Role

    root = Principal(platform.settings.default_tenant, "t", Role.ADMIN, None, "local")
    _, viewer = platform.security.create_key(root, name="v", role=Role.VIEWER)
    response = client.post("/v1/telemetry", json=[], headers={"Authorization": f"Bearer {viewer}"})
    assert response.status_code == 403


def test_state_of_every_twin_a_query_selects_as_of_a_time(client: TestClient) -> None:
    client.put("/v1/twins/pump-2", json={"$metadata": {"$model": PUMP}})
    client.post(
        "/v1/telemetry",
        json=[
            {"twin": "pump-1", "name": "speed", "value": 1450.0, "time": "2026-01-01T00:00:00Z"},
            {"twin": "pump-1", "name": "speed", "value": 2950.0, "time": "2026-01-01T01:00:00Z"},
            {"twin": "pump-2", "name": "speed", "value": 1000.0, "time": "2026-01-01T00:30:00Z"},
        ],
    )
    query = f"SELECT T FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, '{PUMP}')"
    then = client.post(
        "/v1/state/query", json={"query": query, "asOf": "2026-01-01T00:45:00Z"}
    ).json()
    assert {row["twin"]: row["fields"]["speed"]["value"] for row in then["value"]} == {
        "pump-1": 1450.0,
        "pump-2": 1000.0,
    }
    now = client.post("/v1/state/query", json={"query": query}).json()["value"]
    assert {row["twin"]: row["fields"]["speed"]["value"] for row in now}["pump-1"] == 2950.0
    projected = client.post("/v1/state/query", json={"query": "SELECT COUNT() FROM DIGITALTWINS"})
    assert projected.status_code == 422


@pytest.mark.parametrize("text", ["²", "³", "-²", "١٢"])
def test_digits_int_refuses_are_client_errors_not_server_failures(
    client: TestClient, text: str
) -> None:
    """``str.isdigit`` takes superscripts, which ``int()`` refuses: each such path parameter
    is answered as a client error."""
    history = client.get("/v1/twins/pump-1/history/flowRate", params={"cursor": text})
    assert history.status_code == 422, history.text
    version = client.get(f"/v1/registry/models/pump/versions/{text}")
    assert version.status_code in {404, 422}, version.text
