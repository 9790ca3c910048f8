"""GET /v1/twins/{id}/export: CSV and Parquet of a time range, read back with pyarrow."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from twinops.api import create_app
from twinops.demo import examples_dir
from twinops.models.dtdl import load_paths
from twinops.platform import Platform
from twinops.security.entities import Principal, Role
from twinops.state.export import ExportRange, export_chunks
from twinops.timeutil import parse_time

PUMP = "dtmi:twinops:example:Pump;1"


def at(second: int) -> str:
    return f"2026-01-01T00:00:{second:02d}Z"


POINTS: list[dict[str, Any]] = [
    *({"twin": "pump-1", "name": "flowRate", "value": 10.0 + s, "time": at(s)} for s in range(6)),
    *(
        {"twin": "pump-1", "name": "status", "value": v, "time": at(s)}
        for s, v in ((1, "running"), (4, "stopped"))
    ),
    {"twin": "pump-1", "name": "motor.current", "value": 12, "time": at(3)},
    {"twin": "pump-1", "name": "speed", "value": 1450.0, "time": at(2)},
    {
        "twin": "pump-1",
        "name": "maintenance",
        "value": {"lastServiceDate": "2025-12-01", "runningHoursAtService": 1200.5},
        "time": at(5),
    },
]
FIELDS = ["flowRate", "status", "motor.current", "maintenance"]


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    tenant = platform.settings.default_tenant
    platform.models.upload(tenant, load_paths([examples_dir() / "models"]))
    platform.twins.put(tenant, "pump-1", {"$metadata": {"$model": PUMP}})
    key = platform.security.first_admin_key()
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(platform), raise_server_exceptions=False, headers=headers) as http:
        report = http.post("/v1/telemetry", json=POINTS).json()
        assert report["accepted"] == len(POINTS), report
        yield http


def expected(fields: list[str], start: int = 0, end: int = 60) -> list[tuple[str, str, Any]]:
    """(time, name, value) of the ingested points, in the export's order."""
    rows = [
        (p["time"], p["name"], p["value"])
        for p in POINTS
        if p["name"] in fields and start <= int(p["time"][-3:-1]) < end
    ]
    return sorted(rows, key=lambda r: (r[0], fields.index(r[1])))


def export(client: TestClient, fmt: str, fields: list[str] = FIELDS, **params: Any) -> Any:
    response = client.get(
        "/v1/twins/pump-1/export", params={"fields": fields, "format": fmt, **params}
    )
    assert response.status_code == 200, response.text
    return response


def as_tuples(table: pa.Table) -> list[tuple[str, str, Any]]:
    """Rows as (RFC 3339 second, name, value): numbers from ``value``, others from JSON."""
    out = []
    for row in table.to_pylist():
        moment = row["time"]
        text = moment if isinstance(moment, str) else moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        value = row["value"] if row["value"] is not None else json.loads(row["value_json"])
        out.append((text.replace(".000000Z", "Z"), row["name"], value))
    return out


def test_csv_export_round_trips_the_ingested_points(client: TestClient) -> None:
    response = export(client, "csv")
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == 'attachment; filename="pump-1-export.csv"'
    assert response.text.splitlines()[0] == "time,name,value,value_json,flags"
    assert response.text.splitlines()[1] == "2026-01-01T00:00:00.000000Z,flowRate,10.0,,veryLate"
    types = {"time": pa.string(), "value": pa.float64(), "value_json": pa.string()}
    table = pa_csv.read_csv(
        io.BytesIO(response.content),
        convert_options=pa_csv.ConvertOptions(column_types=types, strings_can_be_null=True),
    )
    assert table.column_names == ["time", "name", "value", "value_json", "flags"]
    assert as_tuples(table) == expected(FIELDS)


def test_parquet_export_round_trips_with_typed_columns(client: TestClient) -> None:
    response = export(client, "parquet")
    assert response.headers["content-type"] == "application/vnd.apache.parquet"
    assert response.headers["content-disposition"].endswith('filename="pump-1-export.parquet"')
    table = pq.read_table(io.BytesIO(response.content))
    assert table.schema.field("time").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("value").type == pa.float64()
    assert table.schema.field("value_json").type == pa.string()
    assert as_tuples(table) == expected(FIELDS)
    numbers = [v for v in table.column("value").to_pylist() if v is not None]
    assert all(isinstance(v, float) for v in numbers)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_the_range_includes_start_and_excludes_end(client: TestClient, fmt: str) -> None:
    response = export(client, fmt, start=at(1), end=at(4))
    if fmt == "csv":
        types = {"time": pa.string(), "value": pa.float64(), "value_json": pa.string()}
        options = pa_csv.ConvertOptions(column_types=types, strings_can_be_null=True)
        table = pa_csv.read_csv(io.BytesIO(response.content), convert_options=options)
    else:
        table = pq.read_table(io.BytesIO(response.content))
    assert as_tuples(table) == expected(FIELDS, 1, 4)
    epoch = parse_time(at(4)) // 1_000_000  # epoch seconds work as bounds too
    again = export(client, fmt, fields=["flowRate"], start=str(epoch))
    assert len(again.content) > 0


