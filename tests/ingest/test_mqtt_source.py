"""The MQTT source against the real Mosquitto broker on 127.0.0.1 (both storage backends)."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any

import orjson
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from twinops.demo import examples_dir
from twinops.ingest.mqtt import MqttConsumer
from twinops.ingest.pipeline import IngestService
from twinops.models.dtdl import load_paths
from twinops.platform import Platform
from twinops.security.entities import Principal, Role

MQTT_URL = os.environ.get("TWINOPS_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")
PUMP = "dtmi:twinops:example:Pump;1"
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z


class Publisher:
    """A device: publishes QoS 1 and remembers which messages the broker acknowledged."""

    def __init__(self) -> None:
        self.client = paho.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
        host, port = MQTT_URL.removeprefix("mqtt://").split(":")
        self.client.connect(host, int(port))
        self.client.loop_start()

    def publish(self, topic: str, payload: Any, key: str | None) -> None:
        properties = Properties(PacketTypes.PUBLISH)
        if key is not None:
            properties.UserProperty = ("authorization", f"Bearer {key}")
        body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        info = self.client.publish(topic, body, qos=1, properties=properties)
        info.wait_for_publish(10)
        assert info.is_published()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def publisher() -> Iterator[Publisher]:
    device = Publisher()
    yield device
    device.close()


@pytest.fixture
def fleet(platform: Platform) -> Platform:
    tenant = platform.settings.default_tenant
    platform.models.upload(tenant, load_paths([examples_dir() / "models"]))
    for twin in ("pump-1", "pump-2"):
        platform.twins.put(tenant, twin, {"$metadata": {"$model": PUMP}})
    return platform


@pytest.fixture
def mqtt_settings(fleet: Platform) -> Iterator[Platform]:
    """The platform's settings pointed at the broker, with a prefix and session of this test's."""
    run = uuid.uuid4().hex[:10]
    settings = replace(
        fleet.settings,
        mqtt_url=MQTT_URL,
        mqtt_topic_prefix=f"twinops-test-{run}",
        mqtt_client_id=f"twinops-test-{run}",
    )
    fleet.settings = settings
    yield fleet
    _forget_session(settings.mqtt_client_id)


def _forget_session(client_id: str) -> None:
    """End the broker's persistent session of a test consumer."""
    client = paho.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5
    )
    host, port = MQTT_URL.removeprefix("mqtt://").split(":")
    client.connect(host, int(port), clean_start=True)
    client.disconnect()


def consumer_for(platform: Platform, ingest: IngestService | None = None) -> MqttConsumer:
    consumer = MqttConsumer(
        platform.settings, ingest or platform.ingest, platform.security.authenticate, platform.gate
    )
    consumer.start()
    # Ingest processes, when configured, start (a platform each) before the connection.
    assert consumer.wait_connected(60), "the consumer did not connect to the broker"
    time.sleep(0.2)  # the SUBACK follows the CONNACK
    return consumer


def key(platform: Platform, role: Role = Role.OPERATOR, tenant: str | None = None) -> str:
    root = Principal(platform.settings.default_tenant, "test", Role.ADMIN, None, "local")
    if tenant is not None:
        platform.security.create_tenant(root, tenant)
    return platform.security.create_key(root, name=str(role), role=role, tenant=tenant)[1]


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the consumer"
        time.sleep(0.05)


def points(n: int, start: int = 0, **extra: Any) -> list[dict[str, Any]]:
    return [{"name": "speed", "value": 1000 + i, "time": T0 + i, **extra} for i in range(start, n)]


def history_values(platform: Platform, twin: str, name: str = "speed") -> list[Any]:
    page = platform.state.history(
        platform.settings.default_tenant, twin, name, start=None, end=None, limit=10_000
    )
    return [s.value for s in page.items]


def topic(platform: Platform, twin: str | None = "pump-1", tenant: str | None = None) -> str:
    parts = [platform.settings.mqtt_topic_prefix, tenant or platform.settings.default_tenant]
    return "/".join([*parts, *([twin] if twin else []), "telemetry"])


def quarantined_rules(platform: Platform, tenant: str | None = None) -> list[str]:
    entries = platform.state.quarantined(tenant or platform.settings.default_tenant)
    return [e.rule for e in entries]


