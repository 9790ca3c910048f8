"""Time as the platform keeps it: UTC, integer microseconds since the epoch."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache

from twinops.errors import InvalidInput

Micros = int
Clock = Callable[[], Micros]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
)
# Epoch numbers are read by magnitude: seconds until ~2286, then ms, then µs.
_SECONDS_LIMIT = 10**10
_MILLIS_LIMIT = 10**13


def system_clock() -> Micros:
    """Wall-clock now, in microseconds since the epoch."""
    return time.time_ns() // 1000


def to_micros(dt: datetime) -> Micros:
    """A timezone-aware datetime as epoch microseconds."""
    if dt.tzinfo is None:
        raise ValueError("naive datetimes are ambiguous; give a timezone")
    delta = dt - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(us: Micros) -> datetime:
    """Epoch microseconds as an aware UTC datetime."""
    return datetime.fromtimestamp(us // 1_000_000, tz=UTC).replace(microsecond=us % 1_000_000)


@lru_cache(maxsize=4096)
def format_rfc3339(us: Micros) -> str:
    """Epoch microseconds as RFC 3339 with a ``Z`` suffix and microsecond precision."""
    return from_micros(us).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: object, field: str = "time") -> Micros:
    """Read RFC 3339 text or an epoch number (s, ms or µs by magnitude) as epoch µs."""
    if isinstance(value, bool):
        raise InvalidInput.single(field, "time", "must be RFC 3339 text or an epoch number", value)
    if isinstance(value, int | float):
        magnitude = abs(value)
        if magnitude < _SECONDS_LIMIT:
            return round(value * 1_000_000)
        if magnitude < _MILLIS_LIMIT:
            return round(value * 1_000)
        return round(value)
    if isinstance(value, str):
        text = value.strip()
        if _RFC3339.match(text):
            fraction = re.search(r"\.(\d+)", text)
            base = re.sub(r"\.\d+", "", text).replace("z", "Z").replace("Z", "+00:00")
            parsed = datetime.fromisoformat(base.replace("t", "T").replace(" ", "T"))
            micros = to_micros(parsed)
            if fraction:
                micros += int(fraction.group(1)[:6].ljust(6, "0"))
            return micros
        try:
            return parse_time(float(text), field) if text else _bad_time(field, value)
        except ValueError:
            pass
    return _bad_time(field, value)


def _bad_time(field: str, value: object) -> Micros:
    raise InvalidInput.single(
        field, "time", "must be RFC 3339 (e.g. 2026-01-31T12:00:00Z) or an epoch number", value
    )
