"""/v1/jobs over HTTP (in process): submit, follow, cancel, artifacts, tenant isolation."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from jobhelp import MakePlatform

from twinops.api import create_app
from twinops.platform import Platform
from twinops.security.entities import Principal, Role


@dataclass
class Api:
    platform: Platform
    http: TestClient
    keys: dict[Role, dict[str, str]]
    other_tenant: dict[str, str]

    def as_(self, role: Role) -> dict[str, str]:
        return self.keys[role]

    def wait(self, job_id: str, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            job: dict[str, Any] = self.http.get(
                f"/v1/jobs/{job_id}", headers=self.as_(Role.VIEWER)
            ).json()
            if job["status"] in ("succeeded", "failed", "cancelled"):
                return job
            assert time.monotonic() < deadline, job
            time.sleep(0.05)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _api(make_platform: MakePlatform, tenant: str, *, start: bool) -> Iterator[Api]:
    platform = make_platform(start=start)
    root = Principal(tenant, "test", Role.ADMIN, None, "local")
    keys = {
        role: bearer(platform.security.create_key(root, name=str(role), role=role)[1])
        for role in Role
    }
    _, other_key = platform.security.create_tenant(root, f"{tenant}-other")
    with TestClient(create_app(platform), raise_server_exceptions=False) as http:
        yield Api(platform, http, keys, bearer(other_key))


@pytest.fixture
def api(make_platform: MakePlatform, tenant: str) -> Iterator[Api]:
    """The app on a platform that runs its jobs."""
    yield from _api(make_platform, tenant, start=True)


@pytest.fixture
def idle_api(make_platform: MakePlatform, tenant: str) -> Iterator[Api]:
    """The app on a platform that only queues jobs (no worker processes to start)."""
    yield from _api(make_platform, tenant, start=False)


def test_submit_answers_202_and_the_job_can_be_followed(api: Api) -> None:
    response = api.http.post(
        "/v1/jobs", json={"kind": "test.echo", "seed": 4}, headers=api.as_(Role.OPERATOR)
    )
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["status"] == "queued" and job["kind"] == "test.echo"
    assert response.headers["location"] == f"/v1/jobs/{job['id']}"
    assert len(job["specSha256"]) == 64 and job["submittedBy"].startswith("key:")
    done = api.wait(job["id"])
    assert done["status"] == "succeeded" and done["attempts"] == 1
    assert done["progress"]["fraction"] == 1.0
    assert set(done["outputs"]) == {"outputs/summary.json", "outputs/values.parquet"}
    assert done["startedAt"] <= done["finishedAt"] and done["error"] is None


def test_artifacts_log_and_summary_are_readable(api: Api) -> None:
    viewer = api.as_(Role.VIEWER)
    job = api.http.post(
        "/v1/jobs", json={"kind": "test.echo", "rows": 3}, headers=api.as_(Role.OPERATOR)
    ).json()
    done = api.wait(job["id"])
    listed = api.http.get(f"/v1/jobs/{job['id']}/artifacts", headers=viewer).json()["data"]
    by_name = {a["name"]: a for a in listed}
    assert by_name["outputs/values.parquet"]["role"] == "output"
    assert by_name["spec.json"]["role"] == "input" and by_name["log.txt"]["role"] == "record"
    download = api.http.get(f"/v1/jobs/{job['id']}/artifacts/outputs/summary.json", headers=viewer)
    assert download.status_code == 200
    assert hashlib.sha256(download.content).hexdigest() == done["outputs"]["outputs/summary.json"]
    assert download.headers["etag"] == f'"{done["outputs"]["outputs/summary.json"]}"'
    summary = api.http.get(f"/v1/jobs/{job['id']}/summary", headers=viewer)
    assert summary.json()["rows"] == 3
    log = api.http.get(f"/v1/jobs/{job['id']}/log", headers=viewer)
    assert log.headers["content-type"].startswith("text/plain") and "succeeded" in log.text
    missing = api.http.get(f"/v1/jobs/{job['id']}/artifacts/nope.json", headers=viewer)
    assert missing.status_code == 404


def test_listing_filters_by_status_and_pages(idle_api: Api) -> None:
    api = idle_api
    operator = api.as_(Role.OPERATOR)
    ids = [
        api.http.post("/v1/jobs", json={"kind": "test.echo"}, headers=operator).json()["id"]
        for _ in range(3)
    ]
    api.http.post(f"/v1/jobs/{ids[0]}/cancel", headers=operator)
    first = api.http.get("/v1/jobs?limit=2", headers=api.as_(Role.VIEWER)).json()
    assert len(first["data"]) == 2 and first["next"]
    rest = api.http.get(
        "/v1/jobs", params={"limit": 2, "cursor": first["next"]}, headers=api.as_(Role.VIEWER)
    ).json()
    assert [j["id"] for j in first["data"] + rest["data"]] == ids[::-1] and rest["next"] is None
    queued = api.http.get("/v1/jobs?status=queued", headers=api.as_(Role.VIEWER)).json()["data"]
    assert {j["id"] for j in queued} == set(ids[1:])
    bad = api.http.get("/v1/jobs?status=exploded", headers=api.as_(Role.VIEWER))
    assert bad.status_code == 422


def test_cancel_over_http(api: Api) -> None:
    operator = api.as_(Role.OPERATOR)
    job = api.http.post(
        "/v1/jobs", json={"kind": "test.sleep", "seconds": 30}, headers=operator
    ).json()
    cancelled = api.http.post(f"/v1/jobs/{job['id']}/cancel", headers=operator)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = api.http.post(f"/v1/jobs/{job['id']}/cancel", headers=operator)
    assert again.status_code == 200 and again.json()["status"] == "cancelled"


def test_a_finished_job_refuses_cancel_with_409_naming_both_states(api: Api) -> None:
    operator = api.as_(Role.OPERATOR)
    job = api.http.post("/v1/jobs", json={"kind": "test.echo"}, headers=operator).json()
    api.wait(job["id"])
    refused = api.http.post(f"/v1/jobs/{job['id']}/cancel", headers=operator)
    assert refused.status_code == 409
    assert "from succeeded to cancelled" in refused.json()["detail"]


def test_reproduce_over_http(api: Api) -> None:
    operator = api.as_(Role.OPERATOR)
    job = api.http.post("/v1/jobs", json={"kind": "test.echo", "seed": 8}, headers=operator).json()
    api.wait(job["id"])
    rerun = api.http.post(f"/v1/jobs/{job['id']}/reproduce", headers=operator)
    assert rerun.status_code == 202
    done = api.wait(rerun.json()["id"])
    assert done["reproduces"] == job["id"]
    assert done["reproduction"]["matches"] is True and done["reproduction"]["differing"] == []


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        ([1, 2], "body", "type"),
        ({"seed": 1}, "kind", "required"),
        ({"kind": "nope"}, "kind", "knownKind"),
        ({"kind": "test.echo", "priority": 1000}, "priority", "range"),
        ({"kind": "test.echo", "priority": True}, "priority", "range"),
        ({"kind": "test.echo", "timeoutSeconds": 10**9}, "timeoutSeconds", "range"),
        ({"kind": "test.echo", "rows": -1}, "rows", "range"),
        ({"kind": "test.echo", "speed": 3}, "speed", "known"),
    ],
)
def test_a_bad_spec_is_a_422_naming_field_and_rule(
    idle_api: Api, body: Any, field: str, rule: str
) -> None:
    api = idle_api
    response = api.http.post("/v1/jobs", json=body, headers=api.as_(Role.OPERATOR))
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["errors"][0]["field"] == field and problem["errors"][0]["rule"] == rule
    assert api.http.get("/v1/jobs", headers=api.as_(Role.VIEWER)).json()["data"] == []


def test_an_incomplete_scenario_spec_is_refused_before_anything_is_stored(idle_api: Api) -> None:
    api = idle_api
    response = api.http.post("/v1/jobs", json={"kind": "what-if"}, headers=api.as_(Role.OPERATOR))
    assert response.status_code == 422, response.text
    assert api.http.get("/v1/jobs", headers=api.as_(Role.VIEWER)).json()["data"] == []


def test_a_viewer_cannot_submit(idle_api: Api) -> None:
    api = idle_api
    response = api.http.post("/v1/jobs", json={"kind": "test.echo"}, headers=api.as_(Role.VIEWER))
    assert response.status_code == 403


def test_another_tenants_job_is_not_found(api: Api) -> None:
    operator = api.as_(Role.OPERATOR)
    job = api.http.post("/v1/jobs", json={"kind": "test.echo"}, headers=operator).json()
    api.wait(job["id"])
    theirs = api.other_tenant
    for method, path in [
        ("GET", f"/v1/jobs/{job['id']}"),
        ("POST", f"/v1/jobs/{job['id']}/cancel"),
        ("POST", f"/v1/jobs/{job['id']}/reproduce"),
        ("GET", f"/v1/jobs/{job['id']}/log"),
        ("GET", f"/v1/jobs/{job['id']}/artifacts"),
        ("GET", f"/v1/jobs/{job['id']}/artifacts/outputs/summary.json"),
        ("GET", f"/v1/jobs/{job['id']}/summary"),
    ]:
        response = api.http.request(method, path, headers=theirs)
        assert response.status_code == 404, (method, path, response.status_code)
        assert job["id"] in response.json()["detail"] or "no job" in response.json()["detail"]
    assert api.http.get("/v1/jobs", headers=theirs).json()["data"] == []


def test_readyz_names_the_executor(api: Api) -> None:
    ready = api.http.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["checks"]["jobs"] == "ok"
    assert body["jobs"]["executor"] == "local" and body["jobs"]["workers"] == 2
