"""File replay: CSV and Parquet files through a column mapping into history, on both backends."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import data_dir
from twinops.demo import examples_dir, load_demo
from twinops.errors import InvalidInput
from twinops.ingest.file_mapping import (
    ReplayMapping,
    RowParser,
    TimeReader,
    load_mapping,
    parse_mapping,
)
from twinops.ingest.files import ingest_sink, replay_file, replay_into
from twinops.models.dtdl import load_paths
from twinops.platform import Platform
from twinops.timeutil import format_rfc3339, parse_time

PUMP = "dtmi:twinops:example:Pump;1"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def pumps(platform: Platform, tenant: str) -> Platform:
    """The example models, pumps p1 and p2, and p1 mapped as scada/tag-1."""
    platform.models.upload(tenant, load_paths([examples_dir() / "models"]))
    for twin_id in ("p1", "p2"):
        platform.twins.put(tenant, twin_id, {"$metadata": {"$model": PUMP}})
    platform.twins.map_external_id(tenant, "scada", "tag-1", "p1")
    platform.twins.map_external_id(tenant, "scada", "tag-2", "p2")
    return platform


def mapping(**changes: Any) -> ReplayMapping:
    """Pressure in bar, flow in l/min and fluid temperature in °F, onto pump p1."""
    document: dict[str, Any] = {
        "time": {"column": "time"},
        "twin": "p1",
        "values": [
            {"column": "pressure", "name": "dischargePressure", "unit": "bar"},
            {"column": "flow", "name": "flowRate", "unit": "l/min"},
            {"column": "temp", "name": "fluidTemperature", "unit": "degF"},
        ],
        **changes,
    }
    return parse_mapping({k: v for k, v in document.items() if v is not None})


def write_csv(path: Path, header: str, *lines: str, delimiter: str = ",") -> Path:
    text = "\n".join([header, *lines]) + "\n"
    path.write_text(text.replace(",", delimiter), encoding="utf-8")
    return path


def history(platform: Platform, twin: str, name: str) -> list[tuple[str, Any]]:
    page = platform.state.history(
        platform.settings.default_tenant, twin, name, start=None, end=None, limit=10_000
    )
    return [(format_rfc3339(s.time), s.value) for s in page.items]


def replay(platform: Platform, path: Path, rules: ReplayMapping, **options: Any) -> Any:
    return replay_into(platform.ingest, platform.settings.default_tenant, path, rules, **options)


# --- CSV and Parquet ------------------------------------------------------------------------


def test_csv_rows_become_points_converted_to_the_models_units(
    pumps: Platform, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "run.csv",
        "time,pressure,flow,temp",
        "2026-01-01T00:00:00Z,2.5,600,212",
        "2026-01-01T00:00:01Z,3.0,1200,32",
    )
    summary = replay(pumps, path, mapping())
    assert (summary.rows, summary.points, summary.accepted, summary.quarantined) == (2, 6, 6, 0)
    assert history(pumps, "p1", "dischargePressure") == [
        ("2026-01-01T00:00:00.000000Z", pytest.approx(250.0)),
        ("2026-01-01T00:00:01.000000Z", pytest.approx(300.0)),
    ]
    assert [v for _, v in history(pumps, "p1", "flowRate")] == [
        pytest.approx(36.0),
        pytest.approx(72.0),
    ]
    assert [v for _, v in history(pumps, "p1", "fluidTemperature")] == [
        pytest.approx(100.0),
        pytest.approx(0.0, abs=1e-9),
    ]
    quality = pumps.state.quality(pumps.settings.default_tenant, "p1")
    assert {q.source for q in quality} == {"file:run.csv"}


def test_parquet_with_a_twin_id_column_and_native_timestamps_reaches_each_twin(
    pumps: Platform, tmp_path: Path
) -> None:
    table = pa.table(
        {
            "ts": pa.array(
                [T0, T0 + timedelta(seconds=1), T0 + timedelta(seconds=2)],
                type=pa.timestamp("ns", tz="UTC"),
            ),
            "pump": ["p1", "p2", "p1"],
            "pressure": [1.0, 2.0, 3.0],
            "state": ["running", "stopped", "running"],
        }
    )
    path = tmp_path / "fleet.parquet"
    pq.write_table(table, path)
    rules = parse_mapping(
        {
            "time": {"column": "ts"},
            "id": {"column": "pump"},
            "values": [
                {"column": "pressure", "name": "dischargePressure", "unit": "bar"},
                {"column": "state", "name": "status"},
            ],
        }
    )
    summary = replay(pumps, path, rules)
    assert (summary.rows, summary.accepted) == (3, 6)
    assert [v for _, v in history(pumps, "p1", "dischargePressure")] == [
        pytest.approx(100.0),
        pytest.approx(300.0),
    ]
    assert history(pumps, "p2", "status") == [("2026-01-01T00:00:01.000000Z", "stopped")]


def test_an_external_id_column_is_resolved_through_the_source_systems_mapping(
    pumps: Platform, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "scada.csv",
        "time;tag;pressure",
        "2026-01-01 00:00:00;tag-2;1.5",
        "2026-01-01 00:00:01;tag-1;2.5",
        "2026-01-01 00:00:02;tag-9;3.5",
        delimiter=";",
    )
    rules = parse_mapping(
        {
            "delimiter": ";",
            "time": {"column": "time"},
            "id": {"column": "tag", "system": "scada"},
            "values": [{"column": "pressure", "name": "dischargePressure", "unit": "bar"}],
        }
    )
    summary = replay(pumps, path, rules)
    assert (summary.accepted, summary.quarantined) == (2, 1)
    assert summary.errors[0]["row"] == 3 and summary.errors[0]["rule"] == "externalIdMapped"
    assert [v for _, v in history(pumps, "p2", "dischargePressure")] == [pytest.approx(150.0)]
    assert [v for _, v in history(pumps, "p1", "dischargePressure")] == [pytest.approx(250.0)]


def test_a_fixed_twin_overrides_the_id_column(pumps: Platform, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", "time,pump,pressure", "2026-01-01T00:00:00Z,p1,1")
    rules = parse_mapping(
        {
            "time": {"column": "time"},
            "id": {"column": "pump"},
            "values": [{"column": "pressure", "name": "dischargePressure", "unit": "bar"}],
        }
    ).with_twin("p2")
    assert replay(pumps, path, rules).accepted == 1
    assert [v for _, v in history(pumps, "p2", "dischargePressure")] == [pytest.approx(100.0)]
    assert history(pumps, "p1", "dischargePressure") == []


@pytest.mark.parametrize(
    ("time_spec", "cell", "expected"),
    [
        ({"format": "epoch_s"}, "1767225600.5", "2026-01-01T00:00:00.500000Z"),
        ({"format": "epoch_ms"}, "1767225600123", "2026-01-01T00:00:00.123000Z"),
        ({"format": "epoch_us"}, "1767225600000001", "2026-01-01T00:00:00.000001Z"),
        ({"timezone": "+03:00"}, "2026-01-01 03:00:00", "2026-01-01T00:00:00.000000Z"),
        ({"timezone": "Europe/Moscow"}, "2026-01-01 03:00:00", "2026-01-01T00:00:00.000000Z"),
        ({"timezone": "+03:00"}, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00.000000Z"),
        ({"shift": -3600}, "2026-01-01T01:00:00Z", "2026-01-01T00:00:00.000000Z"),
        ({}, "2026-01-01 00:00:00", "2026-01-01T00:00:00.000000Z"),
    ],
)
def test_time_formats_zones_and_shift(
    pumps: Platform, tmp_path: Path, time_spec: dict[str, Any], cell: str, expected: str
) -> None:
    path = write_csv(tmp_path / "t.csv", "time,pressure", f"{cell},1")
    rules = mapping(
        time={"column": "time", **time_spec},
        values=[{"column": "pressure", "name": "dischargePressure"}],
    )
    assert replay(pumps, path, rules).accepted == 1
    assert history(pumps, "p1", "dischargePressure") == [(expected, 1)]


# --- bad input: never a crash, never a silent drop --------------------------------------------


def test_a_row_with_an_unreadable_time_is_quarantined_with_the_reason(
    pumps: Platform, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "bad.csv",
        "time,pressure,flow,temp",
        "2026-01-01T00:00:00Z,1,60,32",
        "yesterday-ish,2,120,50",
        "2026-01-01T00:00:02Z,3,180,68",
    )
    summary = replay(pumps, path, mapping())
    assert (summary.rows, summary.accepted, summary.quarantined) == (3, 6, 3)
    assert {(e["row"], e["field"], e["rule"]) for e in summary.errors} == {(2, "time", "time")}
    assert {e["column"] for e in summary.errors} == {"pressure", "flow", "temp"}
    entries = pumps.state.quarantined(pumps.settings.default_tenant)
    assert len(entries) == 3
    assert {e.payload["time"] for e in entries} == {"yesterday-ish"}
    assert all("RFC 3339" in e.reason and e.source == "file:bad.csv" for e in entries)


def test_a_time_the_pipeline_would_read_otherwise_is_still_quarantined(
    pumps: Platform, tmp_path: Path
) -> None:
    # An epoch number in an ISO column must not slip through as the pipeline's epoch seconds.
    path = write_csv(tmp_path / "n.csv", "time,pressure", "1767225600,1")
    rules = mapping(values=[{"column": "pressure", "name": "dischargePressure"}])
    summary = replay(pumps, path, rules)
    assert (summary.accepted, summary.quarantined) == (0, 1)
    entry = pumps.state.quarantined(pumps.settings.default_tenant)[0]
    assert "1767225600" in entry.payload["time"]


def test_a_bad_time_row_with_every_value_missing_is_still_quarantined(
    pumps: Platform, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "e.csv", "time,pressure,flow,temp", "never,,,")
    summary = replay(pumps, path, mapping())
    assert (summary.rows, summary.points, summary.quarantined, summary.missing) == (1, 1, 1, 2)


def test_empty_and_nan_cells_are_skipped_and_counted_as_missing(
    pumps: Platform, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "gaps.csv",
        "time,pressure,flow,temp",
        "2026-01-01T00:00:00Z,,NaN,32",
        "2026-01-01T00:00:01Z,1, ,nan",
    )
    summary = replay(pumps, path, mapping())
    assert (summary.points, summary.missing, summary.accepted, summary.quarantined) == (2, 4, 2, 0)
    assert history(pumps, "p1", "dischargePressure") == [
        ("2026-01-01T00:00:01.000000Z", pytest.approx(100.0))
    ]


def test_parquet_nulls_and_nan_are_skipped_and_infinity_is_quarantined(
    pumps: Platform, tmp_path: Path
) -> None:
    table = pa.table(
        {
            "time": ["2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z", "2026-01-01T00:00:02Z"],
            "pressure": pa.array([None, math.nan, math.inf], type=pa.float64()),
            "flow": [60.0, 120.0, 180.0],
        }
    )
    path = tmp_path / "gaps.parquet"
    pq.write_table(table, path)
    rules = mapping(
        values=[
            {"column": "pressure", "name": "dischargePressure", "unit": "bar"},
            {"column": "flow", "name": "flowRate", "unit": "l/min"},
        ]
    )
    summary = replay(pumps, path, rules)
    assert (summary.missing, summary.points, summary.accepted, summary.quarantined) == (2, 4, 3, 1)
    assert summary.errors[0]["row"] == 3 and summary.errors[0]["column"] == "pressure"


def test_a_csv_line_with_the_wrong_number_of_cells_is_reported(
    pumps: Platform, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "torn.csv",
        "time,pressure,flow,temp",
        "2026-01-01T00:00:00Z,1,60,32",
        "2026-01-01T00:00:01Z,2",
        "2026-01-01T00:00:02Z,3,180,68",
    )
    summary = replay(pumps, path, mapping())
    assert (summary.rows, summary.malformed, summary.accepted) == (2, 1, 6)
    assert summary.errors[0]["rule"] == "csvColumns"
    assert "2026-01-01T00:00:01Z,2" in summary.errors[0]["text"]


def test_a_file_damaged_midway_sends_what_was_read_and_says_where_it_stopped(
    tmp_path: Path,
) -> None:
    times = [(T0 + timedelta(seconds=i)).isoformat() for i in range(4000)]
    path = tmp_path / "damaged.parquet"
    table = pa.table({"time": times, "pressure": [float(i) for i in range(4000)]})
    pq.write_table(table, path, row_group_size=1000)
    chunk = pq.ParquetFile(path).metadata.row_group(2).column(1)
    data = bytearray(path.read_bytes())
    start = chunk.data_page_offset
    for i in range(start, start + chunk.total_compressed_size):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    rules = mapping(values=[{"column": "pressure", "name": "dischargePressure"}])
    summary = replay_file(path, rules, lambda points: {"accepted": len(points)})
    assert summary.rows == summary.accepted == 2000
    assert summary.stopped is not None and "after row 2000" in summary.stopped


def test_a_mapped_column_missing_from_the_file_is_refused_naming_it(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "x.csv", "time,pressure", "2026-01-01T00:00:00Z,1")
    with pytest.raises(InvalidInput) as caught:
        replay_file(path, mapping(), lambda points: {})
    violation = caught.value.violations[0]
    assert (violation.rule, violation.value) == ("columnExists", "flow")


def test_a_mapping_without_a_twin_or_id_column_is_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "x.csv", "time,pressure", "2026-01-01T00:00:00Z,1")
    rules = mapping(twin=None, values=[{"column": "pressure", "name": "dischargePressure"}])
    with pytest.raises(InvalidInput) as caught:
        replay_file(path, rules, lambda points: {})
    assert caught.value.violations[0].field == "twin"


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"time": {"column": "t", "format": "julian"}}, "mapping.time.format", "literal_error"),
        ({"time": {"column": "t", "timezone": "Mars/Olympus"}}, "mapping.time", "value_error"),
        ({"id": {"column": "pump"}}, "mapping", "value_error"),
        ({"values": []}, "mapping.values", "too_short"),
        ({"delimiter": ";;"}, "mapping.delimiter", "string_too_long"),
        ({"colour": "red"}, "mapping.colour", "extra_forbidden"),
    ],
)
def test_mapping_errors_name_the_field_and_rule(
    change: dict[str, Any], field: str, rule: str
) -> None:
    document = {
        "time": {"column": "t"},
        "twin": "p1",
        "values": [{"column": "v", "name": "flowRate"}],
        **change,
    }
    with pytest.raises(InvalidInput) as caught:
        parse_mapping(document)
    assert (caught.value.violations[0].field, caught.value.violations[0].rule) == (field, rule)


def test_json_and_toml_mapping_files_load_alike(tmp_path: Path) -> None:
    (tmp_path / "m.json").write_text(
        json.dumps(
            {
                "time": {"column": "t", "format": "epoch_ms"},
                "twin": "p1",
                "values": [{"column": "v", "name": "flowRate", "unit": "l/min"}],
            }
        )
    )
    (tmp_path / "m.toml").write_text(
        'twin = "p1"\n'
        '[time]\ncolumn = "t"\nformat = "epoch_ms"\n'
        '[[values]]\ncolumn = "v"\nname = "flowRate"\nunit = "l/min"\n'
    )
    assert load_mapping(tmp_path / "m.json") == load_mapping(tmp_path / "m.toml")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(InvalidInput) as caught:
        load_mapping(tmp_path / "broken.json")
    assert caught.value.violations[0].rule == "json"


# --- idempotence and batching ----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_replaying_a_file_twice_adds_no_history(pumps: Platform, tmp_path: Path, kind: str) -> None:
    times = [f"2026-01-01T00:00:0{i}Z" for i in range(5)]
    if kind == "csv":
        lines = [f"{t},{i},{i * 60},{32 + i}" for i, t in enumerate(times)]
        path = write_csv(tmp_path / "twice.csv", "time,pressure,flow,temp", *lines)
    else:
        path = tmp_path / "twice.parquet"
        pq.write_table(
            pa.table(
                {
                    "time": times,
                    "pressure": [float(i) for i in range(5)],
                    "flow": [i * 60.0 for i in range(5)],
                    "temp": [32.0 + i for i in range(5)],
                }
            ),
            path,
        )
    first = replay(pumps, path, mapping(), batch_size=4)
    second = replay(pumps, path, mapping(), batch_size=4)
    assert (first.accepted, first.duplicates, first.batches) == (15, 0, 4)
    assert (second.accepted, second.duplicates) == (0, 15)
    assert len(history(pumps, "p1", "flowRate")) == 5


def test_message_ids_tell_files_rows_columns_and_twins_apart(tmp_path: Path) -> None:
    parser = RowParser(mapping(), "run.csv#abc")
    cells = {"time": "2026-01-01T00:00:00Z", "pressure": "1", "flow": "2", "temp": "3"}
    ids = [p["id"] for p in parser.parse(7, cells).points]
    assert ids[0] == "file:run.csv#abc:7:pressure>dischargePressure@p1"
    assert len(set(ids)) == 3
    assert ids == [p["id"] for p in parser.parse(7, cells).points]
    other_twin = RowParser(mapping().with_twin("p2"), "run.csv#abc").parse(7, cells)
    other_file = RowParser(mapping(), "run.csv#abd").parse(7, cells)
    assert not {p["id"] for p in other_twin.points} & set(ids)
    assert not {p["id"] for p in other_file.points} & set(ids)
    long = RowParser(mapping(), "x" * 300).parse(1, cells).points[0]["id"]
    assert long.startswith("file:sha256:") and len(long) <= 256


def test_errors_of_a_sink_batch_point_back_to_row_and_column(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "a.csv", "time,pressure,flow,temp", *[f"{i},1,2,3" for i in range(1, 4)]
    )
    batches: list[list[dict[str, Any]]] = []

    def sink(points: list[dict[str, Any]]) -> Mapping[str, Any]:
        batches.append(list(points))
        return {
            "accepted": len(points) - 1,
            "quarantined": 1,
            "errors": [{"index": 1, "rule": "r"}],
        }

    rules = mapping(time={"column": "time", "format": "epoch_s"})
    summary = replay_file(path, rules, sink, batch_size=5)
    assert [len(b) for b in batches] == [5, 4]  # never over the batch size
    assert (summary.accepted, summary.quarantined, summary.batches) == (7, 2, 2)
    assert [(e["row"], e["column"]) for e in summary.errors] == [(1, "flow"), (3, "pressure")]


# --- pacing -----------------------------------------------------------------------------------


class FakeTime:
    """A monotonic clock that only moves when slept on (or when the sink takes time)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def paced_file(tmp_path: Path) -> Path:
    times = ["00:00:00", "00:00:01", "00:00:03", "00:00:02", "00:00:13"]
    lines = [f"2026-01-01T{t}Z,1,2,3" for t in times]
    return write_csv(tmp_path / "paced.csv", "time,pressure,flow,temp", *lines)


