"""The REST edge through the real app: status codes, ETags, problem documents, pagination."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from support import PUMP, pump, room, sample_models
from twinops.api import create_app
from twinops.platform import Platform


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    key = platform.security.first_admin_key()
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(platform), raise_server_exceptions=False, headers=headers) as http:
        yield http


@pytest.fixture
def loaded(client: TestClient) -> TestClient:
    assert client.post("/v1/models", json=sample_models()).status_code == 201
    return client


def is_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def test_validate_answers_valid_without_storing(client: TestClient) -> None:
    response = client.post("/v1/models/validate", json=sample_models())
    assert response.status_code == 200
    assert response.json()["valid"] is True
    assert client.get(f"/v1/models/{PUMP}").status_code == 404


def test_validate_names_document_element_and_rule(client: TestClient) -> None:
    bad = [{"@context": "dtmi:dtdl:context;3", "@id": "not-a-dtmi", "@type": "Interface"}]
    body = is_problem(client.post("/v1/models/validate", json=bad), 422)
    error = body["errors"][0]
    assert "body[0]" in error["field"] and error["rule"] and error["message"]


def test_upload_then_read_model(loaded: TestClient) -> None:
    model = loaded.get(f"/v1/models/{PUMP}").json()
    assert model["id"] == PUMP and model["model"]["@id"] == PUMP
    listed = loaded.get("/v1/models", params={"limit": 2}).json()
    assert len(listed["data"]) == 2 and listed["next"]
    rest = loaded.get("/v1/models", params={"limit": 10, "cursor": listed["next"]}).json()
    assert len(rest["data"]) == 3 and rest["next"] is None


def test_twin_lifecycle_with_etags(loaded: TestClient) -> None:
    created = loaded.put("/v1/twins/p1", json=pump(ratedFlow=1.0))
    assert created.status_code == 201
    etag = created.headers["ETag"]
    got = loaded.get("/v1/twins/p1")
    assert got.headers["ETag"] == etag
    assert got.json()["$metadata"]["$model"] == PUMP and got.json()["ratedFlow"] == 1.0
    patch = [{"op": "replace", "path": "/ratedFlow", "value": 2.0}]
    patched = loaded.patch("/v1/twins/p1", json=patch, headers={"If-Match": etag})
    assert patched.status_code == 200 and patched.json()["ratedFlow"] == 2.0
    stale = loaded.patch("/v1/twins/p1", json=patch, headers={"If-Match": etag})
    is_problem(stale, 412)
    assert loaded.delete("/v1/twins/p1", headers={"If-Match": etag}).status_code == 412
    assert loaded.delete("/v1/twins/p1").status_code == 204
    is_problem(loaded.get("/v1/twins/p1"), 404)


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("/v1/twins/p1", pump(ratedFlow="x"), 422, "/ratedFlow"),
        ("/v1/twins/p1", {"$metadata": {"$model": "dtmi:no:Such;1"}}, 422, "/$metadata/$model"),
        ("/v1/twins/p1", {"ratedFlow": 1}, 422, "/$metadata/$model"),
        ("/v1/twins/bad%20id", pump(), 422, "twinId"),
    ],
)
def test_bad_twin_bodies_get_problems_naming_the_field(
    loaded: TestClient, path: str, body: Any, status: int, field: str
) -> None:
    problem = is_problem(loaded.put(path, json=body), status)
    assert field in [e["field"] for e in problem["errors"]]


def test_malformed_json_is_a_400_problem(loaded: TestClient) -> None:
    response = loaded.put(
        "/v1/twins/p1", content=b'{"$metadata": ', headers={"content-type": "application/json"}
    )
    is_problem(response, 400)
    is_problem(
        loaded.post("/v1/models", content=b"[{]", headers={"content-type": "application/json"}),
        400,
    )


def test_relationship_to_wrong_model_is_rejected(loaded: TestClient) -> None:
    loaded.put("/v1/twins/room", json=room())
    loaded.put("/v1/twins/room2", json=room())
    loaded.put("/v1/twins/p1", json=pump())
    ok = loaded.put(
        "/v1/twins/room/relationships/r1", json={"$relationshipName": "contains", "$targetId": "p1"}
    )
    assert ok.status_code == 201 and ok.json()["$targetId"] == "p1"
    bad = loaded.put(
        "/v1/twins/room/relationships/r2",
        json={"$relationshipName": "contains", "$targetId": "room2"},
    )
    problem = is_problem(bad, 422)
    assert problem["errors"][0]["rule"] == "targetModel"
    listed = loaded.get("/v1/twins/room/relationships").json()
    assert [r["$relationshipId"] for r in listed["data"]] == ["r1"]
    incoming = loaded.get("/v1/twins/p1/incomingrelationships").json()
    assert incoming["data"][0]["$sourceId"] == "room"
    is_problem(loaded.delete("/v1/twins/p1"), 409)


def test_query_pages_with_continuation_tokens(loaded: TestClient) -> None:
    twins = [pump(**{"$dtId": f"p{i:02d}", "ratedFlow": float(i)}) for i in range(25)]
    assert loaded.post("/v1/import", json={"twins": twins}).status_code == 201
    seen: list[str] = []
    text = f"SELECT T FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, '{PUMP}') AND T.ratedFlow >= 5"
    token = None
    while True:
        page = loaded.post(
            "/v1/query",
            json={
                "query": text,
                "continuationToken": token,
                "pageSize": 7,
            },
        ).json()
        seen.extend(item["$dtId"] for item in page["value"])
        token = page["continuationToken"]
        if not token:
            break
    assert seen == [f"p{i:02d}" for i in range(5, 25)]
    count = loaded.post("/v1/query", json={"query": "SELECT COUNT() FROM DIGITALTWINS"}).json()
    assert count["value"] == [{"COUNT": 25}]


def test_bad_query_is_a_problem_not_a_crash(loaded: TestClient) -> None:
    problem = is_problem(loaded.post("/v1/query", json={"query": "SELEKT * FROM"}), 400)
    assert "line" in problem["detail"].lower() or "column" in problem["detail"].lower()


def test_events_stream_lists_changes_in_order(loaded: TestClient) -> None:
    loaded.put("/v1/twins/p1", json=pump())
    loaded.patch("/v1/twins/p1", json=[{"op": "add", "path": "/serial", "value": "S"}])
    events = loaded.get("/v1/events", params={"subject": "p1"}).json()["data"]
    assert [e["type"] for e in events] == ["TwinCreated", "TwinUpdated"]
    assert events[0]["seq"] < events[1]["seq"]


def test_events_are_filtered_by_type(loaded: TestClient) -> None:
    loaded.put("/v1/twins/p1", json=pump())
    loaded.patch("/v1/twins/p1", json=[{"op": "add", "path": "/serial", "value": "S"}])
    updated = loaded.get("/v1/events", params={"subject": "p1", "type": "TwinUpdated"})
    assert [e["type"] for e in updated.json()["data"]] == ["TwinUpdated"]
    both = loaded.get(
        "/v1/events", params=[("type", "TwinUpdated"), ("type", "TwinCreated"), ("order", "desc")]
    )
    assert [e["type"] for e in both.json()["data"] if e["subject"] == "p1"] == [
        "TwinUpdated",
        "TwinCreated",
    ]
    from twinops.sdk import Client

    sdk = Client(http=loaded)
    assert [e["type"] for e in sdk.events(subject="p1", types=["TwinCreated"])] == ["TwinCreated"]


def test_external_id_mapping_round_trip(loaded: TestClient) -> None:
    loaded.put("/v1/twins/p1", json=pump())
    assert loaded.put("/v1/externalids/scada/P.1", json={"twin": "p1"}).status_code == 200
    assert loaded.get("/v1/externalids/scada/P.1").json()["twin"] == "p1"
    mapped = loaded.get("/v1/twins/p1/externalids").json()["data"]
    assert mapped[0]["sourceId"] == "P.1"
    assert loaded.delete("/v1/externalids/scada/P.1").status_code == 204
    is_problem(loaded.get("/v1/externalids/scada/P.1"), 404)


def test_operation_ids_are_stable_and_unique(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    ids = [op["operationId"] for path in spec["paths"].values() for op in path.values()]
    assert len(ids) == len(set(ids))
    assert {"models-validate", "models-upload", "twins-put", "twins-patch", "query-run"} <= set(ids)


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/readyz").json()["checks"]["store"] == "ok"
