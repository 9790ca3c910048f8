"""``twinops jobs`` on the local data folder: submit --wait --json, reproduce, log, list."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from twinops.cli.main import app


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("TWINOPS_JOBS_TEST_KINDS", "1")
    monkeypatch.setenv("TWINOPS_JOBS_RETRY_BACKOFF_SECONDS", "0.05")
    monkeypatch.delenv("TWINOPS_URL", raising=False)
    data = ["--data-dir", str(tmp_path / "data")]
    runner = CliRunner()

    def invoke(*args: str) -> Any:
        return runner.invoke(app, ["jobs", *args, *data])

    return invoke


def spec_file(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def last_json(stdout: str) -> dict[str, Any]:
    line = stdout.strip().splitlines()[-1]
    value: dict[str, Any] = json.loads(line)
    return value


def test_submit_wait_json_then_reproduce(cli: Any, tmp_path: Path) -> None:
    spec = spec_file(tmp_path, "echo.yaml", "kind: test.echo\nseed: 12\nrows: 50\n")
    submitted = cli("submit", spec, "--wait", "--json")
    assert submitted.exit_code == 0, submitted.output
    job = last_json(submitted.stdout)
    assert job["status"] == "succeeded" and job["id"].startswith("job-")
    reproduced = cli("reproduce", job["id"])
    assert reproduced.exit_code == 0, reproduced.output
    assert "every output hash matches" in reproduced.stderr
    assert "match    outputs/values.parquet" in reproduced.stdout
    got = json.loads(cli("get", job["id"]).stdout)
    assert got["outputs"] == job["outputs"]
    log = cli("log", job["id"])
    assert log.exit_code == 0 and "succeeded in" in log.stdout
    listed = json.loads(cli("list", "--status", "succeeded").stdout)
    assert {j["id"] for j in listed} >= {job["id"]} and len(listed) == 2
    summary = json.loads(cli("summary", job["id"]).stdout)
    assert summary["rows"] == 50


def test_a_failing_job_exits_one_with_its_reason(cli: Any, tmp_path: Path) -> None:
    spec = spec_file(tmp_path, "crash.json", json.dumps({"kind": "test.crash"}))
    result = cli("submit", spec, "--wait", "--json")
    assert result.exit_code == 1
    assert last_json(result.stdout)["status"] == "failed"
    assert "diverged" in result.stderr and "twinops jobs log" in result.stderr


def test_reproduce_exits_one_and_names_what_differs(cli: Any, tmp_path: Path) -> None:
    spec = spec_file(tmp_path, "noisy.yaml", "kind: test.noisy\n")
    job = last_json(cli("submit", spec, "--wait", "--json").stdout)
    result = cli("reproduce", job["id"])
    assert result.exit_code == 1
    assert "DIFFERS  outputs/summary.json" in result.stdout
    assert "did not reproduce" in result.stderr and "outputs/summary.json" in result.stderr


def test_submit_without_wait_queues_and_cancel_cancels(cli: Any, tmp_path: Path) -> None:
    spec = spec_file(tmp_path, "echo.yaml", "kind: test.echo\npriority: 5\n")
    queued = cli("submit", spec, "--json")
    assert queued.exit_code == 0 and "runs when `twinops serve` does" in queued.stderr
    job = last_json(queued.stdout)
    assert job["status"] == "queued" and job["priority"] == 5
    cancelled = json.loads(cli("cancel", job["id"]).stdout)
    assert cancelled["status"] == "cancelled"


def test_a_bad_spec_file_is_refused(cli: Any, tmp_path: Path) -> None:
    spec = spec_file(tmp_path, "bad.yaml", "- just\n- a list\n")
    result = cli("submit", spec)
    assert result.exit_code == 2 and "Invalid value" in result.output
    unknown = cli("submit", spec_file(tmp_path, "u.yaml", "kind: nope\n"))
    assert unknown.exit_code == 1 and "kind" in unknown.stderr
