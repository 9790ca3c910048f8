"""Field types of scenario specs: durations and instants, each with one canonical JSON form."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer
from pydantic_core import PydanticCustomError

from twinops.errors import InvalidInput
from twinops.sim.durations import DurationError, format_duration, parse_duration
from twinops.timeutil import format_rfc3339, parse_time


def _duration(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        raise PydanticCustomError("duration", "a duration must be positive")
    try:
        return parse_duration(value)
    except DurationError as exc:
        raise PydanticCustomError("duration", str(exc)) from None


def _instant(value: Any) -> int:
    try:
        return parse_time(value)
    except InvalidInput as exc:
        raise PydanticCustomError("time", exc.violations[0].message) from None


Duration = Annotated[
    int, BeforeValidator(_duration), PlainSerializer(format_duration, return_type=str)
]
"""Microseconds; written "24h", "15min", "PT1H" or a number of seconds; canonical "1d"."""

Instant = Annotated[
    int, BeforeValidator(_instant), PlainSerializer(format_rfc3339, return_type=str)
]
"""Epoch microseconds; written RFC 3339 or an epoch number; canonical RFC 3339 (µs, Z)."""
