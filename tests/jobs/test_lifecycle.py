"""The job lifecycle: an enum plus a table of allowed transitions that refuses the rest."""

from __future__ import annotations

import itertools

import pytest

from twinops.errors import Conflict
from twinops.jobs.entities import (
    TRANSITIONS,
    JobStatus,
    TransitionRefused,
    check_transition,
    refusal_reason,
)
from twinops.jobs.kinds import default_kinds


def test_the_table_allows_the_issue_lifecycle() -> None:
    path = [JobStatus.SUBMITTED, JobStatus.QUEUED, JobStatus.RUNNING]
    for source, target in itertools.pairwise(path):
        check_transition("j", source, target)
    for end in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED):
        check_transition("j", JobStatus.RUNNING, end)
    check_transition("j", JobStatus.QUEUED, JobStatus.CANCELLED)
    check_transition("j", JobStatus.RUNNING, JobStatus.QUEUED)  # an infrastructure retry


def test_transitions_outside_the_table_are_refused() -> None:
    refused = 0
    for source, target in itertools.product(JobStatus, JobStatus):
        if target in TRANSITIONS[source]:
            assert refusal_reason(source, target) is None
            continue
        with pytest.raises(TransitionRefused) as caught:
            check_transition("job-1", source, target)
        refused += 1
        error = caught.value
        assert isinstance(error, Conflict) and error.status == 409
        assert f"from {source} to {target}" in error.detail
        assert error.reason and error.reason in error.detail
    assert refused == len(JobStatus) ** 2 - sum(len(t) for t in TRANSITIONS.values())


def test_a_finished_job_never_changes() -> None:
    for source in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED):
        assert source.terminal and not TRANSITIONS[source]
        reason = refusal_reason(source, JobStatus.QUEUED)
        assert reason is not None and "finished" in reason


def test_test_kinds_are_registered_only_when_asked_for() -> None:
    production = default_kinds()
    assert not [name for name in production.names() if name.startswith("test.")]
    assert "scenario" in production.names()
    assert "test.echo" in default_kinds(test_kinds=True).names()


def test_the_scenario_kind_accepts_every_kind_of_scenario_spec() -> None:
    from twinops.sim import scenario

    kind = default_kinds().get("scenario")
    assert set(kind.aliases) == set(scenario.KINDS)
    for name in scenario.KINDS:
        assert default_kinds().get(name) is not None
