"""Topic convention, credentials and payload decoding of MQTT messages (no broker)."""

from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from twinops.errors import Unauthorized
from twinops.ingest.mqtt_messages import Delivery, TopicAddress, parse_topic, sort_deliveries
from twinops.security.entities import Principal, Role

KEYS = {
    "Bearer op-a": Principal("a", "ops", Role.OPERATOR, "k1", "key"),
    "Bearer view-a": Principal("a", "viewer", Role.VIEWER, "k2", "key"),
    "Bearer op-b": Principal("b", "ops", Role.OPERATOR, "k3", "key"),
}


def authenticate(authorization: str | None) -> Principal:
    if authorization not in KEYS:
        raise Unauthorized("the API key is not valid")
    return KEYS[authorization]


def sort(*deliveries: Delivery, max_points: int = 100, max_bytes: int = 10_000):  # type: ignore[no-untyped-def]
    return sort_deliveries(
        deliveries, authenticate, prefix="twinops", max_points=max_points, max_bytes=max_bytes
    )


def msg(topic: str, payload: object, auth: str | None = "Bearer op-a") -> Delivery:
    body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    return Delivery(1, 1, topic, body, auth)


def test_topics_name_a_tenant_and_optionally_a_twin() -> None:
    assert parse_topic("twinops/a/pump-1/telemetry", "twinops") == TopicAddress("a", "pump-1")
    assert parse_topic("twinops/a/telemetry", "twinops") == TopicAddress("a", None)
    assert parse_topic("twinops/a/b/c/telemetry", "twinops") is None
    assert parse_topic("other/a/telemetry", "twinops") is None
    assert parse_topic("twinops/a/pump 1/telemetry", "twinops") is None
    assert parse_topic("twinops//telemetry", "twinops") is None


def test_a_point_on_a_twin_topic_takes_the_twin_of_the_topic() -> None:
    batches, unattributed = sort(
        msg("twinops/a/pump-1/telemetry", [{"name": "speed", "value": 1, "time": 0}])
    )
    assert unattributed == []
    [batch] = batches
    assert (batch.tenant, batch.source) == ("a", "mqtt:k1")
    assert batch.points == [{"twin": "pump-1", "name": "speed", "value": 1, "time": 0}]


def test_a_point_naming_another_twin_than_its_topic_is_refused() -> None:
    [batch], _ = sort(
        msg(
            "twinops/a/pump-1/telemetry",
            [{"twin": "pump-2", "name": "speed", "value": 1, "time": 0}],
        )
    )
    assert batch.points == []
    [refused] = batch.rejected
    assert (refused.field, refused.rule, refused.twin_id) == ("twin", "twinMatchesTopic", "pump-1")


def test_a_topic_of_another_tenant_is_quarantined_in_the_publishers_tenant() -> None:
    [batch], _ = sort(msg("twinops/b/pump-1/telemetry", {"name": "speed"}))
    assert batch.tenant == "a"
    assert [(r.field, r.rule) for r in batch.rejected] == [("topic", "tenantMatchesCredentials")]
    assert batch.points == []


def test_a_viewer_cannot_publish_telemetry() -> None:
    [batch], _ = sort(msg("twinops/a/telemetry", {"name": "speed"}, "Bearer view-a"))
    assert [(r.field, r.rule) for r in batch.rejected] == [("authorization", "role")]


def test_messages_without_valid_credentials_belong_to_no_tenant() -> None:
    batches, unattributed = sort(
        msg("twinops/a/telemetry", {}, None),
        msg("twinops/a/telemetry", {}, "Bearer forged"),
        msg("elsewhere/a/telemetry", {}),
    )
    assert batches == []
    assert len(unattributed) == 3
    assert "credentials refused" in unattributed[0].reason
    assert "forged" not in unattributed[1].reason


def test_oversized_payloads_and_batches_are_quarantined_not_decoded() -> None:
    [batch], _ = sort(
        msg("twinops/a/telemetry", b"[" + b" " * 200 + b"]"),
        msg("twinops/a/telemetry", [{}] * 3),
        max_points=2,
        max_bytes=100,
    )
    assert [r.rule for r in batch.rejected] == ["size", "batchSize"]
    assert all(len(r.payload["line"]) <= 2000 for r in batch.rejected)


def test_one_batch_per_tenant_and_source() -> None:
    batches, _ = sort(
        msg("twinops/a/telemetry", {"twin": "x"}),
        msg("twinops/b/telemetry", {"twin": "y"}, "Bearer op-b"),
        msg("twinops/a/telemetry", [{"twin": "z"}]),
    )
    assert {(b.tenant, len(b.points)) for b in batches} == {("a", 2), ("b", 1)}


@given(st.binary(max_size=300))
def test_any_payload_becomes_points_or_a_quarantined_message(payload: bytes) -> None:
    [batch], unattributed = sort(msg("twinops/a/pump-1/telemetry", payload))
    assert unattributed == []
    assert len(batch.points) + len(batch.rejected) >= 1
    for refused in batch.rejected:
        assert refused.reason and refused.rule


@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers(-(2**63), 2**63 - 1)
        | st.floats()
        | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
        ),
        max_leaves=20,
    )
)
def test_any_json_payload_is_sorted_without_crashing(value: object) -> None:
    [batch], _ = sort(msg("twinops/a/pump-1/telemetry", orjson.dumps(value)))
    count = len(value) if isinstance(value, list) else 1
    assert len(batch.points) + len(batch.rejected) == count