@pytest.mark.parametrize(("speed", "expected"), [(1.0, [1.0, 2.0, 10.0]), (10.0, [0.1, 0.2, 1.0])])
def test_pacing_sleeps_by_the_event_time_gaps(
    tmp_path: Path, speed: float, expected: list[float]
) -> None:
    fake = FakeTime()
    sent: list[tuple[float, int]] = []

    def sink(points: list[dict[str, Any]]) -> Mapping[str, Any]:
        sent.append((fake.now, len(points)))
        return {"accepted": len(points)}

    summary = replay_file(
        paced_file(tmp_path), mapping(), sink, speed=speed, sleep=fake.sleep, clock=fake.clock
    )
    # The out-of-order row (00:00:02 after 00:00:03) is already due: no sleep for it.
    assert fake.sleeps == pytest.approx(expected)
    assert summary.accepted == 15
    # Each row is sent when due; a due row waits for no one.
    assert [n for _, n in sent] == [3, 3, 6, 3]


def test_time_the_sink_takes_is_not_slept_on_top(tmp_path: Path) -> None:
    fake = FakeTime()

    def slow_sink(points: list[dict[str, Any]]) -> Mapping[str, Any]:
        fake.now += 0.25
        return {"accepted": len(points)}

    replay_file(
        paced_file(tmp_path), mapping(), slow_sink, speed=1.0, sleep=fake.sleep, clock=fake.clock
    )
    assert fake.sleeps == pytest.approx([0.75, 1.75, 9.75])


