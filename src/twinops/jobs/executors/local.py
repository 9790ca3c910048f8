"""The local executor: a pool of worker processes (``multiprocessing`` spawn context).

Each worker is a real process holding one attempt at a time, reached over its own pipe, so a
model that crashes, leaks or never returns costs one worker, never the server: cancel and
timeouts SIGKILL that worker and a fresh one takes its place. ``concurrent.futures``'s pool
does not fit: it cannot kill one task, and one dead worker breaks the whole pool.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from twinops.jobs.executors.base import DoneEvent, Executor, ExecutorEvent, ProgressEvent
from twinops.jobs.worker import (
    InfraFailed,
    Task,
    TaskKey,
    die_with_parent,
    execute,
    ignore_interrupts,
    warm_up,
)
from twinops.obs import tracing

log = logging.getLogger("twinops.jobs")
_MAX_FAILED_STARTS = 3
_PAUSE_SECONDS = 30.0


def _worker_main(conn: Connection) -> None:
    """A worker process: run the attempts sent over ``conn`` until told to stop."""
    die_with_parent()
    ignore_interrupts()
    warm_up()
    tracing.configure_worker()  # exports this worker's spans when the server does
    conn.send(("ready", None))
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return  # the server went away
        if task is None:
            return
        key = task.key

        def report(fraction: float, message: str, key: TaskKey = key) -> None:
            conn.send(("progress", key, fraction, message))

        result = execute(task, report)
        conn.send(("done", key, result))


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection
    task: TaskKey | None = None
    ready: bool = False  # it said so: it started, imports and all


def _exit_reason(code: int | None) -> str:
    if code is None:
        return "it stopped answering"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
        return f"killed by signal {-code}"
    return f"exit code {code}"


class LocalProcessExecutor(Executor):
    """``workers`` spawned processes; attempts run one per process."""

    name = "local"
    shares_files = True

    def __init__(self, workers: int) -> None:
        self._ctx = multiprocessing.get_context("spawn")
        self._pending: list[ExecutorEvent] = []
        # Workers that died before they were ready, in a row: past a few, spawning more would
        # only storm (a broken installation, an unimportable __main__), so pause instead.
        self._failed_starts = 0
        self._paused_until = 0.0
        self._workers = [self._spawn() for _ in range(max(1, workers))]

    @property
    def capacity(self) -> int:
        return len(self._workers)

    def _spawn(self) -> _Worker:
        parent, child = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(
            target=_worker_main, args=(child,), name="twinops-job-worker", daemon=True
        )
        process.start()
        child.close()  # the child holds its end; ours would keep EOF from ever showing
        return _Worker(process, parent)

    def _replace(self, worker: _Worker) -> None:
        """Kill ``worker`` if it still lives and put a fresh process in its place."""
        if worker.process.is_alive():
            worker.process.kill()
        elif not worker.ready:
            self._failed_starts += 1
            if self._failed_starts >= _MAX_FAILED_STARTS:
                self._paused_until = time.monotonic() + _PAUSE_SECONDS
                log.error(
                    "job worker processes die before they are ready (exit %s); pausing %g s",
                    worker.process.exitcode,
                    _PAUSE_SECONDS,
                )
        worker.process.join(5)
        worker.conn.close()
        fresh = self._spawn()
        worker.process, worker.conn = fresh.process, fresh.conn
        worker.task, worker.ready = None, False

    @property
    def _paused(self) -> bool:
        if self._failed_starts < _MAX_FAILED_STARTS:
            return False
        if time.monotonic() < self._paused_until:
            return True
        self._failed_starts = 0  # try again
        return False

    def submit(self, task: Task) -> None:
        worker = next((w for w in self._workers if w.task is None), None)
        if worker is None:
            raise RuntimeError("every worker is busy: the runner must respect capacity")
        if self._paused:
            reason = "worker processes fail to start (see the server log)"
            self._pending.append(DoneEvent(task.key, InfraFailed(reason)))
            return
        for _ in range(2):
            if not worker.process.is_alive():
                self._replace(worker)
            try:
                worker.conn.send(task)
            except (BrokenPipeError, EOFError, OSError):
                self._replace(worker)
                continue
            worker.task = task.key
            return
        self._pending.append(DoneEvent(task.key, InfraFailed("no worker process would start")))

    def poll(self, timeout: float) -> list[ExecutorEvent]:
        events, self._pending = self._pending, []
        busy = [w for w in self._workers if w.task is not None]
        if busy and not events:
            wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout)
        for worker in self._workers:
            self._drain(worker, events)
        for worker in self._workers:
            if worker.task is None and not worker.process.is_alive() and not self._paused:
                self._replace(worker)  # an idle worker died (out of memory, killed by hand)
        return events

    def _drain(self, worker: _Worker, events: list[ExecutorEvent]) -> None:
        try:
            while worker.conn.poll():
                message = worker.conn.recv()
                if message[0] == "ready":
                    worker.ready = True
                    self._failed_starts = 0
                elif worker.task is None or message[1] != worker.task:
                    continue  # from an attempt already cancelled
                elif message[0] == "progress":
                    events.append(ProgressEvent(worker.task, message[2], message[3]))
                else:
                    events.append(DoneEvent(worker.task, message[2]))
                    worker.task = None
        except (EOFError, OSError):
            pass  # the worker died; reported below
        except Exception as exc:
            # A result that cannot be unpickled: the worker's state is unknown, replace it.
            log.exception("unreadable message from a job worker")
            if worker.task is not None:
                reason = f"unreadable result from the worker: {type(exc).__name__}"
                events.append(DoneEvent(worker.task, InfraFailed(reason)))
            self._replace(worker)
            return
        if worker.task is not None and not worker.process.is_alive():
            reason = f"the worker process died ({_exit_reason(worker.process.exitcode)})"
            events.append(DoneEvent(worker.task, InfraFailed(reason)))
            worker.task = None
            if not self._paused:
                self._replace(worker)

    def cancel(self, key: TaskKey) -> None:
        for worker in self._workers:
            if worker.task == key:
                self._replace(worker)

    def close(self) -> None:
        for worker in self._workers:
            if worker.task is None and worker.ready and worker.process.is_alive():
                with contextlib.suppress(OSError):
                    worker.conn.send(None)  # an idle, started worker may leave cleanly
        deadline = time.monotonic() + 1.0
        for worker in self._workers:
            if worker.task is None and worker.ready:
                worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()  # busy, still starting, or slow to leave
                worker.process.join(5)
            worker.conn.close()
        self._workers = []

    def problem(self) -> str | None:
        if not self._workers:
            return "closed"
        if self._paused:
            return "worker processes fail to start"
        return None

    def describe(self) -> dict[str, Any]:
        return {
            "executor": self.name,
            "workers": len(self._workers),
            "busy": sum(1 for w in self._workers if w.task is not None),
            "alive": sum(1 for w in self._workers if w.process.is_alive()),
        }
