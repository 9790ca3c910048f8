"""``twinops registry`` on a local data folder: register, alias, gate refusal, rollback."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from twinops.cli.main import app

runner = CliRunner()


def test_registry_commands_register_move_refuse_and_roll_back(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    version = tmp_path / "pump.yaml"
    version.write_text(
        "model: twinops.sim.library.pump:PumpModel\n"
        "parameters: {shutoffHeadRatio: 1.3}\n"
        "thresholds: {flowRate: {rmse: 5}}\n"
        "notes: from the commissioning test\n"
    )
    for _ in range(2):
        registered = runner.invoke(app, ["registry", "register", "pump", str(version), *data])
        assert registered.exit_code == 0, registered.output
    assert json.loads(registered.stdout)["version"] == 2
    for number in ("1", "2"):
        moved = runner.invoke(app, ["registry", "alias", "pump", "candidate", number, *data])
        assert moved.exit_code == 0, moved.output
    refused = runner.invoke(app, ["registry", "alias", "pump", "production", "2", *data])
    assert refused.exit_code != 0
    assert "no validation evidence" in refused.output
    back = runner.invoke(app, ["registry", "rollback", "pump", "candidate", *data])
    assert back.exit_code == 0 and json.loads(back.stdout)["to"] == 1
    shown = json.loads(runner.invoke(app, ["registry", "show", "pump", "candidate", *data]).stdout)
    assert shown["version"] == 1 and shown["gate"]["passed"] is False
    moves = json.loads(runner.invoke(app, ["registry", "history", "pump", *data]).stdout)
    assert [m["to"] for m in moves] == [1, 2, 1]
    listed = json.loads(runner.invoke(app, ["registry", "list", *data]).stdout)
    assert listed[0]["aliases"] == {"candidate": 1}