def test_published_points_become_history_and_state(
    mqtt_settings: Platform, publisher: Publisher
) -> None:
    platform, operator = mqtt_settings, key(mqtt_settings)
    consumer = consumer_for(platform)
    try:
        publisher.publish(topic(platform), points(3), operator)
        publisher.publish(
            topic(platform, twin=None),
            {"twin": "pump-2", "name": "dischargePressure", "value": 1, "unit": "bar", "time": T0},
            operator,
        )
        wait_for(lambda: len(history_values(platform, "pump-1")) == 3)
        wait_for(lambda: history_values(platform, "pump-2", "dischargePressure") == [100])
        [quality] = [
            q
            for q in platform.state.quality(platform.settings.default_tenant)
            if q.twin_id == "pump-1"
        ]
        assert quality.source.startswith("mqtt:") and quality.accepted == 3
    finally:
        consumer.stop()


def test_the_same_points_published_again_are_stored_once(
    mqtt_settings: Platform, publisher: Publisher
) -> None:
    platform, operator = mqtt_settings, key(mqtt_settings)
    consumer = consumer_for(platform)
    try:
        for _ in range(3):
            publisher.publish(topic(platform), points(5), operator)
        wait_for(lambda: consumer.stats.acknowledged == 3)
        assert history_values(platform, "pump-1") == [1000, 1001, 1002, 1003, 1004]
    finally:
        consumer.stop()


class FailingIngest:
    """A pipeline whose commits fail, as when the database is unreachable."""

    def __init__(self) -> None:
        self.calls = 0

    def ingest(self, *args: Any, **kwargs: Any) -> None:
        self.calls += 1
        raise OSError("database unreachable")


def test_messages_are_acknowledged_only_after_commit(
    mqtt_settings: Platform, publisher: Publisher
) -> None:
    """Uncommitted messages stay with the broker and reach the next consumer of the session."""
    platform, operator = mqtt_settings, key(mqtt_settings)
    failing = FailingIngest()
    consumer = consumer_for(platform, failing)  # type: ignore[arg-type]
    publisher.publish(topic(platform), points(4), operator)
    wait_for(lambda: failing.calls >= 2)  # it retries, and acknowledges nothing meanwhile
    assert consumer.stats.acknowledged == 0
    consumer.stop()
    assert history_values(platform, "pump-1") == []

    healthy = consumer_for(platform)
    try:
        wait_for(lambda: len(history_values(platform, "pump-1")) == 4)
        assert healthy.stats.acknowledged == 1
    finally:
        healthy.stop()


def test_the_session_keeps_messages_published_while_twinops_is_down(
    mqtt_settings: Platform, publisher: Publisher
) -> None:
    platform, operator = mqtt_settings, key(mqtt_settings)
    consumer_for(platform).stop()  # the session and its subscription now exist
    publisher.publish(topic(platform), points(6), operator)
    publisher.publish(topic(platform), points(10, start=6), operator)
    consumer = consumer_for(platform)
    try:
        wait_for(lambda: len(history_values(platform, "pump-1")) == 10)
    finally:
        consumer.stop()


def test_a_topic_of_another_tenant_is_refused_and_that_tenant_sees_nothing(
    mqtt_settings: Platform, publisher: Publisher
) -> None:
    platform = mqtt_settings
    other = f"o-{uuid.uuid4().hex[:10]}"
    intruder = key(platform, tenant=other)
    consumer = consumer_for(platform)
    try:
        publisher.publish(topic(platform), points(2), intruder)  # the default tenant's topic
        wait_for(lambda: consumer.stats.acknowledged == 1)
        assert history_values(platform, "pump-1") == []
        assert quarantined_rules(platform) == []
        assert quarantined_rules(platform, other) == ["tenantMatchesCredentials"]
    finally:
        consumer.stop()


def test_bad_messages_are_quarantined_with_their_reason(
    mqtt_settings: Platform, publisher: Publisher
) -> None:
    platform, operator = mqtt_settings, key(mqtt_settings)
    viewer = key(platform, Role.VIEWER)
    consumer = consumer_for(platform)
    try:
        publisher.publish(topic(platform), b"\xff{not json", operator)
        publisher.publish(topic(platform), points(1), viewer)
        publisher.publish(
            topic(platform), [{"twin": "pump-2", "name": "speed", "value": 1, "time": T0}], operator
        )
        publisher.publish(
            topic(platform),
            [
                {"name": "speed", "value": "fast", "time": T0},
                {"name": "nope", "value": 1, "time": T0},
            ],
            operator,
        )
        wait_for(lambda: consumer.stats.acknowledged == 4)
        assert sorted(quarantined_rules(platform)) == sorted(
            ["json", "role", "twinMatchesTopic", "type", "fieldDefined"]
        )
    finally:
        consumer.stop()


