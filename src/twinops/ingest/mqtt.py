"""The MQTT source: a persistent QoS 1 subscription that acknowledges only what is committed.

The consumer connects with MQTT 5, a fixed client id, ``clean_start=False`` and a session
expiry, so the broker keeps its subscription and queues messages while twinops is down.
Messages are acknowledged by hand (paho's ``manual_ack``), in arrival order, only after the
batch holding them has been committed: a message the broker counts as delivered is stored.
Until then it stays in flight, and the receive maximum announced at connect caps how many
the broker sends ahead, so a slow pipeline slows the broker down instead of filling memory.

A batch that fails to commit (the database is unreachable, say) is retried with backoff and
never acknowledged meanwhile. After a reconnect the broker resends unacknowledged messages;
acknowledgements from the previous connection are not sent (their packet ids may be reused),
and the repeated points are recognised as duplicates when they are applied.

Topic convention and credentials: see ``ingest.mqtt_messages``.
"""

from __future__ import annotations

import logging
import queue
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from twinops.config import Settings
from twinops.errors import InvalidInput
from twinops.ingest.admission import AdmissionGate
from twinops.ingest.mqtt_messages import (
    AUTHORIZATION_PROPERTY,
    Authenticator,
    Delivery,
    commit_deliveries,
    topic_filters,
)
from twinops.ingest.mqtt_processes import IngestProcesses
from twinops.ingest.pipeline import IngestService
from twinops.obs import tracing

log = logging.getLogger("twinops.ingest.mqtt")

_LINGER_SECONDS = 0.02
_MAX_RETRY_SECONDS = 30.0


@dataclass(frozen=True)
class BrokerAddress:
    """Where the broker is and how to log in to it (not the publishers' credentials)."""

    host: str
    port: int
    tls: bool
    username: str | None
    password: str | None

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        """``mqtt://[user[:password]@]host[:port]`` or ``mqtts://...``."""
        parts = urlsplit(url)
        if parts.scheme not in {"mqtt", "mqtts"} or not parts.hostname:
            raise InvalidInput.single(
                "mqtt_url", "url", "use mqtt://host[:port] or mqtts://host[:port]"
            )
        tls = parts.scheme == "mqtts"
        return cls(
            parts.hostname,
            parts.port or (8883 if tls else 1883),
            tls,
            unquote(parts.username) if parts.username else None,
            unquote(parts.password) if parts.password else None,
        )


@dataclass
class ConsumerStats:
    """Running counts, for readiness and metrics."""

    received: int = 0
    acknowledged: int = 0
    unattributed: int = 0
    batches: int = 0
    retries: int = 0


