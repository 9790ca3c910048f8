"""/v1/telemetry, state, history, windows, quarantine and data quality."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from twinops.api.deps import Operator, PlatformDep, Viewer, point_read
from twinops.api.routes.common import json_response, optional_time, query_time
from twinops.digits import is_ascii_integer
from twinops.errors import InvalidInput
from twinops.ingest.decode import decode_points
from twinops.platform import Platform
from twinops.state.entities import FieldValue, Quality, QuarantineEntry, Sample, flag_names
from twinops.timeutil import format_rfc3339

router = APIRouter(prefix="/v1", tags=["telemetry"])

TimeParam = Annotated[str | None, Query(max_length=64, description="RFC 3339 or epoch")]


def _field_json(value: FieldValue, now: int) -> dict[str, Any]:
    return {
        "value": value.value,
        "time": format_rfc3339(value.event_time),
        "ingestTime": format_rfc3339(value.ingest_time),
        "source": value.source,
        "ageSeconds": round((now - value.event_time) / 1e6, 3),
    }


SourceParam = Annotated[
    str | None,
    Query(
        max_length=128,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/-]*$",
        description="what the points come from (e.g. file:pumps.csv), kept in data quality",
    ),
]


@router.post("/telemetry", operation_id="telemetry-ingest")
async def ingest(
    platform: PlatformDep, caller: Operator, request: Request, source: SourceParam = None
) -> Any:
    """Ingest a JSON array or NDJSON of points; answers accepted/duplicate/late/quarantined.

    Under overload the answer is 503 with Retry-After before the body is read: the batch is
    not taken, so nothing is lost, and memory stays bounded.
    """
    declared = request.headers.get("content-length", "")
    size = int(declared) if is_ascii_integer(declared) else platform.settings.max_body_bytes
    with platform.gate.admit(size):
        body = await request.body()
        points, bad = decode_points(
            body,
            request.headers.get("content-type"),
            max_points=platform.settings.max_batch_items,
        )
        report = await run_in_threadpool(
            platform.ingest.ingest,
            caller.tenant,
            points,
            source=_source_label(source, f"http:{caller.key_id or caller.subject}"),
            undecodable=[(b.index, b.text, b.reason) for b in bad],
        )
    return json_response(report.to_json())


def _source_label(declared: str | None, channel: str) -> str:
    """The channel, prefixed with what the caller says the points come from."""
    return channel if declared is None else f"{declared}@{channel}"


@router.get("/twins/{twin_id}/state", operation_id="telemetry-state")
async def twin_state(
    platform: PlatformDep, caller: Viewer, twin_id: str, as_of: TimeParam = None
) -> Any:
    """Every field's latest-event value, now or as of a past time."""
    at = optional_time(as_of, "as_of")
    return json_response(
        await point_read(platform, _state_body, platform, caller.tenant, twin_id, at)
    )


def _state_body(platform: Platform, tenant: str, twin_id: str, at: int | None) -> Any:
    platform.twins.get(tenant, twin_id)
    now = platform.ingest.now()
    if at is None:
        fields = platform.state.current(tenant, twin_id)
    else:
        fields = platform.state.as_of(tenant, [twin_id], at)[twin_id]
    return {
        "twin": twin_id,
        "asOf": format_rfc3339(at) if at is not None else None,
        "fields": {name: _field_json(v, now) for name, v in sorted(fields.items())},
    }


@router.get("/twins/{twin_id}/history/{name}", operation_id="telemetry-history")
def history(
    platform: PlatformDep,
    caller: Viewer,
    twin_id: str,
    name: str,
    start: TimeParam = None,
    end: TimeParam = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    cursor: Annotated[str | None, Query(max_length=32)] = None,
) -> Any:
    """A field's points in event-time order; ``next`` continues with ``&cursor=``."""
    platform.twins.get(caller.tenant, twin_id)
    after = None
    if cursor is not None:
        if not is_ascii_integer(cursor.lstrip("-")):
            raise InvalidInput.single("cursor", "cursor", "not a cursor this server issued")
        after = int(cursor)
    page = platform.state.history(
        caller.tenant,
        twin_id,
        name,
        start=optional_time(start, "start"),
        end=optional_time(end, "end"),
        limit=limit,
        after=after,
    )
    data = [_sample_json(s) for s in page.items]
    return json_response({"data": data, "next": page.next})


def _sample_json(sample: Sample) -> dict[str, Any]:
    """A history point; a flagged one also lists its marks (``"flags": ["veryLate"]``)."""
    item: dict[str, Any] = {"time": format_rfc3339(sample.time), "value": sample.value}
    if sample.flags:
        item["flags"] = flag_names(sample.flags)
    return item


