"""Job kinds for test suites and benchmarks: echo, sleep, crash, hang, die, noisy.

Registered only when ``jobs_test_kinds`` is on (never by default). Each is a tiny model with
the behaviour a test needs from the worker side: a seeded result, a slow run with progress,
a model error, a run that never returns, a worker that kills itself.
"""

from __future__ import annotations

import hashlib
import os
import signal
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from twinops.errors import InvalidInput
from twinops.jobs.kinds import JobKind, KindOutput, PrepareContext, Prepared, RunContext
from twinops.security.entities import Role

_CODE_SHA256 = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


class ModelError(RuntimeError):
    """What test.crash raises: a model failing on its own terms."""


def _int(params: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput.single(name, "range", f"an integer from {low} to {high}", value)
    return value


def _number(params: Mapping[str, Any], name: str, default: float, high: float) -> float:
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= high:
        raise InvalidInput.single(name, "range", f"a number from 0 to {high:g}", value)
    return float(value)


class _TestKind(JobKind):
    """Shared by the test kinds: the spec is the parameters; the snapshot holds its time."""

    role = Role.OPERATOR
    known: tuple[str, ...] = ("seed", "rows")

    def prepare(self, raw: Mapping[str, Any], ctx: PrepareContext) -> Prepared:
        """Check the parameters; the snapshot records when it was taken."""
        unknown = sorted(set(raw) - {"kind", *self.known})
        if unknown:
            raise InvalidInput.single(unknown[0], "known", f"{self.name} takes {self.known}")
        seed = _int(raw, "seed", 0, 0, 2**63 - 1)
        _int(raw, "rows", 10, 0, 1_000_000)
        # The time makes a fresh snapshot differ from the stored one: reproduction must use
        # the stored snapshot to match.
        snapshot = {"tenant": ctx.tenant, "takenAt": ctx.clock()}
        return Prepared.of(dict(raw), snapshot, {"seed": seed})

    def _result(self, spec: Mapping[str, Any], snapshot: Mapping[str, Any]) -> KindOutput:
        import numpy as np
        import pyarrow as pa

        rng = np.random.default_rng(int(spec.get("seed", 0)))
        rows = int(spec.get("rows", 10))
        values = rng.normal(size=rows)
        table = pa.table({"i": pa.array(range(rows), pa.int64()), "x": pa.array(values)})
        summary = {
            "rows": rows,
            "mean": float(values.mean()) if rows else None,
            "snapshotTakenAt": snapshot.get("takenAt"),
        }
        model = {"reference": f"twinops.jobs.testing:{self.name}", "version": "1"}
        return KindOutput({"values": table}, summary, {**model, "codeSha256": _CODE_SHA256})


class EchoKind(_TestKind):
    """Seeded normal values as a table, and their mean: the trivial, reproducible model."""

    name = "test.echo"

    def run(
        self, spec: Mapping[str, Any], snapshot: Mapping[str, Any], ctx: RunContext
    ) -> KindOutput:
        """Compute the seeded table."""
        ctx.progress(0.5, "halfway")
        return self._result(spec, snapshot)


class SleepKind(_TestKind):
    """Sleeps ``seconds`` in ``steps``, reporting progress after each."""

    name = "test.sleep"
    known = ("seed", "rows", "seconds", "steps")

    def prepare(self, raw: Mapping[str, Any], ctx: PrepareContext) -> Prepared:
        """Check the duration too."""
        _number(raw, "seconds", 1.0, 3600.0)
        _int(raw, "steps", 10, 1, 10_000)
        return super().prepare(raw, ctx)

    def run(
        self, spec: Mapping[str, Any], snapshot: Mapping[str, Any], ctx: RunContext
    ) -> KindOutput:
        """Sleep, step by step."""
        steps = int(spec.get("steps", 10))
        for step in range(steps):
            time.sleep(float(spec.get("seconds", 1.0)) / steps)
            ctx.progress((step + 1) / steps, f"step {step + 1} of {steps}")
        return self._result(spec, snapshot)


class CrashKind(_TestKind):
    """Prints a line, then raises: a model error."""

    name = "test.crash"

    def run(
        self, spec: Mapping[str, Any], snapshot: Mapping[str, Any], ctx: RunContext
    ) -> KindOutput:
        """Fail the way a diverging model does."""
        print("integrating the pump model...")
        raise ModelError("the model diverged at step 3 (pressure went negative)")


class HangKind(_TestKind):
    """Reports a little progress, then never returns."""

    name = "test.hang"

    def run(
        self, spec: Mapping[str, Any], snapshot: Mapping[str, Any], ctx: RunContext
    ) -> KindOutput:
        """Hang."""
        ctx.progress(0.1, "about to hang")
        while True:
            time.sleep(3600)


class DieKind(_TestKind):
    """SIGKILLs its own worker process on its first ``dieAttempts`` attempts, then echoes."""

    name = "test.die"
    known = ("seed", "rows", "dieAttempts")

    def prepare(self, raw: Mapping[str, Any], ctx: PrepareContext) -> Prepared:
        """Check how many attempts die."""
        _int(raw, "dieAttempts", 1, 0, 100)
        return super().prepare(raw, ctx)

    def run(
        self, spec: Mapping[str, Any], snapshot: Mapping[str, Any], ctx: RunContext
    ) -> KindOutput:
        """Die like an out-of-memory kill, or compute the seeded table."""
        if ctx.attempt <= int(spec.get("dieAttempts", 1)):
            ctx.progress(0.2, "about to be killed")
            os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(60)  # SIGKILL is not instant everywhere
        return self._result(spec, snapshot)


class NoisyKind(_TestKind):
    """Echo plus the wall clock: a model that does not reproduce, for reproduce to catch."""

    name = "test.noisy"

    def run(
        self, spec: Mapping[str, Any], snapshot: Mapping[str, Any], ctx: RunContext
    ) -> KindOutput:
        """The seeded table, and a summary that differs on every run."""
        result = self._result(spec, snapshot)
        summary = {**result.summary, "ranAt": time.time_ns()}
        return KindOutput(result.tables, summary, result.model)


def all_test_kinds() -> list[JobKind]:
    """Every test kind."""
    return [EchoKind(), SleepKind(), CrashKind(), HangKind(), DieKind(), NoisyKind()]
