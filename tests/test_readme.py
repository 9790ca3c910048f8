"""The README's command lines run as written, so the documentation cannot rot."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from twinops.cli.main import app
from twinops.config import Settings
from twinops.demo import load_demo
from twinops.platform import Platform

REPO = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    lines = [line.split("  #")[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line.startswith(("twinops ", "python "))]


def test_readme_has_exactly_two_quick_start_commands() -> None:
    text = (REPO / "README.md").read_text()
    quick = re.search(r"## Quick start\n\n```bash\n(.*?)```", text, flags=re.S)
    assert quick is not None
    commands = [line for line in quick.group(1).splitlines() if line.strip()]
    assert [c.split()[0] for c in commands] == ["./scripts/demo.sh", "./scripts/test.sh"]
    ci = (REPO / ".ci" / "run").read_text()
    assert "scripts/test.sh" in ci


def test_readme_commands_run_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    commands = readme_commands()
    assert len(commands) >= 5
    monkeypatch.chdir(tmp_path)
    (tmp_path / "examples").symlink_to(REPO / "examples")
    platform = Platform.open(Settings(data_dir=tmp_path / "twinops-data"))
    load_demo(platform)
    platform.close()
    for command in commands:
        argv = shlex.split(command.replace("\\$", "$"))
        if argv[0] == "python":
            done = subprocess.run([sys.executable, *argv[1:]], capture_output=True, text=True)
            assert done.returncode == 0, (command, done.stderr)
            continue
        result = CliRunner().invoke(app, argv[1:], env={**os.environ, "TWINOPS_URL": ""})
        assert result.exit_code == 0, (command, result.output)
