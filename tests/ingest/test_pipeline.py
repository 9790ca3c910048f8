"""The ingest pipeline end to end on both backends: what is kept, dropped, late or quarantined."""

from __future__ import annotations

from typing import Any

import pytest

from support import PUMP, interface, prop, pump
from twinops.models.dtdl import DtdlSource
from twinops.platform import Platform

T0 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z in µs
SECOND = 1_000_000

SENSOR = "dtmi:test:Sensed;1"


def sensed_models() -> list[dict[str, Any]]:
    """A twin with unit-bearing telemetry, a property and a component."""
    motor = interface(
        "dtmi:test:Motor;1",
        {
            "@type": ["Telemetry", "Temperature"],
            "name": "winding",
            "schema": "double",
            "unit": "degreeCelsius",
        },
    )
    motor["@context"] = ["dtmi:dtdl:context;3", "dtmi:dtdl:extension:quantitativeTypes;1"]
    sensed = interface(
        SENSOR,
        {
            "@type": ["Telemetry", "Pressure"],
            "name": "pressure",
            "schema": "double",
            "unit": "kilopascal",
        },
        {"@type": "Telemetry", "name": "state", "schema": "string"},
        {"@type": "Telemetry", "name": "count", "schema": "integer"},
        prop("setpoint", "double", writable=True),
        {"@type": "Component", "name": "motor", "schema": "dtmi:test:Motor;1"},
    )
    sensed["@context"] = ["dtmi:dtdl:context;3", "dtmi:dtdl:extension:quantitativeTypes;1"]
    return [sensed, motor]


@pytest.fixture
def plant(platform: Platform, tenant: str) -> Platform:
    sources = [DtdlSource(name=f"m{i}", obj=d) for i, d in enumerate(sensed_models())]
    platform.models.upload(tenant, sources)
    platform.twins.put(tenant, "s1", {"$metadata": {"$model": SENSOR}})
    platform.twins.put(tenant, "s2", {"$metadata": {"$model": SENSOR}})
    return platform


def point(name: str, value: Any, seconds: float, twin: str = "s1", **extra: Any) -> dict[str, Any]:
    return {
        "twin": twin,
        "name": name,
        "value": value,
        "time": (T0 + int(seconds * SECOND)) / 1e6,
        **extra,
    }


def ingest(platform: Platform, tenant: str, points: list[dict[str, Any]]) -> dict[str, Any]:
    return platform.ingest.ingest(tenant, points, source="test").to_json()


def history(platform: Platform, tenant: str, name: str, twin: str = "s1") -> list[tuple[int, Any]]:
    page = platform.state.history(tenant, twin, name, start=None, end=None, limit=10_000)
    return [(s.time, s.value) for s in page.items]


def test_history_is_in_event_time_order_whatever_the_arrival(plant: Platform, tenant: str) -> None:
    report = ingest(
        plant, tenant, [point("pressure", v, t) for t, v in ((3, 3.0), (1, 1.0), (2, 2.0))]
    )
    assert report["accepted"] == 3
    assert history(plant, tenant, "pressure") == [
        (T0 + SECOND, 1.0),
        (T0 + 2 * SECOND, 2.0),
        (T0 + 3 * SECOND, 3.0),
    ]


def test_late_event_does_not_overwrite_newer_state(plant: Platform, tenant: str) -> None:
    ingest(plant, tenant, [point("pressure", 10.0, 10)])
    report = ingest(plant, tenant, [point("pressure", 5.0, 5)])
    assert (report["accepted"], report["late"]) == (1, 1)
    current = plant.state.current(tenant, "s1")["pressure"]
    assert (current.value, current.event_time) == (10.0, T0 + 10 * SECOND)
    assert [v for _, v in history(plant, tenant, "pressure")] == [5.0, 10.0]


