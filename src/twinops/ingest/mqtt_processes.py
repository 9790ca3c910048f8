"""MQTT ingest spread over processes: one session, N interpreters applying its messages.

One Python process applies telemetry about as fast as one core allows, and the MQTT network
thread shares that core's interpreter lock. With ``mqtt_ingest_processes`` at 2 or more the
consumer keeps the broker session (receiving, batching, acknowledging) and hands each
message to one of N spawned ingest processes, each with a platform of its own on the same
database. A topic always goes to the same process (a CRC of its name), so each twin's
messages are applied in the order they arrived, as with one process.

A batch is acknowledged once every process holding part of it has committed its part. A
part that fails, or a process that dies, fails the whole batch: nothing of it is
acknowledged, a dead process is replaced, and the consumer retries the batch; the parts
already committed come back as duplicates and are dropped as such.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from twinops.config import Settings
from twinops.ingest.mqtt_messages import Delivery, commit_deliveries

log = logging.getLogger("twinops.ingest.mqtt")

_START_SECONDS = 120.0
_POLL_SECONDS = 0.5


class IngestProcessFailed(RuntimeError):
    """A part of a batch was not committed: the batch must not be acknowledged."""


@dataclass
class _Member:
    """One ingest process and the consumer's end of its pipe."""

    process: BaseProcess
    connection: Connection
    parts: int = 0  # parts committed, for metrics and tests

    def send(self, part: Sequence[Delivery]) -> None:
        self.connection.send(list(part))

    def receive(self) -> Any:
        """The process's answer; EOFError once it has died."""
        while not self.connection.poll(_POLL_SECONDS):
            if not self.process.is_alive():
                raise EOFError(f"ingest process {self.process.pid} exited")
        return self.connection.recv()

    def stop(self, timeout: float = 10.0) -> None:
        with contextlib.suppress(OSError):  # it is gone already
            self.connection.send(None)
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout)
        self.connection.close()


@dataclass
class IngestProcesses:
    """N ingest processes sharing a consumer's batches by topic."""

    settings: Settings
    count: int
    _members: list[_Member | None] = field(init=False)

    def __post_init__(self) -> None:
        self._members = [None] * self.count  # each spawned when first needed

    def start(self) -> None:
        """Spawn every process and wait until each has opened its platform."""
        for index in range(self.count):
            self._member(index)

    @property
    def parts_committed(self) -> list[int]:
        """Parts each live process has committed since it started."""
        return [m.parts if m is not None else 0 for m in self._members]

    @property
    def pids(self) -> list[int | None]:
        """The process ids, for operators and tests."""
        return [m.process.pid if m is not None else None for m in self._members]

    def commit(self, batch: Sequence[Delivery]) -> int:
        """Commit every message of the batch; answers how many belonged to no tenant."""
        parts: dict[int, list[Delivery]] = {}
        for delivery in batch:
            index = zlib.crc32(delivery.topic.encode()) % self.count
            parts.setdefault(index, []).append(delivery)
        # Every process a part needs is up before any part is sent: a pipe must never be left
        # holding the answer to a part of a batch given up on, or it would answer the next.
        members = {index: self._member(index) for index in parts}
        sent: list[tuple[int, _Member]] = []
        failures: list[str] = []
        for index, part in parts.items():
            member = members[index]
            try:
                member.send(part)
                sent.append((index, member))
            except OSError as exc:
                failures.append(self._lose(index, member, exc))
        unattributed = 0
        for index, member in sent:  # every answer is read, for the same reason
            try:
                status, value = member.receive()
            except Exception as exc:  # dead, or a pipe in an unknown state: replace it
                failures.append(self._lose(index, member, exc))
                continue
            if status == "ok":
                member.parts += 1
                unattributed += int(value)
            else:
                failures.append(f"process {member.process.pid}: {value}")
        if failures:
            raise IngestProcessFailed("; ".join(failures))
        return unattributed

    def stop(self) -> None:
        """Let each process finish its part in hand, then end it."""
        for member in self._members:
            if member is not None:
                member.stop()
        self._members = [None] * self.count

    def _member(self, index: int) -> _Member:
        member = self._members[index]
        if member is None:
            member = self._members[index] = _spawn(self.settings, index)
        return member

    def _lose(self, index: int, member: _Member, exc: BaseException) -> str:
        """Forget a process that broke its pipe; the next batch spawns its successor."""
        log.warning("MQTT ingest process %s lost (%s); replacing it", member.process.pid, exc)
        self._members[index] = None
        member.process.kill()
        member.process.join(10)
        member.connection.close()
        return f"process {member.process.pid} lost: {exc}"


def _spawn(settings: Settings, index: int) -> _Member:
    """A fresh interpreter (spawn: no copy of the consumer's threads or connections)."""
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(
        target=_process_main,
        args=(settings, theirs),
        name=f"twinops-mqtt-ingest-{index}",
        daemon=True,
    )
    process.start()
    theirs.close()
    member = _Member(process, ours)
    if not ours.poll(_START_SECONDS):
        problem = f"not ready in {_START_SECONDS} s"
    else:
        try:
            status, value = ours.recv()
        except EOFError:
            status, value = "error", "exited at start"
        if status == "ready":
            return member
        problem = f"failed to start: {value}"
    member.stop()  # ended and reaped, its pipe closed
    raise IngestProcessFailed(f"ingest process {process.pid} {problem}")


def _process_main(settings: Settings, connection: Connection) -> None:
    """(child) Open a platform, then commit each part received until told to stop."""
    from twinops.platform import Platform, configure_logging, freeze_startup_heap

    configure_logging(settings)
    try:
        platform = Platform.open(settings)
    except Exception as exc:
        connection.send(("error", f"{type(exc).__name__}: {exc}"))
        raise
    freeze_startup_heap()
    connection.send(("ready", None))
    try:
        while True:
            try:
                part = connection.recv()
            except EOFError:  # the consumer is gone (killed): so is the reason to run
                return
            if part is None:
                return
            try:
                unattributed = commit_deliveries(
                    part, platform.ingest, platform.security.authenticate, settings
                )
                answer: tuple[str, Any] = ("ok", unattributed)
            except Exception as exc:
                log.exception("MQTT ingest process: a part of %d messages failed", len(part))
                answer = ("error", f"{type(exc).__name__}: {exc}")
            try:
                connection.send(answer)
            except OSError:  # the consumer died meanwhile; the broker resends the batch
                return
    finally:
        platform.close()
