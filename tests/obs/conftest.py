"""Fixtures for the observability tests: the shared platform with pumps, and its app."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from obshelp import PUMP, admin_headers

from twinops.api import create_app
from twinops.demo import examples_dir
from twinops.models.dtdl import load_paths
from twinops.platform import Platform


@pytest.fixture
def obs_platform(platform: Platform) -> Platform:
    """The shared (SQLite and PostgreSQL) platform fixture, with the pump models and twins."""
    tenant = platform.settings.default_tenant
    platform.models.upload(tenant, load_paths([examples_dir() / "models"]))
    platform.twins.put(tenant, "pump-1", {"$metadata": {"$model": PUMP}})
    platform.twins.put(tenant, "pump-2", {"$metadata": {"$model": PUMP}})
    return platform


@pytest.fixture
def client(obs_platform: Platform) -> Iterator[TestClient]:
    """An app on the platform, authenticated as its first admin."""
    with TestClient(
        create_app(obs_platform), raise_server_exceptions=False, headers=admin_headers(obs_platform)
    ) as http:
        yield http
