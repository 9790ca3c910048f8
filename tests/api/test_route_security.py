"""Every route refuses unauthenticated callers (401) and too-weak roles (403).

The walk reads the routes from the app itself, so a new route cannot forget its role.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from support import PUMP, pump, sample_models
from twinops.api import create_app
from twinops.config import Settings
from twinops.platform import Platform
from twinops.security.entities import Principal, Role

OPEN_PATHS = {"/healthz", "/readyz", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def required_role(route: APIRoute) -> Role | None:
    for dependency in route.dependant.dependencies:
        role = getattr(dependency.call, "required_role", None)
        if role is not None:
            return Role(role)
    return None


def api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    """Every APIRoute, looking inside included routers (FastAPI mounts them lazily)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from api_routes(route.original_router.routes)


def guarded_routes(app: FastAPI) -> list[tuple[str, str, Role]]:
    routes = []
    for route in api_routes(app.routes):
        if not isinstance(route, APIRoute) or route.path in OPEN_PATHS:
            continue
        role = required_role(route)
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            routes.append((method, route.path, role))
    return routes


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x1", path)


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    built = Platform.open(Settings(data_dir=tmp_path_factory.mktemp("routes")))
    yield built
    built.close()


@pytest.fixture(scope="module")
def keys(platform: Platform) -> dict[Role, str]:
    root = Principal(platform.settings.default_tenant, "t", Role.ADMIN, None, "local")
    return {role: platform.security.create_key(root, name=str(role), role=role)[1] for role in Role}


@pytest.fixture(scope="module")
def app(platform: Platform) -> FastAPI:
    return create_app(platform)


@pytest.fixture(scope="module")
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as http:
        yield http


def test_every_api_route_names_the_role_it_needs(app: FastAPI, client: TestClient) -> None:
    routes = guarded_routes(app)
    missing = [(m, p) for m, p, role in routes if role is None]
    assert missing == []
    print(f"\nauth walk covers {len(routes)} operations")
    assert len(routes) >= 30


def test_every_api_route_refuses_an_unauthenticated_call(app: FastAPI, client: TestClient) -> None:
    for method, path, _ in guarded_routes(app):
        response = client.request(method, concrete(path), json={})
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_every_api_route_refuses_a_wrong_key(app: FastAPI, client: TestClient) -> None:
    headers = {"Authorization": "Bearer tok_0123456789abcdef_" + "A" * 43}
    for method, path, _ in guarded_routes(app):
        response = client.request(method, concrete(path), json={}, headers=headers)
        assert response.status_code == 401, (method, path)
        assert "AAAA" not in response.text


def test_every_api_route_refuses_a_too_weak_role(
    app: FastAPI, client: TestClient, keys: dict[Role, str]
) -> None:
    checked = 0
    for method, path, needed in guarded_routes(app):
        assert needed is not None
        for role in Role:
            if role.allows(needed):
                continue
            headers = {"Authorization": f"Bearer {keys[role]}"}
            response = client.request(method, concrete(path), json={}, headers=headers)
            assert response.status_code == 403, (method, path, role, response.text)
            checked += 1
    assert checked > 0


def test_a_sufficient_role_gets_past_the_guard(
    app: FastAPI, client: TestClient, keys: dict[Role, str]
) -> None:
    for method, path, needed in guarded_routes(app):
        assert needed is not None
        headers = {"Authorization": f"Bearer {keys[needed]}"}
        response = client.request(method, concrete(path), json={}, headers=headers)
        assert response.status_code not in (401, 403) or "tenant" in path, (method, path)
        assert response.status_code < 500, (method, path, response.text)


def test_another_tenants_twin_is_not_found_rather_than_forbidden(
    client: TestClient, platform: Platform, keys: dict[Role, str]
) -> None:
    admin = {"Authorization": f"Bearer {keys[Role.ADMIN]}"}
    client.post("/v1/models", json=sample_models(), headers=admin)
    assert client.put("/v1/twins/secret-pump", json=pump(), headers=admin).status_code == 201
    acme = client.post("/v1/tenants", json={"tenant": "acme"}, headers=admin).json()["adminKey"]
    theirs = {"Authorization": f"Bearer {acme}"}
    assert client.get("/v1/twins/secret-pump", headers=theirs).status_code == 404
    assert client.get("/v1/twins", headers=theirs).json()["data"] == []
    query = {"query": "SELECT T FROM DIGITALTWINS T"}
    assert client.post("/v1/query", json=query, headers=theirs).json()["value"] == []
    assert client.get(f"/v1/models/{PUMP}", headers=theirs).status_code == 404
    assert client.get("/v1/events", headers=theirs).json()["data"] == []
    audit = client.get("/v1/audit", headers=theirs).json()["data"]
    assert all(r["target"] != "secret-pump" for r in audit)


def test_over_the_rate_limit_is_429_with_retry_after(tmp_path: Any) -> None:
    settings = Settings(data_dir=tmp_path, rate_limit_per_second=1.0, rate_limit_burst=3)
    platform = Platform.open(settings)
    key = platform.security.first_admin_key()
    with TestClient(create_app(platform), headers={"Authorization": f"Bearer {key}"}) as http:
        statuses = [http.get("/v1/twins").status_code for _ in range(5)]
        limited = http.get("/v1/twins")
    platform.close()
    assert statuses[:3] == [200, 200, 200] and 429 in statuses
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1


def test_oversize_body_is_413_before_any_work(tmp_path: Any) -> None:
    platform = Platform.open(Settings(data_dir=tmp_path, max_body_bytes=1024))
    key = platform.security.first_admin_key()
    with TestClient(create_app(platform), headers={"Authorization": f"Bearer {key}"}) as http:
        response = http.post("/v1/models", content=b"[" + b" " * 2048 + b"]")
    platform.close()
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")


def test_import_over_the_batch_limit_is_413(tmp_path: Any) -> None:
    platform = Platform.open(Settings(data_dir=tmp_path, max_batch_items=10))
    key = platform.security.first_admin_key()
    body = {"twins": [pump(**{"$dtId": f"p{i}"}) for i in range(11)]}
    with TestClient(create_app(platform), headers={"Authorization": f"Bearer {key}"}) as http:
        response = http.post("/v1/import", json=body)
        listed = http.get("/v1/twins").json()["data"]
    platform.close()
    assert response.status_code == 413 and "limit is 10" in response.json()["detail"]
    assert listed == []