def test_at_high_speed_short_waits_are_gathered_into_fewer_requests(tmp_path: Path) -> None:
    lines = [f"{(T0 + timedelta(seconds=i)).isoformat()},1,2,3" for i in range(41)]
    path = write_csv(tmp_path / "fast.csv", "time,pressure,flow,temp", *lines)
    fake = FakeTime()
    sent: list[int] = []

    def sink(points: list[dict[str, Any]]) -> Mapping[str, Any]:
        sent.append(len(points))
        return {"accepted": len(points)}

    replay_file(path, mapping(), sink, speed=100.0, sleep=fake.sleep, clock=fake.clock)
    assert 0.35 <= sum(fake.sleeps) <= 0.4  # the last rows may go up to MIN_WAIT early
    assert all(s >= 0.049 for s in fake.sleeps) and len(fake.sleeps) <= 8
    assert sum(sent) == 41 * 3 and len(sent) <= 9


def test_as_fast_as_possible_never_sleeps(tmp_path: Path) -> None:
    fake = FakeTime()
    replay_file(
        paced_file(tmp_path),
        mapping(),
        lambda points: {"accepted": len(points)},
        sleep=fake.sleep,
        clock=fake.clock,
    )
    assert fake.sleeps == []


@pytest.mark.parametrize(
    ("option", "value"), [("speed", 0.0), ("speed", math.inf), ("batch_size", 0)]
)
def test_pacing_and_batch_options_are_checked(tmp_path: Path, option: str, value: float) -> None:
    with pytest.raises(InvalidInput) as caught:
        replay_file(paced_file(tmp_path), mapping(), lambda p: {}, **{option: value})
    assert caught.value.violations[0].field == option


