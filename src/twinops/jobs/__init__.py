"""Jobs: a persisted queue of simulation and calibration runs, executors, artifacts.

``service.JobService`` is the entry point; ``kinds`` says what a job does, ``executors``
where its attempts run (a local process pool or Ray), ``runner`` moves jobs through them,
and every run's inputs and outputs are kept content-addressed for ``reproduce``.
"""

from twinops.jobs.entities import ErrorKind, Job, JobError, JobStatus, JobView, TransitionRefused
from twinops.jobs.kinds import (
    JobKind,
    KindOutput,
    KindRegistry,
    PrepareContext,
    Prepared,
    RunContext,
)
from twinops.jobs.service import JobService

__all__ = [
    "ErrorKind",
    "Job",
    "JobError",
    "JobKind",
    "JobService",
    "JobStatus",
    "JobView",
    "KindOutput",
    "KindRegistry",
    "PrepareContext",
    "Prepared",
    "RunContext",
    "TransitionRefused",
]
