"""/v1/events: the ordered stream of everything that happened to models, twins and edges.

``/v1/twins/{id}/stream`` follows one twin live, as server-sent events (the console uses it).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from twinops.api.deps import PlatformDep, Viewer
from twinops.api.routes.common import Limit
from twinops.platform import Platform
from twinops.timeutil import format_rfc3339
from twinops.twins.entities import Event

router = APIRouter(prefix="/v1", tags=["events"])


def event_to_json(event: Event) -> dict[str, Any]:
    """An event as the API shows it."""
    return {
        "seq": event.seq,
        "type": event.type,
        "subject": event.subject,
        "time": format_rfc3339(event.occurred_at),
        "data": event.data,
    }


@router.get("/events", operation_id="events-list")
def list_events(
    platform: PlatformDep,
    caller: Viewer,
    after: Annotated[int, Query(ge=0, le=2**62, description="last `seq` already seen")] = 0,
    subject: Annotated[str | None, Query(max_length=2048)] = None,
    limit: Limit = 100,
    order: Annotated[
        Literal["asc", "desc"],
        Query(description="`desc`: the latest events first; `next` is then the next `before`"),
    ] = "asc",
    before: Annotated[
        int | None, Query(ge=1, le=2**62, description="only events with a lower `seq`")
    ] = None,
    types: Annotated[
        list[Annotated[str, Query(max_length=64)]] | None,
        Query(
            alias="type",
            max_length=32,
            description="only events of these types (repeatable), e.g. `DriftDetected`",
        ),
    ] = None,
) -> Any:
    """Events after ``after`` in order; ``next`` is the ``after`` of the following page."""
    items = platform.events.list_events(
        caller.tenant,
        after_seq=after,
        subject=subject,
        limit=limit,
        newest_first=order == "desc",
        before_seq=before,
        types=types,
    )
    next_after = str(items[-1].seq) if len(items) == limit else None
    return {"data": [event_to_json(e) for e in items], "next": next_after}


STREAM_RETRY_MS = 2000
STREAM_HEARTBEAT_SECONDS = 10.0


def _sse(event: str, data: Any, event_id: str | None = None) -> bytes:
    """One server-sent event: its name, an optional id and a JSON data line."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\n".encode() + b"data: " + orjson.dumps(data) + b"\n\n"


def _changed_fields(
    platform: Platform, tenant: str, twin_id: str, sent: dict[str, int]
) -> dict[str, Any]:
    """Fields whose latest event time moved past what was already sent (updates ``sent``)."""
    now = platform.ingest.now()
    changed: dict[str, Any] = {}
    for name, value in sorted(platform.state.current(tenant, twin_id).items()):
        if sent.get(name) == value.event_time:
            continue
        sent[name] = value.event_time
        changed[name] = {
            "value": value.value,
            "time": format_rfc3339(value.event_time),
            "ageSeconds": round((now - value.event_time) / 1e6, 3),
        }
    return changed


@router.get(
    "/twins/{twin_id}/stream",
    operation_id="events-twin_stream",
    response_class=StreamingResponse,
    responses={200: {"description": "server-sent events", "content": {"text/event-stream": {}}}},
)
async def twin_stream(
    request: Request,
    platform: PlatformDep,
    caller: Viewer,
    twin_id: str,
    after: Annotated[
        int, Query(ge=0, le=2**62, description="last event `seq` seen (0: from now on)")
    ] = 0,
    max_seconds: Annotated[
        float, Query(alias="maxSeconds", gt=0, le=3600, description="end the stream after this")
    ] = 30.0,
    interval: Annotated[float, Query(ge=0.2, le=60, description="poll period, seconds")] = 1.0,
) -> StreamingResponse:
    """A twin live as ``text/event-stream``: ``state`` events (fields whose value changed,
    all of them first), ``event`` events (the twin's events after ``after``), comments as
    heartbeats. The stream ends after ``maxSeconds`` with a ``bye`` event; clients reconnect
    (``retry`` is sent first), passing the last ``seq`` they saw as ``after``.
    """
    tenant = caller.tenant
    await run_in_threadpool(platform.twins.get, tenant, twin_id)  # 404 before streaming
    if after == 0:  # a new follower starts from now: after the latest event of any subject
        latest = await run_in_threadpool(
            lambda: platform.events.list_events(tenant, limit=1, newest_first=True)
        )
        after = latest[0].seq if latest else 0

    async def events() -> AsyncIterator[bytes]:
        yield f"retry: {STREAM_RETRY_MS}\n\n".encode()
        sent: dict[str, int] = {}
        last_seq = after
        deadline = time.monotonic() + max_seconds
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            if await request.is_disconnected():
                return
            changed = await run_in_threadpool(_changed_fields, platform, tenant, twin_id, sent)
            if changed:
                yield _sse("state", {"twin": twin_id, "fields": changed})
                quiet_since = time.monotonic()
            happened = await run_in_threadpool(
                platform.events.list_events, tenant, after_seq=last_seq, subject=twin_id, limit=100
            )
            for item in happened:
                last_seq = item.seq
                yield _sse("event", event_to_json(item), event_id=str(item.seq))
                quiet_since = time.monotonic()
            if time.monotonic() - quiet_since >= STREAM_HEARTBEAT_SECONDS:
                yield b": heartbeat\n\n"
                quiet_since = time.monotonic()
            await asyncio.sleep(min(interval, max(0.0, deadline - time.monotonic())))
        yield _sse("bye", {"reason": "maxSeconds", "after": last_seq})

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)