# --- SKAB: real pump data, through the example's mapping --------------------------------------


def test_a_skab_file_replays_onto_a_demo_pump_in_the_models_units(platform: Platform) -> None:
    skab = data_dir() / "skab" / "valve1" / "0.csv"
    load_demo(platform)
    rules = load_mapping(examples_dir() / "skab-mapping.json").with_twin("pump-01-01-01")
    summary = replay(platform, skab, rules)
    rows = _skab_rows(skab)
    assert (summary.rows, summary.missing, summary.quarantined) == (len(rows), 0, 0)
    assert summary.accepted == len(rows) * 7
    pressure = history(platform, "pump-01-01-01", "dischargePressure")
    flow = history(platform, "pump-01-01-01", "flowRate")
    current = history(platform, "pump-01-01-01", "motor.current")
    assert len(pressure) == len(flow) == len(current) == len(rows)
    first = rows[0]
    assert pressure[0] == ("2020-03-09T10:14:33.000000Z", pytest.approx(first["Pressure"] * 100))
    assert flow[0][1] == pytest.approx(first["Volume Flow RateRMS"] * 0.06)
    assert current[0][1] == pytest.approx(first["Current"])
    assert any(v < 0 for _, v in pressure)  # the rig's sensor offset is passed through
    again = replay(platform, skab, rules)
    assert (again.accepted, again.duplicates) == (0, summary.accepted)


