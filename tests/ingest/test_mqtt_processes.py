"""IngestProcesses' bookkeeping with fake processes (the real ones: test_mqtt_source)."""

from __future__ import annotations

import zlib
from typing import Any

import pytest

from twinops.config import Settings
from twinops.ingest import mqtt_processes
from twinops.ingest.mqtt_messages import Delivery
from twinops.ingest.mqtt_processes import IngestProcesses, IngestProcessFailed, _Member


class FakeProcess:
    pid = 4242

    def is_alive(self) -> bool:
        return True

    def kill(self) -> None:
        pass

    def join(self, timeout: float | None = None) -> None:
        pass


class FakeConnection:
    """A pipe to a process that answers each part with ``answer``."""

    def __init__(self, answer: Any = ("ok", 0)) -> None:
        self.sent: list[Any] = []
        self.answer = answer

    def send(self, part: Any) -> None:
        self.sent.append(part)

    def poll(self, timeout: float) -> bool:
        return True

    def recv(self) -> Any:
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer

    def close(self) -> None:
        pass


def _fake(connection: FakeConnection) -> _Member:
    return _Member(FakeProcess(), connection)  # type: ignore[arg-type]


def _topics_for_each_index(count: int) -> list[str]:
    """One topic per process index."""
    found: dict[int, str] = {}
    n = 0
    while len(found) < count:
        n += 1
        topic = f"twinops/t/twin-{n}/telemetry"
        found.setdefault(zlib.crc32(topic.encode()) % count, topic)
    return [found[i] for i in range(count)]


def _batch(topics: list[str]) -> list[Delivery]:
    return [Delivery(i + 1, 1, topic, b"[]", None) for i, topic in enumerate(topics)]


def test_no_part_is_sent_while_a_process_the_batch_needs_cannot_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    processes = IngestProcesses(Settings(), 2)
    first = FakeConnection()
    processes._members = [_fake(first), None]

    def spawn_fails(settings: Settings, index: int) -> _Member:
        raise IngestProcessFailed("not ready")

    monkeypatch.setattr(mqtt_processes, "_spawn", spawn_fails)
    with pytest.raises(IngestProcessFailed):
        processes.commit(_batch(_topics_for_each_index(2)))
    # Had the first part gone out, its answer would be read as the next batch's.
    assert first.sent == []


def test_a_process_whose_answer_cannot_be_read_is_replaced_and_the_batch_fails() -> None:
    processes = IngestProcesses(Settings(), 2)
    healthy, broken = FakeConnection(("ok", 1)), FakeConnection(ValueError("garbled"))
    processes._members = [_fake(healthy), _fake(broken)]
    with pytest.raises(IngestProcessFailed, match="garbled"):
        processes.commit(_batch(_topics_for_each_index(2)))
    assert processes._members[1] is None  # the next batch starts a successor
    assert len(healthy.sent) == 1 and processes.parts_committed[0] == 1


def test_each_topic_goes_to_the_same_process_in_arrival_order() -> None:
    processes = IngestProcesses(Settings(), 2)
    connections = [FakeConnection(), FakeConnection()]
    processes._members = [_fake(c) for c in connections]
    a, b = _topics_for_each_index(2)
    batch = _batch([a, b, a, a, b])
    assert processes.commit(batch) == 0
    assert [d.mid for d in connections[0].sent[0]] == [1, 3, 4]
    assert [d.mid for d in connections[1].sent[0]] == [2, 5]
