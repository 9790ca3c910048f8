"""What runs in a worker process: one attempt of a job, from its stored inputs to encoded outputs.

The same function serves every executor. It never touches the database: the runner in the
server process stores what it answers. A model that raises gives :class:`ModelFailed` with
its traceback; a worker that dies gives nothing, and the executor reports
:class:`InfraFailed` for it.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import platform
import re
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from twinops.jobs.canonical import canonical_json, sha256_hex, table_to_parquet
from twinops.jobs.kinds import JobKind, KindOutput, RunContext
from twinops.obs import logs, tracing

TaskKey = tuple[str, str, int]
"""(tenant, job id, attempt): one attempt of one job."""

PARQUET = "application/vnd.apache.parquet"
JSON = "application/json"
OCTETS = "application/octet-stream"
_OUTPUT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_LOG_LIMIT = 256 * 1024
_MESSAGE_LIMIT = 500
# The packages whose versions decide whether a re-run can match, recorded with every run.
PACKAGES = ("twinops", "numpy", "scipy", "pandas", "pyarrow", "simpy", "SALib", "fmpy", "ray")


@dataclass(frozen=True)
class Task:
    """One attempt of a job, as a worker receives it: the kind and its stored inputs.

    ``artifact_root``: where the server keeps artifacts, when the worker sees the same files;
    the worker then stores its outputs itself (hashing and writing in parallel, off the
    runner's thread) and sends back only their hashes.
    """

    tenant: str
    job_id: str
    attempt: int
    kind: JobKind
    spec: bytes
    snapshot: bytes
    artifact_root: str | None = None
    durable: bool = False
    traceparent: str | None = None  # W3C trace context of the runner's span of this attempt

    @property
    def key(self) -> TaskKey:
        """Which attempt of which job this is."""
        return (self.tenant, self.job_id, self.attempt)


@dataclass(frozen=True)
class EncodedOutput:
    """An output: its artifact name, media type, hash and size, and its bytes unless the
    worker already stored them (``data`` is then empty)."""

    name: str
    media_type: str
    sha256: str
    size: int
    data: bytes = b""


@dataclass(frozen=True)
class Succeeded:
    """The model returned; its outputs are encoded deterministically."""

    outputs: tuple[EncodedOutput, ...]
    model: Mapping[str, Any] | None
    metrics: Mapping[str, Any]
    packages: Mapping[str, str]
    log: str


@dataclass(frozen=True)
class ModelFailed:
    """The model raised (or answered outputs that cannot be stored): not retried."""

    type: str
    message: str
    traceback: str
    packages: Mapping[str, str]
    log: str


@dataclass(frozen=True)
class InfraFailed:
    """The attempt was lost to the infrastructure (worker killed or lost): retried."""

    reason: str


WorkResult = Succeeded | ModelFailed | InfraFailed


@dataclass
class _Throttle:
    """Forwards progress at most every ``interval`` seconds, and always the final 1.0."""

    send: Callable[[float, str], None]
    interval: float = 0.1
    last: float = field(default=-math.inf)

    def __call__(self, fraction: float, message: str = "") -> None:
        try:
            value = min(1.0, max(0.0, float(fraction)))
        except (TypeError, ValueError):
            return
        if not math.isfinite(value):
            return
        now = time.monotonic()
        if value < 1.0 and now - self.last < self.interval:
            return
        self.last = now
        self.send(value, str(message)[:_MESSAGE_LIMIT])


@lru_cache(maxsize=1)
def package_versions() -> dict[str, str]:
    """Versions of the packages a run depends on (those installed), and Python's."""
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for name in PACKAGES:
        with contextlib.suppress(PackageNotFoundError):
            found[name] = version(name)
    return found


def execute(task: Task, progress: Callable[[float, str], None]) -> WorkResult:
    """Run one attempt (in the job's log and trace context); see :func:`_execute`."""
    with logs.job_scope(task.job_id), tracing.span("jobs.execute", parent=task.traceparent):
        return _execute(task, progress)


def _execute(task: Task, progress: Callable[[float, str], None]) -> WorkResult:
    """Run one attempt; capture what the model prints or logs; encode its outputs."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    started = time.perf_counter()
    try:
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            spec = json.loads(task.spec)
            snapshot = json.loads(task.snapshot)
            output = task.kind.run(spec, snapshot, RunContext(_Throttle(progress), task.attempt))
            encoded = _stored(task, encode_outputs(output))
            metrics = _metrics(output, time.perf_counter() - started)
            model = _model_record(output)
    except (Exception, SystemExit) as exc:
        # Everything a model raises (even sys.exit) is the model's failure, traceback logged.
        return ModelFailed(
            type(exc).__name__,
            str(exc)[:2000],
            traceback.format_exc(),
            package_versions(),
            _tail(buffer.getvalue()),
        )
    finally:
        root.removeHandler(handler)
    return Succeeded(encoded, model, metrics, package_versions(), _tail(buffer.getvalue()))


def _output(name: str, data: bytes, media_type: str) -> EncodedOutput:
    return EncodedOutput(name, media_type, sha256_hex(data), len(data), data)


def encode_outputs(output: KindOutput) -> tuple[EncodedOutput, ...]:
    """Tables as deterministic Parquet, the summary as canonical JSON, blobs as they are."""
    if not isinstance(output, KindOutput):
        raise TypeError(f"a job kind must return KindOutput, not {type(output).__name__}")
    encoded: list[EncodedOutput] = []
    for name, table in sorted(output.tables.items()):
        encoded.append(_output(f"outputs/{_checked(name)}.parquet", _parquet(table), PARQUET))
    for name, data in sorted(output.blobs.items()):
        if not isinstance(data, bytes):
            raise TypeError(f"output blob {name!r} must be bytes, not {type(data).__name__}")
        encoded.append(_output(f"outputs/{_checked(name)}", data, OCTETS))
    summary = canonical_json(dict(output.summary), "summary")
    encoded.append(_output("outputs/summary.json", summary, JSON))
    names = [e.name for e in encoded]
    if len(set(names)) != len(names):
        raise ValueError(f"output names collide: {sorted(names)}")
    return tuple(encoded)


def _stored(task: Task, outputs: tuple[EncodedOutput, ...]) -> tuple[EncodedOutput, ...]:
    """Store the outputs here when this worker shares the server's artifact folder."""
    if task.artifact_root is None:
        return outputs
    from pathlib import Path

    from twinops.jobs.artifacts import FileArtifactStore

    store = FileArtifactStore(Path(task.artifact_root), durable=task.durable)
    for output in outputs:
        store.put(output.data)
    return tuple(EncodedOutput(o.name, o.media_type, o.sha256, o.size) for o in outputs)


def _parquet(table: Any) -> bytes:
    import pyarrow as pa

    if not isinstance(table, pa.Table):
        raise TypeError(f"output tables must be pyarrow.Table, not {type(table).__name__}")
    return table_to_parquet(table)


def _checked(name: str) -> str:
    if not isinstance(name, str) or not _OUTPUT_NAME.match(name) or name == "summary.json":
        raise ValueError(f"output name {name!r} must match {_OUTPUT_NAME.pattern}")
    return name


def _metrics(output: KindOutput, seconds: float) -> dict[str, Any]:
    metrics = dict(output.metrics)
    metrics["runSeconds"] = round(seconds, 6)
    # Checked here, in the worker, so a metric that cannot be stored fails as the model's.
    canonical_json(metrics, "metrics")
    return metrics


def _model_record(output: KindOutput) -> dict[str, Any] | None:
    if output.model is None:
        return None
    record = dict(output.model)
    canonical_json(record, "model")
    return record


def _tail(text: str) -> str:
    if len(text) <= _LOG_LIMIT:
        return text
    return f"[... {len(text) - _LOG_LIMIT} characters cut ...]\n" + text[-_LOG_LIMIT:]


def warm_up() -> None:
    """Import what every run needs, so the first job on a fresh worker is not slower."""
    import pyarrow.parquet  # noqa: F401

    package_versions()


def ignore_interrupts() -> None:
    """Let the server handle Ctrl-C: a worker is stopped by its executor, not by SIGINT."""
    import signal

    with contextlib.suppress(ValueError):  # not the main thread (Ray runs tasks in threads)
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def die_with_parent() -> None:
    """Ask Linux to kill this process when its parent dies, so no worker outlives a crash."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(Exception):
        import ctypes
        import signal

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