def test_duplicates_by_message_id_and_by_content_are_dropped(plant: Platform, tenant: str) -> None:
    first = ingest(plant, tenant, [point("pressure", 1.0, 1, id="m-1"), point("pressure", 2.0, 2)])
    again = ingest(
        plant,
        tenant,
        [point("pressure", 1.0, 1, id="m-1"), point("pressure", 2.0, 2), point("pressure", 2.0, 2)],
    )
    assert first["accepted"] == 2
    assert (again["accepted"], again["duplicates"]) == (0, 3)
    assert len(history(plant, tenant, "pressure")) == 2


def test_another_value_at_a_stored_time_is_quarantined_not_overwritten(
    plant: Platform, tenant: str
) -> None:
    ingest(plant, tenant, [point("pressure", 1.0, 1)])
    report = ingest(plant, tenant, [point("pressure", 9.0, 1)])
    assert report["quarantined"] == 1
    assert history(plant, tenant, "pressure") == [(T0 + SECOND, 1.0)]
    (entry,) = plant.state.quarantined(tenant, rule="conflictingValue")
    assert entry.twin_id == "s1" and entry.payload["value"] == 9.0


def test_units_are_converted_to_the_models_unit(plant: Platform, tenant: str) -> None:
    report = ingest(
        plant,
        tenant,
        [point("pressure", 1.0, 1, unit="psi"), point("motor.winding", 212.0, 1, unit="degF")],
    )
    assert report["accepted"] == 2, report
    assert history(plant, tenant, "pressure")[0][1] == pytest.approx(6.894757, rel=1e-6)
    assert history(plant, tenant, "motor.winding")[0][1] == pytest.approx(100.0)


@pytest.mark.parametrize(
    ("bad", "rule"),
    [
        (point("pressure", 1.0, 1, unit="blorbs"), "unknownUnit"),
        (point("pressure", 1.0, 1, unit="degC"), "incompatibleUnit"),
        (point("pressure", "high", 1), "type"),
        (point("count", 1.5, 1), "type"),
        (point("nonsense", 1.0, 1), "fieldDefined"),
        (point("pressure", 1.0, 1, twin="ghost"), "twinExists"),
        ({"name": "pressure", "value": 1.0, "time": 1}, "required"),
        (point("pressure", 1.0, 1) | {"time": "yesterday"}, "time"),
        (point("pressure", 1.0, 1) | {"colour": "red"}, "unknownKey"),
        ("not an object", "type"),
    ],
)
def test_invalid_points_go_to_quarantine_with_their_reason(
    plant: Platform, tenant: str, bad: Any, rule: str
) -> None:
    report = ingest(plant, tenant, [bad, point("pressure", 2.0, 2)])
    assert (report["accepted"], report["quarantined"]) == (1, 1)
    assert report["errors"][0]["rule"] == rule
    (entry,) = plant.state.quarantined(tenant)
    assert entry.rule == rule and entry.reason


def test_quarantined_points_replay_after_the_model_is_fixed(plant: Platform, tenant: str) -> None:
    ingest(plant, tenant, [point("pressure", 1.0, 1, twin="s9")])
    (entry,) = plant.state.quarantined(tenant)
    plant.twins.put(tenant, "s9", {"$metadata": {"$model": SENSOR}})
    report = plant.ingest.replay(tenant, [entry.id]).to_json()
    assert report["accepted"] == 1
    assert plant.state.quarantined(tenant) == []
    assert history(plant, tenant, "pressure", twin="s9") == [(T0 + SECOND, 1.0)]


def test_as_of_returns_each_field_at_a_past_time(plant: Platform, tenant: str) -> None:
    ingest(
        plant,
        tenant,
        [point("pressure", 1.0, 1), point("pressure", 2.0, 10), point("state", "on", 5)],
    )
    then = plant.state.as_of(tenant, ["s1", "s2"], T0 + 6 * SECOND)
    assert {k: v.value for k, v in then["s1"].items()} == {"pressure": 1.0, "state": "on"}
    assert then["s2"] == {}
    before = plant.state.as_of(tenant, ["s1"], T0)
    assert before["s1"] == {}