@router.get("/twins/{twin_id}/windows/{name}", operation_id="telemetry-windows")
def windows(
    platform: PlatformDep,
    caller: Viewer,
    twin_id: str,
    name: str,
    start: Annotated[str, Query(max_length=64)],
    end: Annotated[str, Query(max_length=64)],
    interval: Annotated[float, Query(gt=0, le=366 * 86400, description="seconds")] = 60.0,
) -> Any:
    """Count, mean, min, max and last per interval, for charts and downsampling."""
    platform.twins.get(caller.tenant, twin_id)
    start_us, end_us = query_time(start, "start"), query_time(end, "end")
    step = int(interval * 1_000_000)
    if end_us <= start_us or (end_us - start_us) // step > 100_000:
        raise InvalidInput.single(
            "interval", "range", "end must follow start, with at most 100,000 intervals"
        )
    rows = platform.state.windows(
        caller.tenant, twin_id, name, start=start_us, end=end_us, interval=step
    )
    data = [
        {
            "start": format_rfc3339(w.start),
            "count": w.count,
            "mean": w.mean,
            "min": w.min,
            "max": w.max,
            "last": w.last,
        }
        for w in rows
    ]
    return json_response({"data": data})


class StateQuery(BaseModel):
    """Twins chosen by a query, and the time their state is wanted at (now when absent)."""

    query: str = Field(
        min_length=1,
        max_length=8000,
        examples=[
            "SELECT T FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:twinops:example:Pump;1')"
        ],
    )
    asOf: str | None = Field(default=None, max_length=64)
    continuationToken: str | None = Field(default=None, max_length=4096)
    pageSize: int = Field(default=100, ge=1, le=1000)


@router.post("/state/query", operation_id="telemetry-state_query")
def state_of_query(platform: PlatformDep, caller: Viewer, body: StateQuery) -> Any:
    """The state of every twin a query selects, now or as of a past time, page by page."""
    at = optional_time(body.asOf, "asOf")
    page = platform.twins.query(
        caller.tenant,
        body.query,
        page_size=body.pageSize,
        continuation=body.continuationToken,
        max_joins=platform.settings.max_query_joins,
    )
    ids = [str(item["$dtId"]) for item in page.items if isinstance(item.get("$dtId"), str)]
    if len(ids) != len(page.items):
        raise InvalidInput.single(
            "query", "selectTwins", "select whole twins (SELECT T ...) to ask for their state"
        )
    now = platform.ingest.now()
    if at is None:
        states = {twin_id: platform.state.current(caller.tenant, twin_id) for twin_id in ids}
    else:
        states = platform.state.as_of(caller.tenant, ids, at)
    return json_response(
        {
            "asOf": format_rfc3339(at) if at is not None else None,
            "value": [
                {
                    "twin": twin_id,
                    "fields": {n: _field_json(v, now) for n, v in sorted(states[twin_id].items())},
                }
                for twin_id in ids
            ],
            "continuationToken": page.next,
        }
    )


def _quarantine_json(entry: QuarantineEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "source": entry.source,
        "receivedAt": format_rfc3339(entry.received_at),
        "twin": entry.twin_id,
        "name": entry.name,
        "field": entry.field,
        "rule": entry.rule,
        "reason": entry.reason,
        "payload": entry.payload,
        "replayedAt": format_rfc3339(entry.replayed_at) if entry.replayed_at else None,
    }


@router.get("/quarantine", operation_id="telemetry-quarantine")
def list_quarantine(
    platform: PlatformDep,
    caller: Viewer,
    twin: Annotated[str | None, Query(max_length=128)] = None,
    rule: Annotated[str | None, Query(max_length=64)] = None,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    include_replayed: bool = False,
) -> Any:
    """Rejected points with their reasons, oldest first."""
    entries = platform.state.quarantined(
        caller.tenant,
        twin_id=twin,
        rule=rule,
        include_replayed=include_replayed,
        limit=limit,
        after=after,
    )
    next_after = str(entries[-1].id) if len(entries) == limit else None
    return {"data": [_quarantine_json(e) for e in entries], "next": next_after}


class ReplayRequest(BaseModel):
    """Which quarantined points to replay (after the model or mapping was fixed)."""

    ids: list[int] = Field(min_length=1, max_length=10_000)


@router.post("/quarantine/replay", operation_id="telemetry-replay")
def replay_quarantine(platform: PlatformDep, caller: Operator, body: ReplayRequest) -> Any:
    """Run quarantined points through the pipeline again; those that pass leave quarantine."""
    return platform.ingest.replay(caller.tenant, body.ids).to_json()


def _quality_json(q: Quality, now: int) -> dict[str, Any]:
    return {
        "twin": q.twin_id,
        "source": q.source,
        "accepted": q.accepted,
        "duplicates": q.duplicates,
        "late": q.late,
        "veryLate": q.very_late,
        "quarantined": q.quarantined,
        "lastEventTime": format_rfc3339(q.last_event_time) if q.last_event_time else None,
        "freshnessSeconds": round((now - q.last_event_time) / 1e6, 3)
        if q.last_event_time
        else None,
    }


@router.get("/quality", operation_id="telemetry-quality")
def quality(
    platform: PlatformDep,
    caller: Viewer,
    twin: Annotated[str | None, Query(max_length=128)] = None,
) -> Any:
    """Accepted, duplicate, late, very-late and quarantined counts and freshness, per source."""
    now = platform.ingest.now()
    return {"data": [_quality_json(q, now) for q in platform.state.quality(caller.tenant, twin)]}
