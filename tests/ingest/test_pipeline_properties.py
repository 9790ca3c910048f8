"""Property-based tests of the ingest decoder and pipeline: nothing is lost, nothing crashes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twinops.config import Settings
from twinops.errors import MalformedInput, PayloadTooLarge
from twinops.ingest.decode import decode_points
from twinops.ingest.mqtt_messages import Delivery, sort_deliveries
from twinops.models.dtdl import DtdlSource
from twinops.platform import Platform
from twinops.security.entities import Principal, Role

MODEL = {
    "@context": ["dtmi:dtdl:context;3", "dtmi:dtdl:extension:quantitativeTypes;1"],
    "@id": "dtmi:test:Gauge;1",
    "@type": "Interface",
    "contents": [
        {"@type": ["Telemetry", "Pressure"], "name": "p", "schema": "double", "unit": "kilopascal"},
        {"@type": "Telemetry", "name": "n", "schema": "integer"},
        {"@type": "Telemetry", "name": "s", "schema": "string"},
    ],
}

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.text(max_size=8)
    | st.floats(allow_nan=True, allow_infinity=True)
)
points = (
    st.fixed_dictionaries(
        {
            "twin": st.sampled_from(["g1", "g2", "ghost", ""]),
            "name": st.sampled_from(["p", "n", "s", "x", ""]),
            "value": scalars,
            "time": st.integers(0, 2_000_000_000) | st.text(max_size=12) | st.none(),
        },
        optional={
            "unit": st.sampled_from(["psi", "bar", "kPa", "degC", "nope", ""]) | st.integers(),
            "id": st.text(min_size=1, max_size=6) | st.integers(),
            "extra": scalars,
        },
    )
    | scalars
)


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    folder: Path = tmp_path_factory.mktemp("prop")
    platform = Platform.open(Settings(data_dir=folder))
    tenant = platform.settings.default_tenant
    platform.models.upload(tenant, [DtdlSource(name="gauge", obj=MODEL)])
    for twin in ("g1", "g2"):
        platform.twins.put(tenant, twin, {"$metadata": {"$model": "dtmi:test:Gauge;1"}})
    yield platform
    platform.close()


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=st.lists(points, max_size=20))
def test_every_point_is_accepted_duplicated_or_quarantined(
    plant: Platform, batch: list[Any]
) -> None:
    tenant = plant.settings.default_tenant
    before = len(plant.state.quarantined(tenant, limit=100_000, include_replayed=True))
    report = plant.ingest.ingest(tenant, batch, source="prop").result
    after = len(plant.state.quarantined(tenant, limit=100_000, include_replayed=True))
    assert report.accepted + report.duplicates + report.quarantined == len(batch)
    assert after - before == report.quarantined


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=300), ndjson=st.booleans())
def test_decoder_raises_only_input_errors(body: bytes, ndjson: bool) -> None:
    content_type = "application/x-ndjson" if ndjson else "application/json"
    try:
        decoded, bad = decode_points(body, content_type, max_points=50)
    except (MalformedInput, PayloadTooLarge):
        return
    assert len(bad) <= len(decoded)


@settings(max_examples=100, deadline=None)
@given(
    batch=st.lists(
        st.dictionaries(
            st.text(max_size=5),
            st.none() | st.booleans() | st.integers(-(2**62), 2**62) | st.text(),
            max_size=4,
        ),
        max_size=10,
    )
)
def test_ndjson_round_trips_every_line(batch: list[dict[str, Any]]) -> None:
    body = b"\n".join(orjson.dumps(item) for item in batch)
    decoded, bad = decode_points(body, "application/x-ndjson", max_points=50)
    assert bad == [] and decoded == [item for item in batch]


def _as_payload(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:  # integers beyond 64 bits: send them as text, malformed on purpose
        return repr(value).encode()


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    messages=st.lists(
        st.tuples(
            st.sampled_from(["g1", "g2", None]),
            st.lists(points, max_size=6).map(_as_payload)
            | points.map(_as_payload)
            | st.binary(max_size=200),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_every_mqtt_message_is_stored_or_quarantined(
    plant: Platform, messages: list[tuple[str | None, bytes]]
) -> None:
    """Malformed MQTT payloads end in quarantine with a reason; the rest go through the pipeline."""
    tenant = plant.settings.default_tenant
    principal = Principal(tenant, "device", Role.OPERATOR, "k-device", "key")
    deliveries = [
        Delivery(
            i,
            1,
            "/".join(["twinops", tenant, *([twin] if twin else []), "telemetry"]),
            body,
            "Bearer device",
        )
        for i, (twin, body) in enumerate(messages)
    ]
    batches, unattributed = sort_deliveries(
        deliveries, lambda _: principal, prefix="twinops", max_points=50, max_bytes=10_000
    )
    assert unattributed == []
    [batch] = batches
    before = len(plant.state.quarantined(tenant, limit=100_000, include_replayed=True))
    report = plant.ingest.ingest(tenant, batch.points, source=batch.source, rejected=batch.rejected)
    after = len(plant.state.quarantined(tenant, limit=100_000, include_replayed=True))
    result = report.result
    assert result.accepted + result.duplicates + result.quarantined == len(batch.points) + len(
        batch.rejected
    )
    assert after - before == result.quarantined
