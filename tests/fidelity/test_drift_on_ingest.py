"""Drift monitoring wired into ingest: the production model predicts, a shift raises a
``DriftDetected`` event with evidence, and the policy starts a recalibration job."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from fidelityhelp import FIXED, START, TRUTH, generate, running_pumps

from support import promote_pump_model
from twinops.api import create_app
from twinops.config import Settings
from twinops.demo import load_demo
from twinops.platform import Platform
from twinops.security.entities import Principal, Role
from twinops.sim.library.pump import PumpModel

PUMP = "twinops.sim.library.pump:PumpModel"


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    built = Platform.open(Settings(data_dir=tmp_path / "data", jobs_workers=1))
    load_demo(built, register=False)
    yield built
    built.close()


def _production_pump(platform: Platform) -> int:
    """Version 1 of ``pump`` in production, with the parameters the telemetry was made with."""
    parameters = {k: v * 0.98 for k, v in TRUTH.items()} | FIXED  # twin 0 of ``generate``
    return promote_pump_model(platform, parameters)


def _telemetry(minutes: int) -> list[dict[str, Any]]:
    """The pump model's own sensors (1 % noise) for one running demo pump, every 5 s."""
    _, pumps = running_pumps(1)
    return generate(pumps, hours=minutes / 60, step_s=5.0, seed=4).points


def _shifted(points: list[dict[str, Any]], field: str, factor: float) -> list[dict[str, Any]]:
    return [{**p, "value": p["value"] * factor} if p["name"] == field else p for p in points]


def _ingest_in_batches(platform: Platform, points: list[dict[str, Any]]) -> None:
    tenant = platform.settings.default_tenant
    ordered = sorted(points, key=lambda p: p["time"])
    for start in range(0, len(ordered), 200):
        platform.ingest.ingest(tenant, ordered[start : start + 200], source="test")


def test_a_sustained_shift_raises_a_drift_event_with_evidence(platform: Platform) -> None:
    tenant = platform.settings.default_tenant
    _production_pump(platform)
    policy = {
        "predictor": "model",
        "detectors": [{"kind": "cusum", "k": 1.0, "h": 20.0}],
        "warmupPoints": 40,
        "cooldownSeconds": 3600,
    }
    platform.drift.set_policy(tenant, "pump", policy, actor="key:m")
    points = _telemetry(60)
    cut = START + 30 * 60 * 1_000_000
    before = [p for p in points if _micros(p) < cut]
    after = [p for p in points if _micros(p) >= cut]
    _ingest_in_batches(platform, before)
    assert _alerts(platform) == [], "no drift on the model's own kind of data"
    _ingest_in_batches(platform, _shifted(after, "flowRate", 0.6))
    alerts = _alerts(platform)
    assert alerts, "a 40 % drop in measured flow is drift"
    first = alerts[-1]
    assert first["field"] == "flowRate"
    assert first["detector"] == "cusum" and first["statistic"] > first["threshold"]
    assert first["model"] == {"name": "pump", "version": 1}
    assert first["evidence"]["count"] > 0 and first["evidence"]["mean"] < 0
    assert _micros_of(first["time"]) >= cut
    status = platform.drift.status(tenant)
    assert status[0]["version"] == 1 and status[0]["streams"] > 0
    scrape = platform.metrics.exposition().decode()
    assert 'twinops_drift_alerts_total{detector="cusum"}' in scrape