def test_an_empty_range_is_a_header_or_an_empty_table(client: TestClient) -> None:
    csv_text = export(client, "csv", start="2030-01-01T00:00:00Z").text
    assert csv_text.splitlines() == ["time,name,value,value_json,flags"]
    table = pq.read_table(
        io.BytesIO(export(client, "parquet", start="2030-01-01T00:00:00Z").content)
    )
    assert table.num_rows == 0 and table.column_names == [
        "time",
        "name",
        "value",
        "value_json",
        "flags",
    ]


def test_an_unknown_twin_is_404_and_so_is_another_tenants(
    client: TestClient, platform: Platform
) -> None:
    missing = client.get("/v1/twins/nope/export", params={"fields": "flowRate"})
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    other = f"{platform.settings.default_tenant}-other"  # fresh: PostgreSQL is shared
    acme = client.post("/v1/tenants", json={"tenant": other}).json()["adminKey"]
    theirs = client.get(
        "/v1/twins/pump-1/export",
        params={"fields": "flowRate"},
        headers={"Authorization": f"Bearer {acme}"},
    )
    assert theirs.status_code == 404


def test_an_unknown_field_is_422_naming_the_field_and_rule(client: TestClient) -> None:
    response = client.get("/v1/twins/pump-1/export", params={"fields": ["flowRate", "motor.nope"]})
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert (error["field"], error["rule"], error["value"]) == (
        "fields",
        "fieldDefined",
        "motor.nope",
    )
    assert PUMP in error["message"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"fields": "flowRate", "start": at(5), "end": at(1)}, "end"),
        ({"fields": "flowRate", "start": "soon"}, "start"),
        ({"fields": "flowRate", "format": "xlsx"}, "format"),
        ({}, "fields"),
    ],
)
def test_bad_parameters_are_422_naming_them(
    client: TestClient, params: dict[str, Any], field: str
) -> None:
    response = client.get("/v1/twins/pump-1/export", params=params)
    assert response.status_code == 422
    assert field in response.json()["errors"][0]["field"]


def test_a_viewer_may_export(client: TestClient, platform: Platform) -> None:
    root = Principal(platform.settings.default_tenant, "t", Role.ADMIN, None, "local")
    _, viewer = platform.security.create_key(root, name="v", role=Role.VIEWER)
    response = client.get(
        "/v1/twins/pump-1/export",
        params={"fields": "flowRate"},
        headers={"Authorization": f"Bearer {viewer}"},
    )
    assert response.status_code == 200
    assert len(response.text.splitlines()) == 7


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_long_histories_stream_page_by_page_merged_by_time(
    client: TestClient, platform: Platform, fmt: str
) -> None:
    what = ExportRange(platform.settings.default_tenant, "pump-1", tuple(FIELDS))
    chunks = list(export_chunks(platform.state, what, fmt, page_size=2))
    assert len(chunks) > 3  # one chunk per two rows, not one blob
    data = b"".join(chunks)
    if fmt == "parquet":
        assert pq.ParquetFile(io.BytesIO(data)).metadata.num_row_groups == 5
        table = pq.read_table(io.BytesIO(data))
    else:
        types = {"time": pa.string(), "value": pa.float64(), "value_json": pa.string()}
        options = pa_csv.ConvertOptions(column_types=types, strings_can_be_null=True)
        table = pa_csv.read_csv(io.BytesIO(data), convert_options=options)
    assert as_tuples(table) == expected(FIELDS)


def test_export_marks_very_late_points_and_only_those(
    client: TestClient, platform: Platform
) -> None:
    fresh = platform.ingest.now() // 1_000_000
    point = {"twin": "pump-1", "name": "speed", "value": 1500.0, "time": fresh}
    assert client.post("/v1/telemetry", json=[point]).json()["accepted"] == 1
    table = pq.read_table(io.BytesIO(export(client, "parquet", ["speed"]).content))
    assert [(r["value"], r["flags"]) for r in table.to_pylist()] == [
        (1450.0, "veryLate"),
        (1500.0, ""),
    ]
