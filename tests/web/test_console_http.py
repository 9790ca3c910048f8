"""The console's shell and assets over plain HTTP: open, typed, self-contained; data needs a key.

Also the two routes the console added to the API: a twin's live stream (server-sent events)
and a job's result table as JSON.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from twinops.api import create_app
from twinops.config import Settings
from twinops.demo import load_demo
from twinops.jobs.canonical import table_to_parquet
from twinops.jobs.representation import table_to_json
from twinops.platform import Platform
from twinops.web.routes import STATIC_DIR

VENDOR = STATIC_DIR / "vendor"
# The one http URL allowed in our own files: the SVG namespace (an identifier, never fetched).
SVG_NAMESPACE = "http://www.w3.org/2000/svg"
PUMP = "pump-01-01-01"


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    built = Platform.open(Settings(data_dir=tmp_path_factory.mktemp("console")))
    load_demo(built, stations=1, pumps_per_station=2)
    yield built
    built.close()


@pytest.fixture(scope="module")
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform), raise_server_exceptions=False) as http:
        yield http


@pytest.fixture(scope="module")
def key(platform: Platform) -> str:
    first = platform.security.first_admin_key()
    assert first is not None
    return first


def own_files() -> list[Path]:
    return [p for p in STATIC_DIR.rglob("*") if p.is_file() and VENDOR not in p.parents]


@pytest.mark.parametrize("path", ["/", "/console", "/console/"])
def test_the_shell_loads_without_a_key(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/console/assets/app.js">' in response.text
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "connect-src 'self'" in policy


@pytest.mark.parametrize(
    ("asset", "content_type"),
    [
        ("app.js", "text/javascript"),
        ("pages/twin.js", "text/javascript"),
        ("lib/chart.js", "text/javascript"),
        ("style.css", "text/css"),
        ("favicon.svg", "image/svg+xml"),
        ("vendor/uPlot.esm.js", "text/javascript"),
        ("vendor/uPlot.min.css", "text/css"),
    ],
)
def test_assets_are_served_without_a_key_with_their_types(
    client: TestClient, asset: str, content_type: str
) -> None:
    response = client.get(f"/console/assets/{asset}")
    assert response.status_code == 200, f"{asset}: run scripts/setup.sh for vendor/"
    assert response.headers["content-type"].startswith(content_type)
    assert response.headers["x-content-type-options"] == "nosniff"


def test_a_missing_asset_is_404_and_no_file_outside_is_reachable(client: TestClient) -> None:
    assert client.get("/console/assets/nope.js").status_code == 404
    assert client.get("/console/assets/../routes.py").status_code == 404
    assert client.get("/console/assets/%2e%2e/routes.py").status_code == 404


@pytest.mark.parametrize(
    "path",
    ["/v1/twins", f"/v1/twins/{PUMP}", f"/v1/twins/{PUMP}/stream", "/v1/jobs", "/v1/quarantine"],
)
def test_no_data_without_a_key(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


def test_the_console_is_not_an_api_operation(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert not any(p == "/" or p.startswith("/console") for p in paths)
    assert "/v1/twins/{twin_id}/stream" in paths and "/v1/jobs/{job_id}/tables/{name}" in paths


def test_no_external_urls_in_the_console() -> None:
    files = own_files()
    assert len(files) >= 10
    for path in files:
        text = path.read_text(encoding="utf-8")
        urls = set(re.findall(r"(?:https?:)?//[A-Za-z0-9.-]+\.[a-z]{2,}[^\s\"'`)]*", text))
        assert urls <= {SVG_NAMESPACE, SVG_NAMESPACE.removeprefix("http:")}, (path, urls)


def test_vendored_files_load_nothing_from_elsewhere() -> None:
    files = list(VENDOR.glob("*.js")) + list(VENDOR.glob("*.css"))
    assert files, "src/twinops/web/static/vendor is empty: run scripts/setup.sh"
    loading = re.compile(
        r"""(?:import\s*\(?\s*|from\s*|src\s*=\s*|href\s*=\s*)["'](?:https?:)?//"""
        r"""|url\(\s*["']?(?:https?:)?//|@import\s"""
    )
    for path in files:
        assert not loading.search(path.read_text(encoding="utf-8")), path


def test_every_module_import_and_shell_reference_resolves() -> None:
    for path in STATIC_DIR.rglob("*.js"):
        if VENDOR in path.parents:
            continue
        for target in re.findall(r"""from\s+["'](\.{1,2}/[^"']+)["']""", path.read_text()):
            assert (path.parent / target).resolve().is_file(), (path, target)
    shell = (STATIC_DIR / "index.html").read_text()
    for target in re.findall(r"""(?:src|href)="/console/assets/([^"]+)\"""", shell):
        assert (STATIC_DIR / target).is_file() or target.startswith("vendor/"), target


def test_the_twin_stream_sends_state_then_says_bye(client: TestClient, key: str) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    point = {"twin": PUMP, "name": "flowRate", "value": 123.5, "time": time.time()}
    assert client.post("/v1/telemetry", json=[point], headers=headers).status_code == 200
    url = f"/v1/twins/{PUMP}/stream?maxSeconds=0.5&interval=0.2"
    with client.stream("GET", url, headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        body = "".join(response.iter_text())
    assert body.startswith("retry: ")
    assert "event: state" in body and '"flowRate"' in body and "123.5" in body
    assert body.rstrip().splitlines()[-2] == "event: bye"
    assert client.get("/v1/twins/nope/stream", headers=headers).status_code == 404


def test_latest_events_first(client: TestClient, key: str) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    oldest = client.get("/v1/events?limit=3", headers=headers).json()["data"]
    newest = client.get("/v1/events?limit=3&order=desc", headers=headers).json()["data"]
    assert [e["seq"] for e in oldest] == sorted(e["seq"] for e in oldest)
    assert [e["seq"] for e in newest] == sorted((e["seq"] for e in newest), reverse=True)
    assert newest[0]["seq"] > oldest[-1]["seq"]
    before = newest[-1]["seq"]
    older = client.get(f"/v1/events?limit=2&order=desc&before={before}", headers=headers).json()
    assert all(e["seq"] < before for e in older["data"])


def test_a_result_table_as_json_columns() -> None:
    table = pa.table(
        {
            "time": pa.array([0, 3_600_000_000], pa.timestamp("us", tz="UTC")),
            "output": pa.array(["wear", "wear"]).dictionary_encode(),
            "value": [0.1, float("nan")],
        }
    )
    body = table_to_json(table_to_parquet(table), limit=1)
    assert body == {
        "columns": ["time", "output", "value"],
        "rows": 1,
        "totalRows": 2,
        "data": {"time": ["1970-01-01T00:00:00Z"], "output": ["wear"], "value": [0.1]},
    }
    assert table_to_json(table_to_parquet(table), limit=10)["data"]["value"] == [0.1, None]


def test_a_missing_job_table_is_a_problem(client: TestClient, key: str) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    response = client.get("/v1/jobs/job-nope/tables/series", headers=headers)
    assert response.status_code == 404 and response.json()["detail"]
    assert client.get("/v1/jobs/x/tables/..%2Fspec", headers=headers).status_code in (404, 422)