def test_a_drift_alert_starts_a_recalibration_whose_result_becomes_candidate(
    platform: Platform,
) -> None:
    tenant = platform.settings.default_tenant
    platform.start_jobs()
    _production_pump(platform)
    recalibrate = {
        "kind": "calibrate",
        "twins": ["${twin}"],
        "window": {"start": "${start}", "end": "${end}"},
        "step": "5s",
        "parameters": {"staticHeadRatio": {}},
        "fit": ["flowRate"],
        "inputs": {"speed": {"profile": "replay"}, "suctionPressure": {"profile": "replay"}},
    }
    policy = {
        "predictor": "model",
        "detectors": [{"kind": "cusum", "k": 1.0, "h": 20.0}],
        "warmupPoints": 40,
        "cooldownSeconds": 3600,
        "evidencePoints": 60,
        "recalibrate": recalibrate,
    }
    platform.drift.set_policy(tenant, "pump", policy, actor="key:m")
    points = _telemetry(60)
    cut = START + 30 * 60 * 1_000_000
    _ingest_in_batches(platform, [p for p in points if _micros(p) < cut])
    _ingest_in_batches(
        platform, _shifted([p for p in points if _micros(p) >= cut], "flowRate", 0.8)
    )
    alerts = _alerts(platform)
    assert alerts and "recalibration" in alerts[-1], alerts
    recalibration = alerts[-1]["recalibration"]
    assert "job" in recalibration, recalibration
    done = platform.jobs.wait(tenant, recalibration["job"], 180)
    log = platform.jobs.log_text(tenant, recalibration["job"])
    assert str(done.job.status) == "succeeded", log
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        aliases = {a.alias: a.version for a in platform.registry.aliases(tenant, "pump")}
        if "candidate" in aliases:
            break
        time.sleep(0.05)
    assert aliases == {"production": 1, "candidate": 2}
    candidate = platform.registry.version(tenant, "pump", "candidate")
    assert candidate.lineage["job"] == recalibration["job"]
    assert candidate.lineage["parent"] == {"name": "pump", "version": 1}
    assert candidate.thresholds == {"flowRate": {"rmse": 5.0}}
    assert candidate.parameters["staticHeadRatio"] != parameters_of(platform)["staticHeadRatio"]


def test_drift_policies_are_set_over_the_api_by_modelers_only(platform: Platform) -> None:
    tenant = platform.settings.default_tenant
    _production_pump(platform)
    admin = Principal(tenant, "t", Role.ADMIN)
    keys = {
        role: platform.security.create_key(admin, name=f"d-{role}", role=role, tenant=tenant)[1]
        for role in (Role.OPERATOR, Role.MODELER)
    }
    client = TestClient(create_app(platform))
    body = {"predictor": "ewma", "detectors": [{"kind": "page-hinkley"}]}
    path = "/v1/drift/policies/pump"
    auth = {role: {"Authorization": f"Bearer {key}"} for role, key in keys.items()}
    assert client.put(path, json=body, headers=auth[Role.OPERATOR]).status_code == 403
    assert client.put(path, json=body, headers=auth[Role.MODELER]).status_code == 200
    bad = client.put(path, json={"predictor": "oracle"}, headers=auth[Role.MODELER])
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "predictor"
    unknown = client.put("/v1/drift/policies/nope", json=body, headers=auth[Role.MODELER])
    assert unknown.status_code == 404
    listed = client.get("/v1/drift/policies", headers=auth[Role.OPERATOR]).json()["policies"]
    assert [p["model"] for p in listed] == ["pump"]
    watching = client.get("/v1/drift/status", headers=auth[Role.OPERATOR]).json()["watching"]
    assert watching[0]["predictor"] == "ewma"


def _alerts(platform: Platform) -> list[dict[str, Any]]:
    from twinops.twins.entities import EventType

    events = platform.events.list_events(platform.settings.default_tenant, limit=100_000)
    return [{**dict(e.data)} for e in events if e.type == str(EventType.DRIFT_DETECTED)]


def _micros(point: dict[str, Any]) -> int:
    return _micros_of(point["time"])


def _micros_of(value: Any) -> int:
    from twinops.timeutil import parse_time

    return parse_time(value)


def parameters_of(platform: Platform, number: int = 1) -> dict[str, float]:
    """A version's parameters."""
    tenant = platform.settings.default_tenant
    return dict(platform.registry.version(tenant, "pump", number).parameters)


def test_nameplates_come_from_each_twin_and_unknown_twins_get_the_version_defaults(
    platform: Platform,
) -> None:
    tenant = platform.settings.default_tenant
    _production_pump(platform)
    platform.drift.set_policy(tenant, "pump", {"predictor": "model"}, actor="key:m")
    (watched,) = platform.drift._watching(tenant)
    listing = platform.twins.list_twins(tenant, model=watched.version.twin_model, limit=1000)
    pumps = {t.twin_id for t in listing.items}
    assert len(pumps) > 2
    plates = platform.drift._nameplates(
        tenant, watched, pumps | {"no-such-twin"}, PumpModel().signature
    )
    assert plates["no-such-twin"] == dict(watched.version.parameters)
    for twin in pumps:
        rated = platform.twins.get(tenant, twin).contents["ratedFlow"]
        expected = watched.version.parameters.get("ratedFlow", rated)
        assert plates[twin]["ratedFlow"] == pytest.approx(expected)
