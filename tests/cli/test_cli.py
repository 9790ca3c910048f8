"""The ``twinops`` command: exit codes and output, on the local data folder."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from support import REPO_EXAMPLES, interface, prop, pump, sample_models
from twinops.cli.main import app

runner = CliRunner()


def write_models(folder: Path, documents: list[dict[str, object]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index, document in enumerate(documents):
        (folder / f"m{index}.json").write_text(json.dumps(document))
    return folder


def test_models_validate_exits_zero_on_the_example_fleet() -> None:
    result = runner.invoke(app, ["models", "validate", str(REPO_EXAMPLES / "models")])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["valid"] is True


def test_models_validate_exits_one_and_names_the_file(tmp_path: Path) -> None:
    broken = interface("dtmi:test:Broken;1", prop("x", "notAType"))
    folder = write_models(tmp_path / "m", [broken])
    result = runner.invoke(app, ["models", "validate", str(folder)])
    assert result.exit_code == 1
    assert "m0.json" in result.stderr


def test_upload_then_twin_commands_on_local_data_dir(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    folder = write_models(tmp_path / "m", sample_models())
    assert runner.invoke(app, ["models", "upload", str(folder), *data]).exit_code == 0
    body = tmp_path / "p1.json"
    body.write_text(json.dumps(pump(ratedFlow=3.0)))
    put = runner.invoke(app, ["twins", "put", "p1", str(body), *data])
    assert put.exit_code == 0, put.output
    got = runner.invoke(app, ["twins", "get", "p1", *data])
    assert json.loads(got.stdout)["ratedFlow"] == 3.0
    query = runner.invoke(app, ["query", "SELECT COUNT() FROM DIGITALTWINS", *data])
    assert json.loads(query.stdout) == [{"COUNT": 1}]
    missing = runner.invoke(app, ["twins", "get", "nope", *data])
    assert missing.exit_code == 1 and "does not exist" in missing.stderr


def test_keys_and_audit_commands_on_local_data_dir(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    created = runner.invoke(app, ["keys", "create", "--name", "ci", "--role", "viewer", *data])
    assert created.exit_code == 0, created.output
    key = json.loads(created.stdout)
    assert key["key"].startswith("tok_") and key["role"] == "viewer"
    listed = json.loads(runner.invoke(app, ["keys", "list", *data]).stdout)
    assert [k["id"] for k in listed] == [key["id"]] and "key" not in listed[0]
    assert runner.invoke(app, ["keys", "revoke", key["id"], *data]).exit_code == 0
    verified = runner.invoke(app, ["audit", "verify", *data])
    assert verified.exit_code == 0 and json.loads(verified.stdout)["intact"] is True


def test_audit_verify_exits_one_naming_the_tampered_record(tmp_path: Path) -> None:
    import sqlite3

    data = ["--data-dir", str(tmp_path / "data")]
    for name in ("a", "b", "c"):
        runner.invoke(app, ["keys", "create", "--name", name, "--role", "viewer", *data])
    with sqlite3.connect(tmp_path / "data" / "twinops.db") as conn:
        conn.execute("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 2")
    result = runner.invoke(app, ["audit", "verify", *data])
    assert result.exit_code == 1
    assert "record 2" in result.stderr
