"""Schemathesis on the /v1/jobs operations, with ids of jobs that exist in every state.

The whole-API fuzz run (tests/api/test_fuzz_openapi.py) knows no job ids, so it mostly meets
"not found" here; this run seeds a succeeded, a failed, a cancelled and a queued job (and
mixes near-valid specs of the test kinds into the bodies) so the fuzzer reaches past it.
Whatever it sends: no 5xx, and every 4xx is a problem document.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

from twinops.api import create_app
from twinops.config import Settings
from twinops.platform import Platform
from twinops.security.entities import Role

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("TWINOPS_JOBS_FUZZ_EXAMPLES", "60"))
PROBLEM_JSON = "application/problem+json"
KNOWN: dict[str, list[str]] = {
    "job_id": [],
    "name": ["outputs/summary.json", "spec.json", "log.txt"],
}
_STATE: dict[str, Any] = {}


def _app_for_document() -> Any:
    from types import SimpleNamespace

    from twinops.obs import Metrics

    stand_in = SimpleNamespace(settings=Settings(), security=None, metrics=Metrics(lambda: 0))
    return create_app(stand_in)  # type: ignore[arg-type]


schema = schemathesis.openapi.from_asgi(
    "/openapi.json",
    _app_for_document(),
    config=schemathesis.Config.from_dict(
        {
            "generation": {"max-examples": EXAMPLES, "mode": "all"},
            "phases": {"examples": {"enabled": True}, "coverage": {"enabled": True}},
        }
    ),
).include(path_regex="^/v1/jobs")


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder: Path = tmp_path_factory.mktemp("jobs-fuzz")
    platform = Platform.open(
        Settings(
            data_dir=folder,
            jobs_test_kinds=True,
            jobs_workers=1,
            rate_limit_per_second=1e6,
            rate_limit_burst=10**6,
        )
    )
    tenant = platform.settings.default_tenant
    platform.start_jobs()

    def finished(body: dict[str, Any]) -> str:
        view = platform.jobs.submit(tenant, body, actor="key:fuzz", role=Role.ADMIN)
        return platform.jobs.wait(tenant, view.job.job_id, 60).job.job_id

    ids = [finished({"kind": "test.echo"}), finished({"kind": "test.crash"})]
    platform.jobs.stop()  # what the fuzzer submits stays queued
    for body in ({"kind": "test.echo", "seed": 1}, {"kind": "test.echo", "seed": 2}):
        ids.append(platform.jobs.submit(tenant, body, actor="key:fuzz", role=Role.ADMIN).job.job_id)
    platform.jobs.cancel(tenant, ids[-1], actor="key:fuzz")
    KNOWN["job_id"] = ids
    headers = {"Authorization": f"Bearer {platform.security.first_admin_key()}"}
    app = create_app(platform)
    with TestClient(app, raise_server_exceptions=False, headers=headers):
        yield {"app": app, "headers": headers}
    platform.close()


@schema.hook
def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> Any:
    """Half the cases address a job (and artifact) that exists."""
    names = [name for name in path_parameters or {} if KNOWN.get(name)]
    if not names:
        return st.just(path_parameters)
    known = st.fixed_dictionaries(
        {
            **{name: st.just(value) for name, value in (path_parameters or {}).items()},
            **{name: st.sampled_from(KNOWN[name]) for name in names},
        }
    )
    return st.one_of(st.just(path_parameters), known)


_values = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10)
)
_SPECS = st.fixed_dictionaries(
    {"kind": st.sampled_from(["test.echo", "test.sleep", "test.die", "what-if", "sweep", "x"])},
    optional={
        "seed": _values,
        "rows": _values,
        "seconds": _values,
        "priority": _values,
        "timeoutSeconds": _values,
        "dieAttempts": _values,
    },
)


@schema.hook
def flatmap_body(context: Any, body: Any) -> Any:
    """Half of the submitted bodies are near-valid specs."""
    if context.operation.label != "POST /v1/jobs":
        return st.just(body)
    return st.one_of(st.just(body), _SPECS)


def is_problem(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every 4xx is an RFC 7807 problem document."""
    if 400 <= response.status_code < 500:
        content_type = response.headers.get("content-type", [""])[0]
        assert content_type.startswith(PROBLEM_JSON), content_type
        body = response.json()
        assert body.get("status") == response.status_code and body.get("detail"), body
    return None


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_no_job_operation_fails_on_the_server(case: Any, seeded: dict[str, Any]) -> None:
    response = case.call(app=seeded["app"], headers=seeded["headers"])
    case.validate_response(response, checks=[not_a_server_error, is_problem])
