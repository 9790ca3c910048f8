"""Helpers the observability tests share: platforms with the pump models and test job kinds."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from twinops.config import Settings
from twinops.demo import examples_dir
from twinops.models.dtdl import load_paths
from twinops.platform import Platform

PUMP = "dtmi:twinops:example:Pump;1"
PG_URL_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/twinops_test"
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def open_platform(
    tmp_path: Path, tenant: str, backend: str = "sqlite", **overrides: Any
) -> Platform:
    """A platform with the test job kinds whose runner serves only ``tenant``; pumps loaded."""
    url = "" if backend == "sqlite" else os.environ.get("TWINOPS_TEST_PG_URL", PG_URL_DEFAULT)
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=url,
        default_tenant=tenant,
        jobs_test_kinds=True,
        jobs_workers=1,
        jobs_tenants=tenant,
        **overrides,
    )
    platform = Platform.open(settings)
    platform.models.upload(tenant, load_paths([examples_dir() / "models"]))
    platform.twins.put(tenant, "pump-1", {"$metadata": {"$model": PUMP}})
    platform.twins.put(tenant, "pump-2", {"$metadata": {"$model": PUMP}})
    return platform


def admin_headers(platform: Platform) -> dict[str, str]:
    return {"Authorization": f"Bearer {platform.security.first_admin_key()}"}