def test_messages_without_credentials_are_counted_not_stored(
    mqtt_settings: Platform, publisher: Publisher
) -> None:
    platform = mqtt_settings
    consumer = consumer_for(platform)
    try:
        publisher.publish(topic(platform), points(2), None)
        publisher.publish(topic(platform), points(2), "tok_0000000000000000_" + "x" * 43)
        wait_for(lambda: consumer.stats.unattributed == 2)
        assert history_values(platform, "pump-1") == []
        assert consumer.stats.acknowledged == 2  # refused for good, not redelivered forever
    finally:
        consumer.stop()


def test_many_publishers_at_once_lose_nothing(mqtt_settings: Platform) -> None:
    platform, operator = mqtt_settings, key(mqtt_settings)
    consumer = consumer_for(platform)

    def device(twin: str, batches: Sequence[list[dict[str, Any]]]) -> None:
        sender = Publisher()
        try:
            for batch in batches:
                sender.publish(topic(platform, twin), batch, operator)
        finally:
            sender.close()

    try:
        threads = [
            threading.Thread(
                target=device, args=(twin, [points(20 * (b + 1), 20 * b) for b in range(10)])
            )
            for twin in ("pump-1", "pump-2")
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for twin in ("pump-1", "pump-2"):
            wait_for(lambda twin=twin: len(history_values(platform, twin)) == 200)  # type: ignore[misc]
            assert history_values(platform, twin) == [1000 + i for i in range(200)]
    finally:
        consumer.stop()


def _twins_spread_over(platform: Platform, processes: int, per_process: int) -> list[str]:
    """Twins (created here) whose topics land ``per_process`` on each ingest process."""
    tenant, chosen = platform.settings.default_tenant, dict[int, list[str]]()
    n = 0
    while any(len(chosen.get(i, [])) < per_process for i in range(processes)):
        n += 1
        twin = f"pump-p{n}"
        index = zlib.crc32(topic(platform, twin).encode()) % processes
        if len(chosen.setdefault(index, [])) < per_process:
            chosen[index].append(twin)
            platform.twins.put(tenant, twin, {"$metadata": {"$model": PUMP}})
    return [twin for twins in chosen.values() for twin in twins]


@pytest.fixture
def two_ingest_processes(mqtt_settings: Platform) -> Platform:
    """The MQTT platform, its messages applied by two ingest processes."""
    mqtt_settings.settings = replace(mqtt_settings.settings, mqtt_ingest_processes=2)
    return mqtt_settings


def test_ingest_processes_apply_each_twins_messages_in_order(
    two_ingest_processes: Platform, publisher: Publisher
) -> None:
    platform, operator = two_ingest_processes, key(two_ingest_processes)
    twins = _twins_spread_over(platform, processes=2, per_process=2)
    consumer_for(platform).stop()  # the session exists: the broker keeps what follows
    # A backlog, as devices flush theirs after an outage: each twin's messages one after
    # another, so the consumer's first batches hold many consecutive messages of each twin.
    for twin in twins:
        for b in range(15):
            publisher.publish(topic(platform, twin), points(20 * (b + 1), 20 * b), operator)
    consumer = consumer_for(platform)
    try:
        for twin in twins:
            wait_for(lambda twin=twin: len(history_values(platform, twin)) == 300)  # type: ignore[misc]
            assert history_values(platform, twin) == [1000 + i for i in range(300)]
        quality = platform.state.quality(platform.settings.default_tenant)
        late = {q.twin_id: q.late for q in quality if q.twin_id in twins}
        assert late == dict.fromkeys(twins, 0), "a twin's messages were applied out of order"
        processes = consumer.ingest_processes
        assert processes is not None and all(n > 0 for n in processes.parts_committed)
    finally:
        consumer.stop()


def test_a_killed_ingest_process_is_replaced_and_no_point_is_lost(
    two_ingest_processes: Platform, publisher: Publisher
) -> None:
    platform, operator = two_ingest_processes, key(two_ingest_processes)
    twins = _twins_spread_over(platform, processes=2, per_process=1)
    consumer = consumer_for(platform)
    processes = consumer.ingest_processes
    assert processes is not None
    try:
        for b in range(5):
            for twin in twins:
                publisher.publish(topic(platform, twin), points(20 * (b + 1), 20 * b), operator)
        wait_for(lambda: all(len(history_values(platform, t)) == 100 for t in twins))
        victim = processes.pids[0]
        assert victim is not None
        os.kill(victim, signal.SIGKILL)
        for b in range(5, 10):
            for twin in twins:
                publisher.publish(topic(platform, twin), points(20 * (b + 1), 20 * b), operator)
        for twin in twins:
            wait_for(lambda twin=twin: len(history_values(platform, twin)) >= 200, timeout=60)  # type: ignore[misc]
            assert history_values(platform, twin) == [1000 + i for i in range(200)]
        assert victim not in processes.pids, "the killed process was not replaced"
    finally:
        consumer.stop()
