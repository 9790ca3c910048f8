"""Schema-based fuzzing of the whole REST API with schemathesis, in process over ASGI.

Every operation of the app's OpenAPI document is fuzzed with positive and negative inputs
(schemathesis' examples, coverage and fuzzing phases) as a platform admin, against a real
platform on a SQLite file holding the sample models and a few twins, relationships and
external ids; path parameters are sometimes swapped for ids that exist, so the fuzzer reaches
past the "not found" answers. Whatever it sends, the server must never answer 5xx, and every
4xx must be a problem document. A sample of calls is replayed without credentials and with a
wrong key: those must be 401 problems.

``TWINOPS_FUZZ_EXAMPLES`` sets the fuzzing phase's examples per operation (default 200, which
gives well over 5,000 cases in all), ``TWINOPS_FUZZ_SEED`` fixes the seed for a reproduction.
The session's total is asserted (at least ``TWINOPS_FUZZ_MIN_CASES``, default 5,000) by the
last test of the module, which only counts when every operation ran in this process.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

from support import GEARBOX, MACHINE, PUMP, ROOM, THING, pump, room, sample_models
from twinops.api import create_app
from twinops.config import Settings
from twinops.obs import Metrics
from twinops.platform import Platform

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("TWINOPS_FUZZ_EXAMPLES", "200"))
MIN_CASES = int(os.environ.get("TWINOPS_FUZZ_MIN_CASES", "5000"))
AUTH_EXAMPLES = int(os.environ.get("TWINOPS_FUZZ_AUTH_EXAMPLES", "10"))
SEED = os.environ.get("TWINOPS_FUZZ_SEED")
PROBLEM_JSON = "application/problem+json"
CONDITIONAL = {"if-match", "if-none-match"}

_config: dict[str, Any] = {
    "generation": {"max-examples": EXAMPLES, "mode": "all"},
    "phases": {"examples": {"enabled": True}, "coverage": {"enabled": True}},
}
if SEED is not None:
    _config["seed"] = int(SEED)


def _document_app() -> FastAPI:
    """An app built only to serve its OpenAPI document: ``create_app`` only keeps references."""
    stand_in = SimpleNamespace(settings=Settings(), security=None, metrics=Metrics(lambda: 0))
    return create_app(stand_in)  # type: ignore[arg-type]


# The document is loaded at import (parametrization needs it at collection) from an app that
# touches no storage; the cases are sent to the real app of the `api` fixture.
schema = schemathesis.openapi.from_asgi(
    "/openapi.json", _document_app(), config=schemathesis.Config.from_dict(_config)
)
# Calls without valid credentials: a few fuzzed cases per /v1 operation, each sent four ways.
unauthenticated = schemathesis.openapi.from_asgi(
    "/openapi.json",
    _document_app(),
    config=schemathesis.Config.from_dict(
        {
            "generation": {"max-examples": AUTH_EXAMPLES, "mode": "all"},
            "phases": {"examples": {"enabled": False}, "coverage": {"enabled": False}},
            **({"seed": int(SEED)} if SEED is not None else {}),
        }
    ),
).include(path_regex="^/v1/")
BAD_CREDENTIALS: list[dict[str, str]] = [
    {},
    {"Authorization": "Bearer twinops_not-a-key"},
    {"Authorization": "Bearer "},
    {"Authorization": "Basic YWRtaW46YWRtaW4="},
]
OPERATIONS = {op.ok().label for op in schema.get_all_operations()}

# Ids of resources the `api` fixture creates, by path parameter name; `key_id` names a key
# made to be revoked, never the admin key the fuzzer uses.
KNOWN: dict[str, list[str]] = {
    "twin_id": ["p0", "p1", "r0", "g0"],
    "relationship_id": ["c0", "n0"],
    "dtmi": [PUMP, ROOM, MACHINE, THING, GEARBOX],
    "source_system": ["scada"],
    "source_id": ["tag-1", "tag-2"],
    "key_id": [],
}
CASES: Counter[str] = Counter()
STATUSES: Counter[tuple[str, int]] = Counter()


@dataclass
class Api:
    """The real app under test, with the admin credentials the fuzzer sends."""

    app: FastAPI
    client: TestClient
    headers: dict[str, str]
    platform: Platform


def _seed(http: TestClient) -> None:
    """(Re)create the resources of ``KNOWN``; idempotent, so each operation starts from them."""
    for document in reversed(sample_models()):  # bases first
        if http.get(f"/v1/models/{document['@id']}").status_code == 404:
            assert http.post("/v1/models", json=[document]).status_code == 201
        http.patch(f"/v1/models/{document['@id']}", json={"decommissioned": False})
    for twin_id, body in (
        ("p0", pump(ratedFlow=12.5, status="running", tags={"line": "a"})),
        ("p1", pump(serial="SN-1", gearbox={"$metadata": {}, "ratio": 3.5})),
        ("r0", room(name="hall")),
        ("g0", {"$metadata": {"$model": GEARBOX}, "ratio": 2.0}),
    ):
        response = http.put(f"/v1/twins/{twin_id}", json=body)
        assert response.status_code in (200, 201), response.text
    for rel_id, body in (
        ("c0", {"$relationshipName": "contains", "$targetId": "p0", "since": "2024-01-31"}),
        ("n0", {"$relationshipName": "near", "$targetId": "r0"}),
    ):
        response = http.put(f"/v1/twins/r0/relationships/{rel_id}", json=body)
        assert response.status_code in (200, 201), response.text
    for source_id, twin in (("tag-1", "p0"), ("tag-2", "p1")):
        response = http.put(f"/v1/externalids/scada/{source_id}", json={"twin": twin})
        assert response.status_code in (200, 201), response.text


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    folder: Path = tmp_path_factory.mktemp("fuzz-openapi")
    # A generous rate limit: the fuzzer's pace would otherwise turn most answers into 429s.
    settings = Settings(data_dir=folder, rate_limit_per_second=1e6, rate_limit_burst=10**6)
    platform = Platform.open(settings)
    headers = {"Authorization": f"Bearer {platform.security.first_admin_key()}"}
    app = create_app(platform)
    with TestClient(app, raise_server_exceptions=False, headers=headers) as http:
        _seed(http)
        victim = http.post("/v1/keys", json={"name": "fuzz-victim", "role": "viewer"})
        assert victim.status_code == 201, victim.text
        KNOWN["key_id"] = [victim.json()["id"]]
        yield Api(app, http, headers, platform)
    platform.close()


@pytest.fixture
def seeded(api: Api) -> Api:
    _seed(api.client)
    return api


@schema.hook
def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> Any:
    """A third of the cases address resources that exist (when the operation takes ids)."""
    names = [name for name in path_parameters or {} if KNOWN.get(name)]
    if not names:
        return st.just(path_parameters)
    known = st.fixed_dictionaries(
        {
            **{name: st.just(value) for name, value in (path_parameters or {}).items()},
            **{name: st.sampled_from(KNOWN[name]) for name in names},
        }
    )
    return st.one_of(st.just(path_parameters), st.just(path_parameters), known)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
# Valid values of the sample models' properties, and a few invalid ones.
property_values = {
    "ratedFlow": st.floats(-1e6, 1e6) | st.integers() | st.just("fast"),
    "status": st.sampled_from(["running", "stopped", "exploded", 1]),
    "settings": st.fixed_dictionaries({}, optional={"speed": st.floats(0, 10), "label": st.text()}),
    "tags": st.dictionaries(st.text(max_size=5), st.text(max_size=5) | st.integers(), max_size=3),
    "gearbox": st.fixed_dictionaries(
        {"$metadata": st.just({})}, optional={"ratio": st.floats(0, 10) | st.none()}
    ),
    "serial": st.text(max_size=10),
    "installed": st.integers(),
    "name": st.text(max_size=10),
    "x": json_values,
}
twin_values = st.fixed_dictionaries(
    {}, optional={name: values | json_values for name, values in property_values.items()}
)
# Bodies close to valid ones, mixed into the schema's own (which the schema leaves free-form).
REALISTIC_BODIES = {
    "PUT /v1/twins/{twin_id}": st.builds(
        lambda model, values: {"$metadata": {"$model": model}, **values},
        st.sampled_from([PUMP, PUMP, ROOM, GEARBOX, "dtmi:test:Nope;1"]),
        twin_values,
    ),
    "PATCH /v1/twins/{twin_id}": st.lists(
        st.fixed_dictionaries(
            {
                "op": st.sampled_from(["add", "replace", "remove", "move", "copy", "test"]),
                "path": st.sampled_from(
                    [
                        "/ratedFlow",
                        "/status",
                        "/settings/speed",
                        "/tags/line",
                        "/gearbox/ratio",
                        "/$metadata",
                        "/",
                        "",
                        "/x",
                        "/tags/~1a",
                    ]
                ),
            },
            optional={"value": json_values, "from": st.sampled_from(["/ratedFlow", "/tags"])},
        ),
        max_size=4,
    ),
    "PUT /v1/twins/{twin_id}/relationships/{relationship_id}": st.fixed_dictionaries(
        {
            "$relationshipName": st.sampled_from(["contains", "near", "x"]),
            "$targetId": st.sampled_from(["p0", "p1", "r0", "g0", "missing"]),
        },
        optional={"since": json_values | st.just("2024-02-29")},
    ),
    "PUT /v1/externalids/{source_system}/{source_id}": st.fixed_dictionaries(
        {"twin": st.sampled_from(["p0", "p1", "r0", "missing"])}
    ),
}


@schema.hook
def flatmap_body(context: Any, body: Any) -> Any:
    """A third of the bodies of the twin and relationship writes are near-valid ones."""
    realistic = REALISTIC_BODIES.get(context.operation.label)
    if realistic is None:
        return st.just(body)
    return st.one_of(st.just(body), st.just(body), realistic)


@schema.hook
def flatmap_headers(context: Any, headers: dict[str, Any] | None) -> Any:
    """Half the cases drop the conditional headers, which otherwise rarely match an ETag."""
    kept = {k: v for k, v in (headers or {}).items() if k.lower() not in CONDITIONAL}
    return st.sampled_from([headers, kept])


def is_problem(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every 4xx is an RFC 7807 problem document naming its status, title and detail."""
    if 400 <= response.status_code < 500:
        content_type = response.headers.get("content-type", [""])[0]
        assert content_type.startswith(PROBLEM_JSON), f"4xx with content-type {content_type!r}"
        body = response.json()
        assert isinstance(body, dict), body
        assert body.get("status") == response.status_code, body
        assert isinstance(body.get("title"), str) and body["title"], body
        assert isinstance(body.get("detail"), str) and body["detail"], body
    return None


