"""/metrics after real ingest and job activity, parsed as Prometheus parses it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from obshelp import BACKENDS, admin_headers, open_platform
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from twinops.api import create_app
from twinops.obs.metrics import quantile, source_channel
from twinops.platform import Platform
from twinops.security.entities import Role


def scrape(http: TestClient, **kwargs: object) -> dict[str, list[Sample]]:
    """Samples by family name (counters without ``_total``, as the parser names them)."""
    response = http.get("/metrics", **kwargs)  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {f.name: f.samples for f in text_string_to_metric_families(response.text)}


def value(samples: list[Sample], name: str, **labels: str) -> float:
    """The one sample called ``name`` whose labels include ``labels``."""
    found = [s for s in samples if s.name == name and labels.items() <= s.labels.items()]
    assert len(found) == 1, (name, labels, found)
    return found[0].value


def points(twin: str, *rows: tuple[str, object, str]) -> list[dict[str, object]]:
    return [{"twin": twin, "name": n, "value": v, "time": t} for n, v, t in rows]


def test_ingest_families_count_points_per_source_and_outcome(client: TestClient) -> None:
    batch = [
        *points(
            "pump-1",
            ("flowRate", 120.0, "2026-01-01T00:00:10Z"),
            ("flowRate", 120.0, "2026-01-01T00:00:10Z"),  # a duplicate
            ("flowRate", "fast", "2026-01-01T00:00:11Z"),  # quarantined: not a number
        ),
        *points("pump-2", ("flowRate", 80.0, "2026-01-01T00:00:20Z")),
        {"twin": "nobody", "name": "flowRate", "value": 1.0, "time": "2026-01-01T00:00:00Z"},
    ]
    report = client.post("/v1/telemetry?source=plant-a", json=batch).json()
    assert (report["accepted"], report["duplicates"], report["quarantined"]) == (2, 1, 2)
    late = points("pump-1", ("flowRate", 90.0, "2026-01-01T00:00:01Z"))
    assert client.post("/v1/telemetry", json=late).json()["late"] == 1

    families = scrape(client)
    ingest = families["twinops_ingest_points"]
    assert value(ingest, "twinops_ingest_points_total", source="http", outcome="accepted") == 3
    assert value(ingest, "twinops_ingest_points_total", source="http", outcome="duplicate") == 1
    assert value(ingest, "twinops_ingest_points_total", source="http", outcome="quarantined") == 2
    # Source labels are channels: no key id, no declared source, bounded cardinality.
    assert {s.labels["source"] for s in ingest} == {"http"}
    lateness = families["twinops_ingest_late_points"]
    assert value(lateness, "twinops_ingest_late_points_total", lateness="late") == 1
    quarantine = families["twinops_quarantine_points"]
    rules = {s.labels["rule"]: s.value for s in quarantine if s.name.endswith("_total")}
    assert sum(rules.values()) == 2 and "twinExists" in rules
    durations = families["twinops_ingest_batch_duration_seconds"]
    assert value(durations, "twinops_ingest_batch_duration_seconds_count", source="http") == 2
    assert value(durations, "twinops_ingest_batch_duration_seconds_sum", source="http") > 0
    sizes = families["twinops_ingest_batch_points"]
    assert value(sizes, "twinops_ingest_batch_points_sum", source="http") == 6

    # Freshness: both pumps' newest events, summarized; their age is measured against now.
    fresh = families["twinops_freshness_age_seconds"]
    oldest = value(fresh, "twinops_freshness_age_seconds", stat="max")
    median = value(fresh, "twinops_freshness_age_seconds", stat="p50")
    assert oldest - median == pytest.approx(10.0, abs=0.5)  # pump-1 10 s older than pump-2
    assert families["twinops_freshness_twins"][0].value == 2


def test_http_latency_is_labelled_by_route_template(client: TestClient) -> None:
    client.get("/v1/twins/pump-1/state")
    client.get("/v1/twins/pump-2/state")
    client.get("/v1/twins/pump-2/state", headers={"Authorization": "Bearer wrong"})
    client.get("/no/such/path/12345")
    samples = scrape(client)["twinops_http_request_duration_seconds"]
    counts = {
        (s.labels["method"], s.labels["route"], s.labels["status"]): s.value
        for s in samples
        if s.name.endswith("_count")
    }
    assert counts[("GET", "/v1/twins/{twin_id}/state", "200")] == 2
    # Refused before routing, still labelled by its template.
    assert counts[("GET", "/v1/twins/{twin_id}/state", "401")] == 1
    assert counts[("GET", "unmatched", "404")] == 1
    assert not any("pump" in route or "12345" in route for _, route, _ in counts)
    total = scrape(client)["twinops_http_requests"]
    assert (
        value(
            total,
            "twinops_http_requests_total",
            method="GET",
            route="/v1/twins/{twin_id}/state",
            status="200",
        )
        == 2
    )


def test_responses_echo_the_request_id(client: TestClient) -> None:
    given = client.get("/healthz", headers={"X-Request-ID": "probe-42"})
    assert given.headers["x-request-id"] == "probe-42"
    made = client.get("/healthz")
    assert len(made.headers["x-request-id"]) == 32
    refused = client.get("/v1/twins/x", headers={"Authorization": "", "X-Request-ID": "bad id!"})
    assert refused.status_code == 401 and refused.headers["x-request-id"] != "bad id!"


@pytest.fixture(params=BACKENDS)
def jobs_app(request: pytest.FixtureRequest, tmp_path: Path, tenant: str) -> Iterator[TestClient]:
    platform = open_platform(tmp_path, tenant, request.param)
    platform.start_jobs()
    try:
        with TestClient(
            create_app(platform), raise_server_exceptions=False, headers=admin_headers(platform)
        ) as http:
            yield http
    finally:
        platform.close()


def test_jobs_finished_durations_and_queue_depth(jobs_app: TestClient) -> None:
    platform: Platform = jobs_app.app.state.platform  # type: ignore[attr-defined]
    tenant = platform.settings.default_tenant
    ids = [
        jobs_app.post("/v1/jobs", json={"kind": kind}).json()["id"]
        for kind in ("test.echo", "test.crash")
    ]
    for job_id in ids:
        platform.jobs.wait(tenant, job_id, timeout=120)
    families = scrape(jobs_app)
    finished = families["twinops_jobs_finished"]
    assert value(finished, "twinops_jobs_finished_total", kind="test.echo", status="succeeded") == 1
    assert value(finished, "twinops_jobs_finished_total", kind="test.crash", status="failed") == 1
    started = families["twinops_jobs_started"]
    assert value(started, "twinops_jobs_started_total", kind="test.echo") == 1
    durations = families["twinops_jobs_duration_seconds"]
    echo = {"kind": "test.echo", "status": "succeeded"}
    assert value(durations, "twinops_jobs_duration_seconds_count", **echo) == 1
    queue = {s.labels["status"]: s.value for s in families["twinops_queue_jobs"]}
    assert set(queue) == {"queued", "running"} and all(v >= 0 for v in queue.values())


def test_drift_alerts_are_counted_by_detector(obs_platform: Platform) -> None:
    obs_platform.metrics.drift_alert("page_hinkley")
    obs_platform.metrics.drift_alert("page_hinkley", 2)
    families = {
        f.name: f.samples
        for f in text_string_to_metric_families(obs_platform.metrics.exposition().decode())
    }
    drift = families["twinops_drift_alerts"]
    assert value(drift, "twinops_drift_alerts_total", detector="page_hinkley") == 3


def test_two_platforms_keep_their_own_registries(tmp_path: Path, tenant: str) -> None:
    first = open_platform(tmp_path / "a", tenant)
    second = open_platform(tmp_path / "b", tenant)
    try:
        first.metrics.drift_alert("cusum")
        assert b'detector="cusum"' in first.metrics.exposition()
        assert b'detector="cusum"' not in second.metrics.exposition()
    finally:
        first.close()
        second.close()


def test_metrics_can_be_closed_to_anonymous_scrapers(tmp_path: Path, tenant: str) -> None:
    platform = open_platform(tmp_path, tenant, metrics_require_auth=True)
    try:
        admin = platform.security.authenticate(f"Bearer {platform.security.first_admin_key()}")
        _, viewer_key = platform.security.create_key(admin, name="scraper", role=Role.VIEWER)
        with TestClient(create_app(platform), raise_server_exceptions=False) as http:
            anonymous = http.get("/metrics")
            assert anonymous.status_code == 401
            assert anonymous.headers["content-type"].startswith("application/problem+json")
            assert http.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
            viewer = http.get("/metrics", headers={"Authorization": f"Bearer {viewer_key}"})
            assert viewer.status_code == 200 and "twinops_http_requests_total" in viewer.text
            assert http.get("/healthz").status_code == 200  # probes stay open
    finally:
        platform.close()


def test_metrics_are_open_by_default(client: TestClient) -> None:
    assert client.get("/metrics", headers={"Authorization": ""}).status_code == 200


def test_source_channels_and_quantiles() -> None:
    assert source_channel("http:key-1") == "http"
    assert source_channel("plant-a@http:key-1") == "http"
    assert source_channel("mqtt:abc") == "mqtt"
    assert source_channel("file:readings.csv") == "file"
    assert source_channel("replay") == "replay"
    assert source_channel("something-else") == "other"
    assert quantile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.0
    assert quantile([float(i) for i in range(1, 101)], 0.95) == 95.0
