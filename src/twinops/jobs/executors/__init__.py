"""Executors: where job attempts run. A local process pool by default, Ray when configured."""

from __future__ import annotations

from twinops.errors import InvalidInput
from twinops.jobs.config import JobSettings
from twinops.jobs.executors.base import DoneEvent, Executor, ExecutorEvent, ProgressEvent


def make_executor(settings: JobSettings) -> Executor:
    """The executor the settings name (Ray is imported only when chosen)."""
    if settings.executor == "ray":
        from twinops.jobs.executors.ray_cluster import RayExecutor

        try:
            return RayExecutor(settings.ray_address, settings.workers)
        except ImportError as exc:
            raise InvalidInput.single(
                "jobs_executor",
                "available",
                "the Ray executor needs Ray: pip install 'twinops[ray]'",
                "ray",
            ) from exc
    from twinops.jobs.executors.local import LocalProcessExecutor

    return LocalProcessExecutor(settings.workers)


__all__ = ["DoneEvent", "Executor", "ExecutorEvent", "ProgressEvent", "make_executor"]
