"""MQTT messages to pipeline input: topic convention, credentials and payload decoding.

Topics (``prefix`` is ``twinops`` unless configured):

- ``<prefix>/<tenant>/<twin>/telemetry``: points of one twin; a point may leave out ``twin``
  and may not name another one;
- ``<prefix>/<tenant>/telemetry``: points that name their twin (``twin`` or ``externalId``).

The payload is one JSON point or a JSON array of points (the keys of ``POST /v1/telemetry``),
in UTF-8. Credentials travel with every message as the MQTT 5 user property
``authorization`` = ``Bearer <API key or JWT>``: the principal must belong to ``<tenant>`` and
hold the operator role. The broker cannot tell twinops who published a message, so the
message itself carries the proof, exactly as an HTTP request does.

No network: the consumer (``ingest.mqtt``) feeds these functions what it receives, and
``commit_deliveries`` hands what they make to the pipeline.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from twinops.errors import TwinOpsError
from twinops.obs import tracing
from twinops.security.entities import Principal, Role
from twinops.state.entities import Rejected

if TYPE_CHECKING:
    from twinops.config import Settings
    from twinops.ingest.pipeline import IngestService

log = logging.getLogger("twinops.ingest.mqtt")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
AUTHORIZATION_PROPERTY = "authorization"
_EXCERPT = 2000


@dataclass(frozen=True)
class TopicAddress:
    """The tenant a topic names, and its twin when the topic is a twin's."""

    tenant: str
    twin: str | None


def topic_filters(prefix: str) -> tuple[str, str]:
    """The two subscriptions that cover the convention."""
    return f"{prefix}/+/+/telemetry", f"{prefix}/+/telemetry"


@functools.lru_cache(maxsize=65_536)  # a fleet's topics repeat with every message
def parse_topic(topic: str, prefix: str) -> TopicAddress | None:
    """The address a topic names, or None when it does not follow the convention."""
    head = f"{prefix}/"
    if not topic.startswith(head) or not topic.endswith("/telemetry"):
        return None
    parts = topic[len(head) : -len("/telemetry")].split("/")
    if not all(_NAME.match(part) for part in parts):
        return None
    if len(parts) == 1:
        return TopicAddress(parts[0], None)
    if len(parts) == 2:
        return TopicAddress(parts[0], parts[1])
    return None


@dataclass(frozen=True)
class Delivery:
    """One received message, with what it takes to acknowledge it later."""

    mid: int
    qos: int
    topic: str
    payload: bytes
    authorization: str | None
    generation: int = 0


@dataclass
class TenantBatch:
    """The input of one pipeline call: one tenant, one source."""

    tenant: str
    source: str
    points: list[Any] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


@dataclass(frozen=True)
class Unattributed:
    """A message no tenant can be held to (bad topic or credentials): logged and counted."""

    topic: str
    reason: str


Authenticator = Callable[[str | None], Principal]


def sort_deliveries(
    deliveries: Sequence[Delivery],
    authenticate: Authenticator,
    *,
    prefix: str,
    max_points: int,
    max_bytes: int,
) -> tuple[list[TenantBatch], list[Unattributed]]:
    """Group messages into pipeline batches per tenant and source; set apart the unattributable."""
    batches: dict[tuple[str, str], TenantBatch] = {}
    unattributed: list[Unattributed] = []
    for delivery in deliveries:
        address = parse_topic(delivery.topic, prefix)
        if address is None:
            unattributed.append(Unattributed(delivery.topic, "topic outside the convention"))
            continue
        try:
            principal = authenticate(delivery.authorization)
        except TwinOpsError as exc:
            unattributed.append(Unattributed(delivery.topic, f"credentials refused: {exc}"))
            continue
        source = f"mqtt:{principal.key_id or principal.subject}"
        key = (principal.tenant, source)
        batch = batches.get(key)
        if batch is None:
            batch = batches[key] = TenantBatch(principal.tenant, source)
        _add_message(batch, delivery, address, principal, max_points, max_bytes)
    return list(batches.values()), unattributed


def _add_message(
    batch: TenantBatch,
    delivery: Delivery,
    address: TopicAddress,
    principal: Principal,
    max_points: int,
    max_bytes: int,
) -> None:
    def refuse(field_name: str, rule: str, reason: str) -> None:
        excerpt = delivery.payload[:_EXCERPT].decode("utf-8", errors="replace")
        payload = {"topic": delivery.topic, "line": excerpt}
        batch.rejected.append(Rejected(batch.source, payload, field_name, rule, reason))

    if address.tenant != principal.tenant:
        # Kept in the publisher's own tenant: the topic's tenant learns nothing of it.
        refuse("topic", "tenantMatchesCredentials", "the topic names another tenant")
        return
    if not principal.role.allows(Role.OPERATOR):
        refuse("authorization", "role", "publishing telemetry needs the operator role")
        return
    if len(delivery.payload) > max_bytes:
        refuse("payload", "size", f"a message holds at most {max_bytes} bytes")
        return
    try:
        decoded = orjson.loads(delivery.payload)
    except orjson.JSONDecodeError as exc:
        refuse("payload", "json", f"not UTF-8 JSON: {exc}")
        return
    points = decoded if isinstance(decoded, list) else [decoded]
    if len(points) > max_points:
        refuse("payload", "batchSize", f"a message holds at most {max_points} points")
        return
    for point in points:
        if address.twin is None or not isinstance(point, dict):
            batch.points.append(point)
        elif "externalId" in point or point.setdefault("twin", address.twin) != address.twin:
            name = point.get("name")
            batch.rejected.append(
                Rejected(
                    batch.source,
                    point,
                    "twin",
                    "twinMatchesTopic",
                    f"the topic is twin {address.twin}'s; a point on it names no other twin",
                    address.twin,
                    name if isinstance(name, str) else None,
                )
            )
        else:
            batch.points.append(point)


def commit_deliveries(
    batch: list[Delivery],
    ingest: IngestService,
    authenticate: Authenticator,
    settings: Settings,
) -> int:
    """Decode, group and ingest messages; answers how many belonged to no tenant."""
    with tracing.span("ingest.decode", {"twinops.messages": len(batch)}):
        groups, unattributed = sort_deliveries(
            batch,
            authenticate,
            prefix=settings.mqtt_topic_prefix,
            max_points=settings.max_batch_items,
            max_bytes=settings.max_body_bytes,
        )
    for item in unattributed:
        log.warning("MQTT message on %r dropped: %s", item.topic, item.reason)
    for group in groups:
        ingest.ingest(group.tenant, group.points, source=group.source, rejected=group.rejected)
    return len(unattributed)
