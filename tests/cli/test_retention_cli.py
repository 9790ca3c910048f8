"""``twinops retention`` on the local data folder: set, show, apply, and a refused policy."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from twinops.cli.main import app

runner = CliRunner()


def test_retention_set_show_apply_on_local_data_dir(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    policies = tmp_path / "retention.json"
    policies.write_text(json.dumps([{"model": "*", "field": "*", "keep": "90d"}]))
    set_ = runner.invoke(app, ["retention", "set", str(policies), *data])
    assert set_.exit_code == 0, set_.output
    shown = json.loads(runner.invoke(app, ["retention", "show", *data]).stdout)
    assert shown == {
        "policies": [{"model": "*", "field": "*", "keep": "90d", "keepSeconds": 90 * 86400}]
    }
    applied = runner.invoke(app, ["retention", "apply", *data])
    assert applied.exit_code == 0, applied.output
    assert json.loads(applied.stdout)["total"] == 0


def test_retention_set_refuses_a_short_keep_naming_the_rule(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    policies = tmp_path / "retention.json"
    policies.write_text(json.dumps({"policies": [{"keep": "5m"}]}))
    result = runner.invoke(app, ["retention", "set", str(policies), *data])
    assert result.exit_code == 1
    assert "policies[0].keep: [minimum]" in result.stderr
