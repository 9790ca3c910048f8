"""Helpers the job tests share."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from twinops.jobs.entities import JobView
from twinops.platform import Platform
from twinops.security.entities import Role

PG_URL = os.environ.get(
    "TWINOPS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/twinops_test"
)
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
MakePlatform = Callable[..., Platform]


def submit(
    platform: Platform,
    body: dict[str, Any],
    *,
    tenant: str | None = None,
    role: Role = Role.OPERATOR,
) -> JobView:
    """Submit as an operator of the platform's default tenant (or ``tenant``)."""
    return platform.jobs.submit(
        tenant or platform.settings.default_tenant, body, actor="key:test", role=role
    )


def run(platform: Platform, body: dict[str, Any], timeout: float = 60.0) -> JobView:
    """Submit and wait until the job has finished."""
    view = submit(platform, body)
    return platform.jobs.wait(view.job.tenant, view.job.job_id, timeout)