class MqttConsumer:
    """Subscribes to the telemetry topics and feeds the ingest pipeline."""

    def __init__(
        self,
        settings: Settings,
        ingest: IngestService,
        authenticate: Authenticator,
        gate: AdmissionGate | None = None,
    ) -> None:
        self._settings = settings
        self._ingest = ingest
        self._authenticate = authenticate
        self._gate = gate
        self._broker = BrokerAddress.parse(settings.mqtt_url)
        self._prefix = settings.mqtt_topic_prefix
        # Never more than the broker may have in flight, so on_message does not block.
        self._queue: queue.Queue[Delivery] = queue.Queue(settings.mqtt_receive_maximum + 1)
        self._generation = 0
        self._connected = threading.Event()
        self._stopping = threading.Event()
        self.stats = ConsumerStats()
        self._client = self._build_client()
        self._processes = (
            IngestProcesses(settings, settings.mqtt_ingest_processes)
            if settings.mqtt_ingest_processes > 1
            else None
        )
        self._worker = threading.Thread(target=self._run, name="twinops-mqtt", daemon=True)

    @property
    def connected(self) -> bool:
        """Whether the broker connection is up."""
        return self._connected.is_set()

    @property
    def ingest_processes(self) -> IngestProcesses | None:
        """The processes applying the messages, when ``mqtt_ingest_processes`` is 2 or more."""
        return self._processes

    def start(self) -> None:
        """Connect in the background and start consuming."""
        self._worker.start()

    def _connect(self) -> None:
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = self._settings.mqtt_session_expiry_seconds
        properties.ReceiveMaximum = self._settings.mqtt_receive_maximum
        self._client.connect_async(
            self._broker.host,
            self._broker.port,
            keepalive=30,
            clean_start=False,
            properties=properties,
        )
        self._client.loop_start()

    def wait_connected(self, timeout: float) -> bool:
        """Block until subscribed to the broker, or the timeout passes."""
        return self._connected.wait(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the batch in hand, then disconnect; the broker keeps the session."""
        self._stopping.set()
        if self._worker.is_alive():
            self._worker.join(timeout)
        self._client.disconnect()
        self._client.loop_stop()
        if self._processes is not None:
            self._processes.stop()

    # -- network thread -----------------------------------------------------------------

    def _build_client(self) -> paho.Client:
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self._settings.mqtt_client_id,
            protocol=MQTTProtocolVersion.MQTTv5,
            manual_ack=True,
        )
        if self._broker.tls:
            client.tls_set(cert_reqs=ssl.CERT_REQUIRED)
        if self._broker.username is not None:
            client.username_pw_set(self._broker.username, self._broker.password)
        client.reconnect_delay_set(1, 30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def _on_connect(
        self,
        client: paho.Client,
        userdata: Any,
        flags: Any,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.warning("MQTT broker refused the connection: %s", reason)
            return
        self._generation += 1
        # Retained messages only on a new subscription: a resumed session must not re-read them.
        options = SubscribeOptions(qos=1, retainHandling=1)
        client.subscribe([(topic, options) for topic in topic_filters(self._prefix)])
        self._connected.set()
        log.info(
            "MQTT consumer connected to %s:%d (session resumed: %s)",
            self._broker.host,
            self._broker.port,
            bool(getattr(flags, "session_present", False)),
        )

    def _on_disconnect(
        self,
        client: paho.Client,
        userdata: Any,
        flags: Any,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._connected.clear()
        if not self._stopping.is_set():
            log.warning("MQTT connection lost (%s); reconnecting", reason)

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        authorization = None
        for key, value in getattr(message.properties, "UserProperty", None) or ():
            if key.lower() == AUTHORIZATION_PROPERTY:
                authorization = value
        self.stats.received += 1
        self._queue.put(
            Delivery(
                message.mid,
                message.qos,
                message.topic,
                bytes(message.payload),
                authorization,
                self._generation,
            )
        )

    # -- worker thread ------------------------------------------------------------------

    def _run(self) -> None:
        # Messages arrive only once every ingest process is ready to take its share.
        if self._processes is not None and not self._start_processes():
            return
        self._connect()
        while not self._stopping.is_set():
            batch = self._take()
            if batch:
                self._process_until_done(batch)

    def _start_processes(self) -> bool:
        """Start the ingest processes, retrying with backoff; False if stopped meanwhile."""
        assert self._processes is not None
        delay = 0.5
        while not self._stopping.is_set():
            try:
                self._processes.start()
                return True
            except Exception:
                log.exception("MQTT ingest processes did not start; retrying in %.1fs", delay)
                self._stopping.wait(delay)
                delay = min(delay * 2, _MAX_RETRY_SECONDS)
        return False

    def _take(self) -> list[Delivery]:
        """The next batch: what is queued, lingering briefly for more up to the batch size."""
        try:
            first = self._queue.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + _LINGER_SECONDS
        while len(batch) < self._settings.mqtt_batch_points:
            remaining = deadline - time.monotonic()
            try:
                batch.append(
                    self._queue.get(timeout=max(remaining, 0))
                    if remaining > 0
                    else self._queue.get_nowait()
                )
            except queue.Empty:
                break
        return batch

    def _process_until_done(self, batch: list[Delivery]) -> None:
        delay = 0.5
        while True:
            try:
                self._process(batch)
                return
            except Exception:  # any failure: keep the messages unacknowledged and try again
                if self._stopping.is_set():
                    return
                self.stats.retries += 1
                log.exception(
                    "MQTT batch of %d messages failed; retrying in %.1fs", len(batch), delay
                )
                self._stopping.wait(delay)
                delay = min(delay * 2, _MAX_RETRY_SECONDS)

    def _process(self, batch: list[Delivery]) -> None:
        size = sum(len(d.payload) for d in batch)
        if self._gate is None:
            self._commit(batch)
        else:
            with self._gate.wait(size):
                self._commit(batch)
        generation = self._generation
        for delivery in batch:
            if delivery.qos > 0 and delivery.generation == generation:
                self._client.ack(delivery.mid, delivery.qos)
                self.stats.acknowledged += 1

    @tracing.traced("ingest.mqtt")
    def _commit(self, batch: list[Delivery]) -> None:
        if self._processes is not None:
            self.stats.unattributed += self._processes.commit(batch)
        else:
            self.stats.unattributed += commit_deliveries(
                batch, self._ingest, self._authenticate, self._settings
            )
        self.stats.batches += 1
