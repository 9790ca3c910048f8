"""``twinops telemetry replay`` and ``export`` on the local data folder."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from conftest import data_dir
from support import REPO_EXAMPLES
from twinops.cli.main import app

runner = CliRunner()
PUMP = "dtmi:twinops:example:Pump;1"


@pytest.fixture
def local(tmp_path: Path) -> list[str]:
    """A data folder holding the example models and pump ``p1``; its ``--data-dir`` option."""
    data = ["--data-dir", str(tmp_path / "data")]
    models = REPO_EXAMPLES / "models"
    assert runner.invoke(app, ["models", "upload", str(models), *data]).exit_code == 0
    body = tmp_path / "p1.json"
    body.write_text(json.dumps({"$metadata": {"$model": PUMP}}))
    put = runner.invoke(app, ["twins", "put", "p1", str(body), *data])
    assert put.exit_code == 0, put.output
    return data


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    """A CSV of pressure (bar) and flow (l/min) and its mapping, with no twin named."""
    csv_file = tmp_path / "run.csv"
    csv_file.write_text(
        "time,pressure,flow\n"
        "2026-01-01T00:00:00Z,1.0,60\n"
        "2026-01-01T00:00:01Z,,120\n"
        "2026-01-01T00:00:02Z,3.0,180\n"
    )
    mapping = tmp_path / "mapping.json"
    mapping.write_text(
        json.dumps(
            {
                "time": {"column": "time"},
                "values": [
                    {"column": "pressure", "name": "dischargePressure", "unit": "bar"},
                    {"column": "flow", "name": "flowRate", "unit": "l/min"},
                ],
            }
        )
    )
    return csv_file, mapping


def replay(*args: str) -> dict[str, object]:
    result = runner.invoke(app, ["telemetry", "replay", *args])
    assert result.exit_code == 0, result.output
    summary: dict[str, object] = json.loads(result.stdout)
    return summary


def test_replay_prints_the_summary_and_a_second_replay_only_duplicates(
    local: list[str], files: tuple[Path, Path]
) -> None:
    csv_file, mapping = files
    args = [str(csv_file), "--mapping", str(mapping), "--twin", "p1", "--batch", "2", *local]
    first = replay(*args)
    assert {k: first[k] for k in ("rows", "points", "accepted", "missing", "batches")} == {
        "rows": 3,
        "points": 5,
        "accepted": 5,
        "missing": 1,
        "batches": 3,
    }
    second = replay(*args, "--as-fast-as-possible")
    assert (second["accepted"], second["duplicates"]) == (0, 5)


def test_replayed_points_are_counted_under_the_file_in_data_quality(
    local: list[str], files: tuple[Path, Path], tmp_path: Path
) -> None:
    from twinops.config import Settings
    from twinops.platform import Platform

    csv_file, mapping = files
    replay(str(csv_file), "--mapping", str(mapping), "--twin", "p1", *local)
    platform = Platform.open(Settings(data_dir=tmp_path / "data"))
    try:
        [quality] = platform.state.quality(platform.settings.default_tenant, "p1")
    finally:
        platform.close()
    assert quality.source == "file:run.csv@http:local-cli"
    assert quality.accepted == 5


def test_export_writes_parquet_and_csv_of_what_was_replayed(
    local: list[str], files: tuple[Path, Path], tmp_path: Path
) -> None:
    csv_file, mapping = files
    replay(str(csv_file), "--mapping", str(mapping), "--twin", "p1", *local)
    out = tmp_path / "out.parquet"
    fields = ["--field", "dischargePressure", "--field", "flowRate"]
    result = runner.invoke(app, ["telemetry", "export", "p1", *fields, "--out", str(out), *local])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["format"] == "parquet" and printed["bytes"] == out.stat().st_size
    rows = pq.read_table(out).to_pylist()
    assert [(r["name"], round(r["value"], 6)) for r in rows] == [
        ("dischargePressure", 100.0),
        ("flowRate", 3.6),
        ("flowRate", 7.2),
        ("dischargePressure", 300.0),
        ("flowRate", 10.8),
    ]
    assert not list(tmp_path.glob("*.partial"))
    window = ["--start", "2026-01-01T00:00:01Z", "--end", "2026-01-01T00:00:02Z"]
    piped = runner.invoke(
        app, ["telemetry", "export", "p1", *fields, *window, "--out", "-", *local]
    )
    assert piped.exit_code == 0, piped.output
    table = pa_csv.read_csv(io.BytesIO(piped.stdout_bytes))
    assert table.to_pylist() == [
        {
            "time": table.column("time")[0].as_py(),
            "name": "flowRate",
            "value": pytest.approx(7.2),
            "value_json": None,
            "flags": "veryLate",  # 2026-01-01 is long past: a replay of old data is very late
        }
    ]


def test_a_skab_file_replays_through_the_example_mapping(local: list[str]) -> None:
    skab = data_dir() / "skab" / "valve1" / "0.csv"
    mapping = REPO_EXAMPLES / "skab-mapping.json"
    summary = replay(str(skab), "--mapping", str(mapping), "--twin", "p1", *local)
    assert summary["quarantined"] == 0 and summary["missing"] == 0
    assert summary["accepted"] == summary["points"] == 7 * int(str(summary["rows"]))


def test_an_invalid_mapping_exits_2_naming_the_field(
    local: list[str], files: tuple[Path, Path], tmp_path: Path
) -> None:
    csv_file, _ = files
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"time": {"column": "time", "format": "julian"}, "values": []}))
    result = runner.invoke(
        app, ["telemetry", "replay", str(csv_file), "--mapping", str(bad), *local]
    )
    assert result.exit_code == 2
    assert "mapping.time.format" in result.stderr and "mapping.values" in result.stderr


def test_replay_without_a_twin_exits_2(local: list[str], files: tuple[Path, Path]) -> None:
    csv_file, mapping = files
    result = runner.invoke(
        app, ["telemetry", "replay", str(csv_file), "--mapping", str(mapping), *local]
    )
    assert result.exit_code == 2 and "twin" in result.stderr


def test_speed_and_as_fast_as_possible_exclude_each_other(
    local: list[str], files: tuple[Path, Path]
) -> None:
    csv_file, mapping = files
    args = [str(csv_file), "--mapping", str(mapping), "--twin", "p1", *local]
    result = runner.invoke(
        app, ["telemetry", "replay", *args, "--speed", "2", "--as-fast-as-possible"]
    )
    assert result.exit_code == 2
    stopped = runner.invoke(app, ["telemetry", "replay", *args, "--speed", "0"])
    assert stopped.exit_code == 2 and "speed" in stopped.stderr


def test_export_of_an_unknown_field_exits_1_naming_it(local: list[str], tmp_path: Path) -> None:
    out = tmp_path / "x.csv"
    result = runner.invoke(
        app, ["telemetry", "export", "p1", "--field", "nope", "--out", str(out), *local]
    )
    assert result.exit_code == 1
    assert "fieldDefined" in result.stderr and "nope" in result.stderr
    assert not out.exists()
