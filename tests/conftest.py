"""Fixtures shared by every test: real databases (SQLite file, PostgreSQL server) and platforms."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from twinops.config import Settings
from twinops.storage import Database, open_database

if TYPE_CHECKING:
    from twinops.platform import Platform

REPO = Path(__file__).resolve().parents[1]
PG_URL = os.environ.get(
    "TWINOPS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/twinops_test"
)
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def data_dir() -> Path:
    """The shared real-data folder (``TWINOPS_DATA_DIR`` or ``../shared/data``)."""
    return Path(os.environ.get("TWINOPS_DATA_DIR", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def pg_database() -> Iterator[Database]:
    """The real PostgreSQL server the test command started (a failure, not a skip, if absent)."""
    db = open_database(PG_URL)
    yield db
    db.dispose()


@pytest.fixture
def tenant() -> str:
    """A fresh tenant per test, so tests sharing the PostgreSQL database never see each other."""
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated database on each backend."""
    if request.param == "sqlite":
        db = open_database(f"sqlite:///{tmp_path / 'twinops.db'}")
        yield db
        db.dispose()
    else:
        yield request.getfixturevalue("pg_database")


@pytest.fixture(params=BACKENDS)
def platform(request: pytest.FixtureRequest, tmp_path: Path, tenant: str) -> Iterator[Platform]:
    """A platform on each backend, whose default tenant is this test's fresh tenant."""
    from twinops.platform import Platform

    url = "" if request.param == "sqlite" else PG_URL
    settings = Settings(data_dir=tmp_path / "data", database_url=url, default_tenant=tenant)
    built = Platform.open(settings)
    yield built
    built.close()
