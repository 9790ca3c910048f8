"""Fixtures for the job tests: platforms with the test kinds, and one local Ray per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jobhelp import PG_URL, MakePlatform

from twinops.config import Settings
from twinops.platform import Platform


@pytest.fixture
def make_platform(tmp_path: Path, tenant: str) -> Iterator[MakePlatform]:
    """Build platforms with the test kinds (SQLite unless ``backend="postgres"``); all closed.

    The runner of each is scoped to this test's tenant, so tests sharing the PostgreSQL
    database never run each other's jobs.
    """
    opened: list[Platform] = []

    def make(
        *,
        start: bool = True,
        backend: str = "sqlite",
        data_dir: Path | None = None,
        **overrides: Any,
    ) -> Platform:
        defaults: dict[str, Any] = {
            "data_dir": data_dir or tmp_path / "data",
            "database_url": PG_URL if backend == "postgres" else "",
            "default_tenant": tenant,
            "jobs_test_kinds": True,
            "jobs_workers": 2,
            "jobs_retry_backoff_seconds": 0.05,
            "jobs_tenants": tenant,
        }
        platform = Platform.open(Settings(**{**defaults, **overrides}))
        opened.append(platform)
        if start:
            platform.start_jobs()
        return platform

    yield make
    for platform in opened:
        platform.close()


@pytest.fixture(scope="session")
def ray_session() -> Iterator[Any]:
    """One local Ray for the whole session: starting Ray is slow."""
    import ray  # in the dev extra: a missing Ray must fail the suite, not skip it

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()
