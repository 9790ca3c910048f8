"""Secrets stay out of logs, errors, the audit log and world-readable configuration."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from twinops.api import create_app
from twinops.config import Settings, load_settings
from twinops.errors import InvalidInput
from twinops.platform import Platform


def test_keys_never_reach_logs_errors_or_the_audit(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    platform = Platform.open(Settings(data_dir=tmp_path, admin_key="seeded-admin-key-0123456789"))
    with caplog.at_level(logging.DEBUG), TestClient(create_app(platform)) as http:
        admin = {"Authorization": "Bearer seeded-admin-key-0123456789"}
        created = http.post("/v1/keys", json={"name": "ci", "role": "viewer"}, headers=admin)
        secret = created.json()["key"]
        wrong = http.get("/v1/twins", headers={"Authorization": f"Bearer {secret}x"})
        audit = http.get("/v1/audit", headers=admin).text
        listed = http.get("/v1/keys", headers=admin).text
    platform.close()
    assert wrong.status_code == 401
    for text in (wrong.text, audit, listed, caplog.text, repr(platform.settings)):
        assert secret not in text
        assert "seeded-admin-key-0123456789" not in text


def test_config_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "twinops.toml"
    config.write_text('admin_key = "a-secret-admin-key-0123456789"\n')
    config.chmod(0o644)
    with pytest.raises(InvalidInput) as exc:
        load_settings(config, environ={})
    assert "chmod 600" in exc.value.detail and "a-secret" not in exc.value.detail
    config.chmod(0o600)
    assert load_settings(config, environ={}).admin_key == "a-secret-admin-key-0123456789"


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    config = tmp_path / "twinops.toml"
    config.write_text("port = 9000\nrate_limit_burst = 10\n")
    config.chmod(0o600)
    settings = load_settings(config, environ={"TWINOPS_PORT": "9100", "TWINOPS_HOME": "/x"})
    assert (settings.port, settings.rate_limit_burst, str(settings.data_dir)) == (9100, 10, "/x")
