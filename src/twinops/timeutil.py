"""Time as the platform keeps it: UTC, integer microseconds since the epoch."""

from __future__ import annotations

import math
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
    # isoformat pads the year to four digits; strftime("%Y") does not on every platform.
    return from_micros(us).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


# Times must print as RFC 3339: years 0001 to 9999.
_MIN_MICROS = -62_135_596_800_000_000
_MAX_MICROS = 253_402_300_799_999_999


def parse_time(value: object, field: str = "time") -> Micros:
    """Read RFC 3339 text or an epoch number (s, ms or µs by magnitude) as epoch µs."""
    if isinstance(value, bool):
        raise InvalidInput.single(field, "time", "must be RFC 3339 text or an epoch number", value)
    if isinstance(value, int | float):
        if not math.isfinite(value):
            return _bad_time(field, value)
        magnitude = abs(value)
        if magnitude < _SECONDS_LIMIT:
            micros = round(value * 1_000_000)
        elif magnitude < _MILLIS_LIMIT:
            micros = round(value * 1_000)
        else:
            micros = round(value)
        return micros if _MIN_MICROS <= micros <= _MAX_MICROS else _bad_time(field, value)
    if isinstance(value, str):
        parsed = _rfc3339_micros(value)
        if parsed is not None:
            return parsed if _MIN_MICROS <= parsed <= _MAX_MICROS else _bad_time(field, value)
        if _RFC3339.match(value.strip()):
            return _bad_time(field, value)  # e.g. month 13: the shape fits, the date not
        try:
            number = float(value)
        except ValueError:
            return _bad_time(field, value)
        return parse_time(number, field)
    return _bad_time(field, value)


# Telemetry batches repeat their timestamps (every stream sampled at the same instants):
# parsing each distinct text once spares the regexes and datetime work per point.
@lru_cache(maxsize=4096)
def _rfc3339_micros(value: str) -> Micros | None:
    """Epoch µs of RFC 3339 text, or None when the text is not a valid RFC 3339 time."""
    text = value.strip()
    if not _RFC3339.match(text):
        return None
    fraction = re.search(r"\.(\d+)", text)
    base = re.sub(r"\.\d+", "", text).replace("z", "Z").replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(base.replace("t", "T").replace(" ", "T"))
    except ValueError:
        return None
    micros = to_micros(parsed)
    if fraction:
        micros += int(fraction.group(1)[:6].ljust(6, "0"))
    return micros


def _bad_time(field: str, value: object) -> Micros:
    raise InvalidInput.single(
        field, "time", "must be RFC 3339 (e.g. 2026-01-31T12:00:00Z) or an epoch number", value
    )