def test_windows_aggregate_per_interval(plant: Platform, tenant: str) -> None:
    ingest(plant, tenant, [point("pressure", float(v), v) for v in range(0, 120)])
    rows = plant.state.windows(
        tenant, "s1", "pressure", start=T0, end=T0 + 120 * SECOND, interval=60 * SECOND
    )
    assert [(w.start, w.count, w.min, w.max, w.last) for w in rows] == [
        (T0, 60, 0.0, 59.0, 59),
        (T0 + 60 * SECOND, 60, 60.0, 119.0, 119),
    ]
    assert rows[0].mean == pytest.approx(29.5)


def test_history_pages_through_every_point_once(plant: Platform, tenant: str) -> None:
    ingest(plant, tenant, [point("pressure", float(v), v) for v in range(250)])
    seen: list[int] = []
    after = None
    while True:
        page = plant.state.history(
            tenant, "s1", "pressure", start=None, end=None, limit=100, after=after
        )
        seen.extend(s.time for s in page.items)
        if page.next is None:
            break
        after = int(page.next)
    assert seen == [T0 + v * SECOND for v in range(250)]


def test_data_quality_counts_per_twin_and_source(plant: Platform, tenant: str) -> None:
    ingest(plant, tenant, [point("pressure", 1.0, 5, id="a"), point("pressure", 1.0, 5, id="a")])
    ingest(plant, tenant, [point("pressure", 0.5, 1), point("pressure", "x", 2)])
    (row,) = plant.state.quality(tenant, "s1")
    assert (row.accepted, row.duplicates, row.late, row.quarantined) == (2, 1, 1, 1)
    assert row.last_event_time == T0 + 5 * SECOND


def test_applied_changes_emit_events_on_the_twins_stream(plant: Platform, tenant: str) -> None:
    ingest(plant, tenant, [point("pressure", 1.0, 1), point("state", "on", 1)])
    events = [
        e for e in plant.events.list_events(tenant, subject="s1") if e.type == "TelemetryApplied"
    ]
    assert len(events) == 1 and set(events[0].data["fields"]) == {"pressure", "state"}


def test_external_ids_resolve_to_twins(plant: Platform, tenant: str) -> None:
    plant.twins.map_external_id(tenant, "scada", "PT-101", "s2")
    report = ingest(
        plant,
        tenant,
        [
            {
                "externalId": {"system": "scada", "id": "PT-101"},
                "name": "pressure",
                "value": 3.0,
                "time": 1,
            }
        ],
    )
    assert report["accepted"] == 1
    assert plant.state.current(tenant, "s2")["pressure"].value == 3.0


def test_tenants_never_see_each_others_state(plant: Platform, tenant: str) -> None:
    ingest(plant, tenant, [point("pressure", 1.0, 1)])
    other = tenant + "-x"
    assert plant.state.current(other, "s1") == {}
    assert plant.state.quality(other) == []
    assert plant.state.history(other, "s1", "pressure", start=None, end=None, limit=10).items == []


def test_pump_without_units_keeps_values(platform: Platform, tenant: str) -> None:
    from support import sample_models

    platform.models.upload(
        tenant, [DtdlSource(name=f"m{i}", obj=d) for i, d in enumerate(sample_models())]
    )
    platform.twins.put(tenant, "p1", pump())
    report = ingest(platform, tenant, [point("flow", 4.5, 1, twin="p1")])
    assert report["accepted"] == 1 and PUMP


def test_concurrent_batches_lose_nothing(plant: Platform, tenant: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def batch(worker: int) -> dict[str, Any]:
        points = [point("pressure", float(worker * 100 + i), worker * 100 + i) for i in range(50)]
        return ingest(plant, tenant, points)

    with ThreadPoolExecutor(4) as pool:
        reports = list(pool.map(batch, range(4)))
    assert sum(r["accepted"] for r in reports) == 200
    assert len(history(plant, tenant, "pressure")) == 200
    (row,) = plant.state.quality(tenant, "s1")
    assert row.accepted == 200
    assert plant.state.current(tenant, "s1")["pressure"].value == 349.0