def _skab_rows(path: Path) -> list[dict[str, float]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(";")
    return [
        {k: float(v) for k, v in zip(header, line.split(";"), strict=True) if k != "datetime"}
        for line in lines[1:]
        if line
    ]


# --- properties of the row parser -------------------------------------------------------------

EPOCH_US = st.integers(min_value=-(10**15), max_value=4 * 10**15)


def render(micros: int, fmt: str, zone: timezone) -> str:
    """A time as a file would hold it in each format (exact decimals for the epochs)."""
    if fmt == "epoch_us":
        return str(micros)
    if fmt == "epoch_ms":
        return format(Decimal(micros).scaleb(-3), "f")
    if fmt == "epoch_s":
        return format(Decimal(micros).scaleb(-6), "f")
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)
    return moment.astimezone(zone).replace(tzinfo=None).isoformat(sep=" ")


@settings(max_examples=300, deadline=None)
@given(
    micros=EPOCH_US,
    fmt=st.sampled_from(["iso", "epoch_s", "epoch_ms", "epoch_us"]),
    offset_minutes=st.integers(min_value=-14 * 60, max_value=14 * 60),
    shift=st.integers(min_value=-(10**6), max_value=10**6),
)
def test_every_time_format_reads_back_the_instant_it_wrote(
    micros: int, fmt: str, offset_minutes: int, shift: int
) -> None:
    zone = timezone(timedelta(minutes=offset_minutes))
    sign = "-" if offset_minutes < 0 else "+"
    name = f"{sign}{abs(offset_minutes) // 60:02d}:{abs(offset_minutes) % 60:02d}"
    rules = parse_mapping(
        {
            "time": {"column": "t", "format": fmt, "timezone": name, "shift": shift},
            "twin": "p",
            "values": [{"column": "v", "name": "x"}],
        }
    )
    reader = TimeReader.of(rules.time)
    assert reader.micros(render(micros, fmt, zone)) == micros + shift * 1_000_000


