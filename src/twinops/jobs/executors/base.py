"""The executor interface: where attempts run. ``submit / poll / cancel``, nothing more.

The runner decides what runs when (priorities, quotas, timeouts, retries); an executor only
runs attempts on workers it can kill, and reports progress and outcomes when polled.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from twinops.jobs.worker import Task, TaskKey, WorkResult


@dataclass(frozen=True)
class ProgressEvent:
    """A running attempt reported how far it is."""

    key: TaskKey
    fraction: float
    message: str


@dataclass(frozen=True)
class DoneEvent:
    """An attempt ended: succeeded, failed in the model, or lost to the infrastructure."""

    key: TaskKey
    result: WorkResult


ExecutorEvent = ProgressEvent | DoneEvent


class Executor(ABC):
    """Runs attempts on workers; a crashing or hanging attempt cannot harm the caller."""

    name: str
    shares_files: bool = False  # its workers see this server's files (the artifact folder)

    @property
    @abstractmethod
    def capacity(self) -> int:
        """How many attempts may run at once."""

    @abstractmethod
    def submit(self, task: Task) -> None:
        """Start an attempt (the caller keeps in-flight attempts within ``capacity``)."""

    @abstractmethod
    def poll(self, timeout: float) -> list[ExecutorEvent]:
        """Progress and outcomes since the last poll, waiting up to ``timeout`` s for one."""

    @abstractmethod
    def cancel(self, key: TaskKey) -> None:
        """Stop an attempt now (its worker is killed); no event follows for it."""

    @abstractmethod
    def close(self) -> None:
        """Stop every attempt and release the workers."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """What this executor is, for ``/readyz``."""

    def problem(self) -> str | None:
        """Why this executor cannot run attempts now (for ``/readyz``), or None when it can."""
        return None
