"""SIGKILL in the middle of sustained MQTT and HTTP ingestion: every acknowledged point survives.

A real ``twinops serve`` process consumes a real broker and answers HTTP. Devices keep
sending while it is killed and restarted. Afterwards every point acknowledged to its sender
(HTTP 2xx; the broker's PUBACK for MQTT, the broker then holding it for twinops' persistent
session) is stored exactly once, and nothing is stored that was never sent.

The broker is a Mosquitto of the module's own, configured as the README asks of production:
its queue for a session is unbounded. The machine's broker keeps Mosquitto's default
``max_queued_messages 1000``, beyond which it drops messages it has already acknowledged to
their publisher: a restart slower than 1,000 messages (10 s here) would lose points there
whatever twinops does.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from conftest import BACKENDS, PG_URL
from twinops.demo import examples_dir
from twinops.timeutil import parse_time

PUMP = "dtmi:twinops:example:Pump;1"
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A ``twinops serve`` process that can be killed and started again on the same data."""

    env: dict[str, str]
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.env['TWINOPS_ADMIN_KEY']}"}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "twinops.cli.main", "serve", "--port", str(self.port)],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"server not ready: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def mqtt_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Mosquitto of this module's own that keeps every message queued for a session."""
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    workdir = tmp_path_factory.mktemp("broker")
    port = _free_port()
    config = workdir / "mosquitto.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        "max_queued_messages 0\nmax_queued_bytes 0\n"
    )
    with (workdir / "mosquitto.log").open("wb") as log:
        broker = subprocess.Popen([exe, "-c", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while not _listening(port):
            assert broker.poll() is None, (workdir / "mosquitto.log").read_text()
            assert time.monotonic() < deadline, f"mosquitto did not listen on {port}"
            time.sleep(0.05)
        yield f"mqtt://127.0.0.1:{port}"
    finally:
        broker.terminate()
        broker.wait(10)


@pytest.fixture(params=[1, 2], ids=["one-process", "ingest-processes"])
def mqtt_ingest_processes(request: pytest.FixtureRequest) -> int:
    """MQTT applied in the consumer's process, or spread over two ingest processes."""
    return int(request.param)


@pytest.fixture(params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path: Path, mqtt_url: str, mqtt_ingest_processes: int
) -> Iterator[Server]:
    run = uuid.uuid4().hex[:10]
    env = {
        **os.environ,
        "TWINOPS_HOME": str(tmp_path / "data"),
        # A key of each test's own: on the shared PostgreSQL database a key seeded by an
        # earlier test would still belong to that test's tenant.
        "TWINOPS_ADMIN_KEY": f"tok_{uuid.uuid4().hex[:16]}_{uuid.uuid4().hex}{'k' * 11}",
        "TWINOPS_DEFAULT_TENANT": f"t-{run}",
        "TWINOPS_RATE_LIMIT_PER_SECOND": "0",
        "TWINOPS_MQTT_URL": mqtt_url,
        "TWINOPS_MQTT_INGEST_PROCESSES": str(mqtt_ingest_processes),
        "TWINOPS_MQTT_TOPIC_PREFIX": f"durability-{run}",
        "TWINOPS_MQTT_CLIENT_ID": f"durability-{run}",
        "TWINOPS_DATABASE_URL": PG_URL if request.param == "postgres" else "",
    }
    env.pop("TWINOPS_CONFIG", None)
    srv = Server(env, _free_port(), tmp_path / "server.log")
    srv.start()
    yield srv
    srv.stop()


@dataclass
class Ledger:
    """What each sender sent, and what was acknowledged to it."""

    sent: set[tuple[str, str, int]] = field(default_factory=set)
    acked: set[tuple[str, str, int]] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, points: list[tuple[str, str, int]], acked: bool) -> None:
        with self.lock:
            self.sent.update(points)
            if acked:
                self.acked.update(points)


def _batch(twin: str, name: str, start: int, size: int) -> list[dict[str, Any]]:
    return [
        {"twin": twin, "name": name, "value": float(i), "time": T0 + i}
        for i in range(start, start + size)
    ]


def _keys(batch: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    return [(p["twin"], p["name"], p["time"]) for p in batch]


def _http_sender(server: Server, ledger: Ledger, stop: threading.Event) -> None:
    """Posts batches to pump-1's speed; a batch counts as acknowledged only on a 2xx."""
    start = 0
    with httpx.Client(headers=server.auth, timeout=5) as http:
        while not stop.is_set():
            batch = _batch("pump-1", "speed", start, 50)
            try:
                response = http.post(f"{server.url}/v1/telemetry", content=orjson.dumps(batch))
                acked = response.status_code == 200
            except httpx.HTTPError:
                acked = False
            ledger.record(_keys(batch), acked)
            start += 50
            time.sleep(0.005 if acked else 0.1)


def _mqtt_sender(
    url: str, topic: str, authorization: str, ledger: Ledger, stop: threading.Event
) -> None:
    """Publishes QoS 1 batches for pump-2; acknowledged means the broker's PUBACK came back."""
    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
    host, port = url.removeprefix("mqtt://").split(":")
    client.connect(host, int(port))
    client.loop_start()
    properties = Properties(PacketTypes.PUBLISH)
    properties.UserProperty = ("authorization", authorization)
    start = 0
    try:
        while not stop.is_set():
            batch = [
                {k: v for k, v in p.items() if k != "twin"}
                for p in _batch("pump-2", "flowRate", start, 20)
            ]
            info = client.publish(
                topic,
                orjson.dumps(batch),
                qos=1,
                properties=properties,
            )
            info.wait_for_publish(5)
            keys = [("pump-2", "flowRate", p["time"]) for p in batch]
            ledger.record(keys, info.is_published())
            start += 20
            time.sleep(0.01)
    finally:
        client.disconnect()
        client.loop_stop()


def _wait_for_acks(
    ledgers: dict[str, Ledger], count: int, since: dict[str, int] | None = None
) -> None:
    """Until every sender has ``count`` more points acknowledged than ``since``."""
    deadline = time.monotonic() + 120
    base = since or {}
    while any(len(ledger.acked) - base.get(s, 0) < count for s, ledger in ledgers.items()):
        assert time.monotonic() < deadline, "the senders made no progress"
        time.sleep(0.05)


def _stored(server: Server, twin: str, name: str) -> list[int]:
    times: list[int] = []
    cursor: str | None = None
    with httpx.Client(headers=server.auth, timeout=10) as http:
        while True:
            params: dict[str, Any] = {"limit": 10_000}
            if cursor:
                params["cursor"] = cursor
            page = http.get(f"{server.url}/v1/twins/{twin}/history/{name}", params=params).json()
            times += [parse_time(p["time"], "time") // 1_000_000 for p in page["data"]]
            cursor = page["next"]
            if cursor is None:
                return times


def test_sigkill_during_mqtt_and_http_ingest_loses_no_acknowledged_point(server: Server) -> None:
    models = [
        orjson.loads(path.read_bytes()) for path in (examples_dir() / "models").glob("*.json")
    ]
    with httpx.Client(base_url=server.url, headers=server.auth, timeout=30) as http:
        assert http.post("/v1/models", json=models).status_code in {200, 201}
        for twin in ("pump-1", "pump-2"):
            body = {"$metadata": {"$model": PUMP}}
            assert http.put(f"/v1/twins/{twin}", json=body).status_code in {200, 201}

    tenant = server.env["TWINOPS_DEFAULT_TENANT"]
    topic = f"{server.env['TWINOPS_MQTT_TOPIC_PREFIX']}/{tenant}/pump-2/telemetry"
    mqtt_url = server.env["TWINOPS_MQTT_URL"]
    ledgers = {"http": Ledger(), "mqtt": Ledger()}
    stop = threading.Event()
    senders = [
        threading.Thread(target=_http_sender, args=(server, ledgers["http"], stop)),
        threading.Thread(
            target=_mqtt_sender,
            args=(mqtt_url, topic, server.auth["Authorization"], ledgers["mqtt"], stop),
        ),
    ]
    for sender in senders:
        sender.start()
    try:
        # Kill mid-stream, whatever the machine's speed: once both kinds of traffic flow...
        _wait_for_acks(ledgers, 100)
        server.kill()
        time.sleep(0.5)  # the senders go on meanwhile: HTTP fails, the broker keeps MQTT
        before = {source: len(ledger.acked) for source, ledger in ledgers.items()}
        server.start()
        # ... and stop only once both have been acknowledged again after the restart.
        _wait_for_acks(ledgers, 100, since=before)
    finally:
        stop.set()
        for sender in senders:
            sender.join(30)

    for source, (twin, name) in {
        "http": ("pump-1", "speed"),
        "mqtt": ("pump-2", "flowRate"),
    }.items():
        ledger = ledgers[source]
        acked = {t for (_, _, t) in ledger.acked}
        sent = {t for (_, _, t) in ledger.sent}
        deadline = time.monotonic() + 30
        while not acked <= set(stored := _stored(server, twin, name)):
            assert time.monotonic() < deadline, (
                f"{source}: {len(acked - set(stored))} acknowledged points missing"
            )
            time.sleep(0.2)
        repeated = [t for t, n in Counter(stored).items() if n > 1]
        assert repeated == [], f"{source}: stored more than once: {repeated[:5]}"
        assert set(stored) <= sent, f"{source}: stored points nobody sent"
