"""GET /v1/twins/{id}/export: a time range of fields as CSV or Parquet, streamed."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response, StreamingResponse

from twinops.api.deps import PlatformDep, Viewer
from twinops.api.routes.common import optional_time
from twinops.errors import InvalidInput
from twinops.state.export import MEDIA_TYPES, ExportRange, export_chunks

router = APIRouter(prefix="/v1", tags=["telemetry"])

_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9_.-]")
_DESCRIPTION = (
    "Long format, one row per point in event-time order: `time` (RFC 3339 UTC in CSV, "
    "timestamp[us, UTC] in Parquet), `name`, `value` (numbers as float64) and `value_json` "
    "(any other value as JSON text)."
)


@router.get(
    "/twins/{twin_id}/export",
    operation_id="telemetry-export",
    response_class=Response,
    responses={
        200: {
            "description": _DESCRIPTION,
            "content": {media: {} for media in MEDIA_TYPES.values()},
        }
    },
)
def export(
    platform: PlatformDep,
    caller: Viewer,
    twin_id: str,
    fields: Annotated[
        list[str], Query(min_length=1, max_length=100, description="field names, repeated")
    ],
    start: Annotated[str | None, Query(max_length=64, description="RFC 3339 or epoch")] = None,
    end: Annotated[str | None, Query(max_length=64, description="RFC 3339 or epoch")] = None,
    fmt: Annotated[Literal["csv", "parquet"], Query(alias="format")] = "csv",
) -> Response:
    """Fields of a twin over [start, end) as a CSV or Parquet file (long format)."""
    twin = platform.twins.get(caller.tenant, twin_id)
    model = platform.models.resolve(caller.tenant, twin.model)
    for name in fields:
        if len(name) > 512 or model.field(name) is None:
            raise InvalidInput.single(
                "fields",
                "fieldDefined",
                f"{model.dtmi} has no telemetry or property '{name[:512]}'",
                name,
            )
    start_us, end_us = optional_time(start, "start"), optional_time(end, "end")
    if start_us is not None and end_us is not None and end_us <= start_us:
        raise InvalidInput.single("end", "range", "end must follow start", end)
    what = ExportRange(
        caller.tenant, twin_id, tuple(dict.fromkeys(fields)), start=start_us, end=end_us
    )
    filename = f"{_UNSAFE_FILENAME.sub('_', twin_id)}-export.{fmt}"
    return StreamingResponse(
        export_chunks(platform.state, what, fmt),
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