cells = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.sampled_from(["", "nan", "NaN", " ", "inf", "-1e400", "true", "007", "1.5", "{}"]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(),
    st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(
    time_cell=st.one_of(st.none(), st.text(max_size=30), st.integers(), st.floats()),
    values=st.lists(cells, min_size=3, max_size=3),
    kind=st.sampled_from(["auto", "string", "json"]),
)
def test_the_row_parser_never_raises_and_accounts_for_every_cell(
    time_cell: Any, values: list[Any], kind: str
) -> None:
    rules = parse_mapping(
        {
            "time": {"column": "t"},
            "twin": "p1",
            "values": [{"column": c, "name": c, "type": kind} for c in ("a", "b", "c")],
        }
    )
    row = {"t": time_cell, **dict(zip("abc", values, strict=True))}
    parsed = RowParser(rules, "f#0").parse(1, row)
    assert len(parsed.points) + parsed.missing == 3
    for point in parsed.points:
        json.dumps(point, allow_nan=False)  # always sendable over HTTP
        assert point["twin"] == "p1"
        if parsed.time is None:
            with pytest.raises(InvalidInput):
                parse_time(point["time"])
        else:
            assert parse_time(point["time"]) == parsed.time
    for point, column in zip(parsed.points, parsed.columns, strict=True):
        cell = dict(zip("abc", values, strict=True))[column]
        if isinstance(cell, float) and math.isfinite(cell) and kind != "string":
            assert point["value"] == cell
    if parsed.time is not None:
        assert isinstance(time_cell, str)  # an ISO column reads text, never bare numbers


def test_the_in_process_sink_names_the_file_as_source(pumps: Platform, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "s.csv", "time,pressure,flow,temp", "2026-01-01T00:00:00Z,1,2,3")
    sink = ingest_sink(pumps.ingest, pumps.settings.default_tenant, "file:custom")
    assert replay_file(path, mapping(), sink).accepted == 3
    sources = {q.source for q in pumps.state.quality(pumps.settings.default_tenant)}
    assert sources == {"file:custom"}
