"""Whatever a client sends, the API answers with a problem document, never a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support import PUMP, ROOM, sample_models
from twinops.api import create_app
from twinops.config import Settings
from twinops.platform import Platform

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
property_names = st.sampled_from(
    ["ratedFlow", "status", "settings", "tags", "gearbox", "serial", "flow", "$dtId", "x"]
)
twin_bodies = st.fixed_dictionaries(
    {"$metadata": st.fixed_dictionaries({"$model": st.sampled_from([PUMP, ROOM, "dtmi:x;1", ""])})}
) | st.dictionaries(property_names, json_values, max_size=5).map(
    lambda values: {"$metadata": {"$model": PUMP}, **values}
)
ids = st.text(min_size=1, max_size=40).map(lambda s: quote(s, safe=""))


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    folder: Path = tmp_path_factory.mktemp("robust")
    # Hundreds of generated requests in a burst from one key: rate limits are tested in
    # test_limits, here they would only turn a robustness failure into a 429.
    platform = Platform.open(
        Settings(data_dir=folder, rate_limit_per_second=1e6, rate_limit_burst=1_000_000)
    )
    headers = {"Authorization": f"Bearer {platform.security.first_admin_key()}"}
    app = create_app(platform)
    with TestClient(app, raise_server_exceptions=False, headers=headers) as http:
        assert http.post("/v1/models", json=sample_models()).status_code == 201
        assert http.put("/v1/twins/p0", json={"$metadata": {"$model": PUMP}}).status_code == 201
        yield http
    platform.close()


def no_server_error(response: Any) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")


fuzz = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@fuzz
@given(twin_id=ids, body=twin_bodies | json_values)
def test_put_twin_never_fails_on_the_server(client: TestClient, twin_id: str, body: Any) -> None:
    no_server_error(client.put(f"/v1/twins/{twin_id}", json=body))


@fuzz
@given(
    operations=st.lists(
        st.dictionaries(st.sampled_from(["op", "path", "value", "from"]), json_values), max_size=4
    )
    | json_values
)
def test_patch_never_fails_on_the_server(client: TestClient, operations: Any) -> None:
    no_server_error(client.patch("/v1/twins/p0", json=operations))


@fuzz
@given(
    documents=json_values
    | st.lists(
        st.dictionaries(
            st.sampled_from(["@context", "@id", "@type", "contents", "extends", "schema", "name"]),
            json_values,
        ),
        max_size=3,
    )
)
def test_model_validation_never_fails_on_the_server(client: TestClient, documents: Any) -> None:
    no_server_error(client.post("/v1/models/validate", json=documents))


@fuzz
@given(
    source=ids,
    rel_id=ids,
    body=st.dictionaries(
        st.sampled_from(["$relationshipName", "$targetId", "since", "x"]), json_values
    ),
)
def test_put_relationship_never_fails_on_the_server(
    client: TestClient, source: str, rel_id: str, body: Any
) -> None:
    no_server_error(client.put(f"/v1/twins/{source}/relationships/{rel_id}", json=body))


@fuzz
@given(text=st.text(max_size=200), token=st.none() | st.text(max_size=50))
def test_query_never_fails_on_the_server(client: TestClient, text: str, token: str | None) -> None:
    no_server_error(client.post("/v1/query", json={"query": text, "continuationToken": token}))


@fuzz
@given(raw=st.binary(max_size=200))
def test_undecodable_bodies_are_client_errors(client: TestClient, raw: bytes) -> None:
    headers = {"content-type": "application/json"}
    for method, path in (("PUT", "/v1/twins/p9"), ("POST", "/v1/models"), ("POST", "/v1/query")):
        no_server_error(client.request(method, path, content=raw, headers=headers))


@fuzz
@given(cursor=st.text(max_size=60), limit=st.integers(min_value=-5, max_value=5000))
def test_listing_with_any_cursor_never_fails_on_the_server(
    client: TestClient, cursor: str, limit: int
) -> None:
    for path in ("/v1/twins", "/v1/models", "/v1/twins/p0/relationships", "/v1/events"):
        no_server_error(
            client.get(path, params={"cursor": cursor, "limit": limit, "after": cursor})
        )


@pytest.mark.parametrize("literal", [b"Infinity", b"-Infinity", b"NaN", b"1e999"])
def test_non_finite_numbers_are_rejected_not_stored(client: TestClient, literal: bytes) -> None:
    body = b'{"$metadata": {"$model": "' + PUMP.encode() + b'"}, "ratedFlow": ' + literal + b"}"
    response = client.put(
        "/v1/twins/inf", content=body, headers={"content-type": "application/json"}
    )
    assert 400 <= response.status_code < 500, response.text
    assert client.get("/v1/twins/inf").status_code == 404
