"""/v1/retention and the very-late flag, over the real app, by role and tenant."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from twinops.api import create_app
from twinops.demo import examples_dir
from twinops.models.dtdl import load_paths
from twinops.platform import Platform
from twinops.security.entities import Principal, Role

PUMP = "dtmi:twinops:example:Pump;1"
DAY = 86400


def ago(seconds: float) -> float:
    return time.time() - seconds


@pytest.fixture
def keys(platform: Platform) -> dict[Role, str]:
    tenant = platform.settings.default_tenant
    platform.models.upload(tenant, load_paths([examples_dir() / "models"]))
    platform.twins.put(tenant, "pump-1", {"$metadata": {"$model": PUMP}})
    root = Principal(tenant, "t", Role.ADMIN, None, "local")
    return {role: platform.security.create_key(root, name=str(role), role=role)[1] for role in Role}


@pytest.fixture
def client(platform: Platform, keys: dict[Role, str]) -> Iterator[TestClient]:
    headers = {"Authorization": f"Bearer {keys[Role.ADMIN]}"}
    with TestClient(create_app(platform), raise_server_exceptions=False, headers=headers) as http:
        yield http


def as_role(keys: dict[Role, str], role: Role) -> dict[str, str]:
    return {"Authorization": f"Bearer {keys[role]}"}


POLICIES = {
    "policies": [
        {"model": "*", "field": "*", "keep": "30d"},
        {"model": PUMP, "field": "flowRate", "keep": "2d"},
    ]
}


def test_a_modeler_sets_policies_and_a_viewer_reads_them(
    client: TestClient, keys: dict[Role, str]
) -> None:
    put = client.put("/v1/retention", json=POLICIES, headers=as_role(keys, Role.MODELER))
    assert put.status_code == 200, put.text
    got = client.get("/v1/retention", headers=as_role(keys, Role.VIEWER)).json()
    assert got == put.json()
    assert got["policies"][1] == {
        "model": PUMP,
        "field": "flowRate",
        "keep": "2d",
        "keepSeconds": 2 * DAY,
    }
    # What GET answers can be PUT back as it is.
    assert client.put("/v1/retention", json=got).json() == got


@pytest.mark.parametrize(
    ("method", "path", "role"),
    [
        ("PUT", "/v1/retention", Role.VIEWER),
        ("PUT", "/v1/retention", Role.OPERATOR),
        ("POST", "/v1/retention/apply", Role.MODELER),
    ],
)
def test_too_weak_roles_are_refused(
    client: TestClient, keys: dict[Role, str], method: str, path: str, role: Role
) -> None:
    response = client.request(method, path, json=POLICIES, headers=as_role(keys, role))
    assert response.status_code == 403
    assert client.get("/v1/retention").json() == {"policies": []}


def test_an_unknown_field_is_a_422_naming_the_field_and_rule(client: TestClient) -> None:
    body = {"policies": [{"keep": "30d"}, {"model": PUMP, "field": "flowRat", "keep": "2d"}]}
    response = client.put("/v1/retention", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    (error,) = response.json()["errors"]
    assert (error["field"], error["rule"], error["value"]) == (
        "policies[1].field",
        "fieldDefined",
        "flowRat",
    )
    short = client.put("/v1/retention", json=[{"keep": "10m"}]).json()["errors"][0]
    assert (short["field"], short["rule"]) == ("policies[0].keep", "minimum")
    assert client.get("/v1/retention").json() == {"policies": []}


def test_apply_deletes_old_history_and_answers_counts_per_field(
    client: TestClient, keys: dict[Role, str]
) -> None:
    points = [
        {"twin": "pump-1", "name": name, "value": float(i), "time": ago(age * DAY)}
        for name in ("flowRate", "speed")
        for i, age in enumerate((0.1, 1, 3, 10, 40))
    ]
    assert client.post("/v1/telemetry", json=points).json()["accepted"] == 10
    client.put("/v1/retention", json=POLICIES)
    run = client.post("/v1/retention/apply").json()
    assert run["deleted"] == {"flowRate": 3, "speed": 1} and run["total"] == 4
    history = client.get("/v1/twins/pump-1/history/flowRate").json()["data"]
    assert len(history) == 2
    state = client.get("/v1/twins/pump-1/state").json()["fields"]
    assert state["flowRate"]["value"] == 0.0
    actions = [r["action"] for r in client.get("/v1/audit").json()["data"]]
    assert actions[-2:] == ["RetentionPoliciesSet", "RetentionApplied"]


def test_another_tenant_sees_nothing_and_deletes_nothing_of_ours(
    client: TestClient, platform: Platform
) -> None:
    points = [{"twin": "pump-1", "name": "speed", "value": 1.0, "time": ago(40 * DAY)}]
    points.append({"twin": "pump-1", "name": "speed", "value": 2.0, "time": ago(60)})
    client.post("/v1/telemetry", json=points)
    client.put("/v1/retention", json=POLICIES)
    root = Principal(platform.settings.default_tenant, "t", Role.ADMIN, None, "local")
    _, their_key = platform.security.create_tenant(root, platform.settings.default_tenant + "-b")
    theirs = {"Authorization": f"Bearer {their_key}"}
    assert client.get("/v1/retention", headers=theirs).json() == {"policies": []}
    assert client.put("/v1/retention", json=[{"keep": "1h"}], headers=theirs).status_code == 200
    assert client.post("/v1/retention/apply", headers=theirs).json()["total"] == 0
    assert len(client.get("/v1/twins/pump-1/history/speed").json()["data"]) == 2
    assert client.get("/v1/retention").json() == client.put("/v1/retention", json=POLICIES).json()


def test_very_late_points_are_flagged_in_ingest_history_and_quality(client: TestClient) -> None:
    points = [
        {"twin": "pump-1", "name": "speed", "value": 1.0, "time": ago(3 * 3600)},
        {"twin": "pump-1", "name": "speed", "value": 2.0, "time": ago(5)},
    ]
    report = client.post("/v1/telemetry", json=points).json()
    assert (report["accepted"], report["late"], report["veryLate"]) == (2, 0, 1)
    history = client.get("/v1/twins/pump-1/history/speed").json()
    assert [p.get("flags") for p in history["data"]] == [["veryLate"], None]
    assert set(history) == {"data", "next"}
    (quality,) = client.get("/v1/quality", params={"twin": "pump-1"}).json()["data"]
    assert (quality["accepted"], quality["veryLate"]) == (2, 1)
