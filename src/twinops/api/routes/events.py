"""/v1/events: the ordered stream of everything that happened to models, twins and edges."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from twinops.api.deps import PlatformDep, Viewer
from twinops.api.routes.common import Limit
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
) -> Any:
    """Events after ``after`` in order; ``next`` is the ``after`` of the following page."""
    items = platform.events.list_events(
        caller.tenant, after_seq=after, subject=subject, limit=limit
    )
    next_after = str(items[-1].seq) if len(items) == limit else None
    return {"data": [event_to_json(e) for e in items], "next": next_after}