CHECKS = [not_a_server_error, is_problem]


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_no_operation_fails_on_the_server(case: Any, seeded: Api) -> None:
    CASES[case.operation.label] += 1
    response = case.call(app=seeded.app, headers=seeded.headers)
    STATUSES[case.operation.label, response.status_code] += 1
    case.validate_response(response, checks=CHECKS)


@unauthenticated.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_calls_without_valid_credentials_are_401_problems(case: Any, api: Api) -> None:
    sent = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    for credentials in BAD_CREDENTIALS:
        case.headers = {**sent, **credentials}
        response = case.call(app=api.app)
        STATUSES[f"{case.operation.label} (bad credentials)", response.status_code] += 1
        case.validate_response(response, checks=CHECKS)
        assert response.status_code == 401, (credentials, response.status_code, response.text)
        assert response.headers.get("www-authenticate", [""])[0].startswith("Bearer")


# Authentication runs as middleware, before FastAPI decodes any body: a caller without
# credentials learns nothing about how its body would parse.
@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/v1/query"), ("PUT", "/v1/twins/p0"), ("POST", "/v1/keys")]
)
@pytest.mark.parametrize("authorization", [None, "Bearer twinops_not-a-key"])
@pytest.mark.parametrize("body", [b"\x00", b"\x80"])
def test_undecodable_body_without_credentials_is_401(
    api: Api, method: str, path: str, authorization: str | None, body: bytes
) -> None:
    headers = {"content-type": "application/json"}
    if authorization:
        headers["authorization"] = authorization
    with TestClient(api.app, raise_server_exceptions=False) as anonymous:
        response = anonymous.request(method, path, content=body, headers=headers)
    assert response.status_code == 401, response.text


def test_fuzzing_ran_enough_cases() -> None:
    ran = sum(CASES.values())
    unauthenticated_calls = sum(n for (label, _), n in STATUSES.items() if "credentials" in label)
    print(f"\nschemathesis ran {ran} cases over {len(CASES)} operations: {dict(CASES)}")
    print(f"and {unauthenticated_calls} calls without valid credentials")
    for (label, status), n in sorted(STATUSES.items()):
        print(f"  {label:60} {status} x{n}")
    missing = OPERATIONS - set(CASES)
    if missing:
        pytest.skip(f"not every operation ran in this process (missing {sorted(missing)})")
    assert ran >= MIN_CASES
