"""The Ray executor: attempts as Ray tasks, on a local Ray or a cluster (``ray_address``).

Ray's own retries are off (``max_retries=0``): the runner counts attempts and decides what
is retried. Progress goes to a small actor that the executor drains when polled. Cancel and
timeouts use ``ray.cancel(force=True)``, which kills the worker process.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from twinops.jobs.executors.base import DoneEvent, Executor, ExecutorEvent, ProgressEvent
from twinops.jobs.worker import (
    InfraFailed,
    Task,
    TaskKey,
    WorkResult,
    execute,
)

log = logging.getLogger("twinops.jobs")
_PROGRESS_EVERY = 0.2


class ProgressBoard:
    """A Ray actor holding the latest progress of each attempt until the executor drains it."""

    def __init__(self) -> None:
        self._latest: dict[TaskKey, tuple[float, str]] = {}

    def report(self, key: TaskKey, fraction: float, message: str) -> None:
        """Record an attempt's progress (the newest report wins)."""
        self._latest[key] = (fraction, message)

    def drain(self) -> dict[TaskKey, tuple[float, str]]:
        """Everything reported since the last drain."""
        latest, self._latest = self._latest, {}
        return latest


def run_on_ray(task: Task, board: Any) -> WorkResult:
    """The Ray task: one attempt, its progress sent to ``board``."""

    def report(fraction: float, message: str) -> None:
        board.report.remote(task.key, fraction, message)

    return execute(task, report)


class RayExecutor(Executor):
    """Attempts as Ray tasks of one CPU each; at most ``capacity`` in flight."""

    name = "ray"

    def __init__(self, address: str, workers: int) -> None:
        import ray

        # Ray's own annotations do not follow its dynamic ``.remote`` API: treat it as Any.
        self._ray: Any = ray
        self._owns = False
        if not self._ray.is_initialized():
            if address:
                self._ray.init(address=address, include_dashboard=False, log_to_driver=False)
            else:
                self._ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
            self._owns = True
        self._address = address or "local"
        # A local Ray runs on this machine; a cluster's workers may not see our files.
        self.shares_files = not address
        self._capacity = max(1, workers)
        self._run: Any = self._ray.remote(num_cpus=1, max_retries=0)(run_on_ray)
        self._board: Any = self._ray.remote(num_cpus=0)(ProgressBoard).remote()
        self._refs: dict[Any, TaskKey] = {}
        self._next_drain = 0.0

    @property
    def capacity(self) -> int:
        return self._capacity

    def submit(self, task: Task) -> None:
        ref = self._run.remote(task, self._board)
        self._refs[ref] = task.key

    def poll(self, timeout: float) -> list[ExecutorEvent]:
        if not self._refs:
            return []
        ray = self._ray
        refs = list(self._refs)
        ready, _ = ray.wait(refs, num_returns=1, timeout=timeout)
        if ready:
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
        events: list[ExecutorEvent] = self._progress()
        for ref in ready:
            key = self._refs.pop(ref)
            try:
                result: WorkResult = ray.get(ref)
            except Exception as exc:
                # The attempt itself catches every model error: whatever surfaces here is Ray's
                # (worker crashed or killed, node or object lost).
                result = InfraFailed(f"the Ray task was lost: {type(exc).__name__}: {exc}"[:2000])
            events.append(DoneEvent(key, result))
        return events

    def _progress(self) -> list[ExecutorEvent]:
        # A round trip to the actor: at most every _PROGRESS_EVERY, never once per result.
        now = time.monotonic()
        if now < self._next_drain:
            return []
        self._next_drain = now + _PROGRESS_EVERY
        try:
            latest: dict[TaskKey, tuple[float, str]] = self._ray.get(
                self._board.drain.remote(), timeout=10
            )
        except Exception:
            log.exception("could not read job progress from Ray")
            return []
        flying = set(self._refs.values())
        return [
            ProgressEvent(key, fraction, message)
            for key, (fraction, message) in latest.items()
            if key in flying
        ]

    def cancel(self, key: TaskKey) -> None:
        for ref, held in list(self._refs.items()):
            if held == key:
                del self._refs[ref]
                try:
                    self._ray.cancel(ref, force=True)
                except Exception:
                    log.exception("could not cancel a Ray task")

    def close(self) -> None:
        for key in list(self._refs.values()):
            self.cancel(key)
        try:
            self._ray.kill(self._board)
        except Exception:
            log.debug("the progress actor was already gone", exc_info=True)
        if self._owns:
            self._ray.shutdown()

    def problem(self) -> str | None:
        return None if self._ray.is_initialized() else "Ray is not connected"

    def describe(self) -> dict[str, Any]:
        return {
            "executor": self.name,
            "address": self._address,
            "workers": self._capacity,
            "busy": len(self._refs),
        }
