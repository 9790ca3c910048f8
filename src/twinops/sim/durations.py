"""Durations as scenario specs write them ("24h", "1.5min", "PT15M", 90) and their canonical text.

A duration is kept as integer microseconds, like every time in twinops. Its canonical text uses
the largest unit that divides it exactly (``86400 s`` -> ``"1d"``, ``5400 s`` -> ``"90min"``),
so the same duration always hashes the same in a canonical spec.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

MICROS = {
    "us": 1,
    "µs": 1,
    "ms": 1_000,
    "s": 1_000_000,
    "sec": 1_000_000,
    "m": 60_000_000,
    "min": 60_000_000,
    "h": 3_600_000_000,
    "hr": 3_600_000_000,
    "d": 86_400_000_000,
    "w": 604_800_000_000,
}
# Largest first: the canonical text picks the first unit dividing the duration exactly.
_CANONICAL = (
    ("w", 604_800_000_000),
    ("d", 86_400_000_000),
    ("h", 3_600_000_000),
    ("min", 60_000_000),
    ("s", 1_000_000),
    ("ms", 1_000),
    ("us", 1),
)
_TOKEN = re.compile(r"(\d+(?:\.\d+)?)\s*(us|µs|ms|sec|min|hr|s|m|h|d|w)", re.IGNORECASE)
_COMPOUND = re.compile(r"^\s*(?:\d+(?:\.\d+)?\s*(?:us|µs|ms|sec|min|hr|s|m|h|d|w)\s*)+$", re.I)
_ISO = re.compile(
    r"^P(?:(?P<w>\d+(?:\.\d+)?)W)?(?:(?P<d>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
MAX_DURATION_US = 100 * 365 * 86_400_000_000  # a century: far past any sensible horizon


class DurationError(ValueError):
    """Text that is not a positive duration of whole microseconds."""


def parse_duration(value: object) -> int:
    """Microseconds of ``"24h"``, ``"1h30min"``, ``"PT15M"`` or a number of seconds."""
    if isinstance(value, bool):
        raise DurationError("a duration is text such as '24h' or a number of seconds")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise DurationError("a duration must be finite")
        return _checked(Decimal(repr(value)) * MICROS["s"])
    if not isinstance(value, str) or len(value) > 64:
        raise DurationError("a duration is text such as '24h' or a number of seconds")
    text = value.strip()
    iso = _ISO.match(text.upper()) if text[:1] in "Pp" else None
    if iso is not None and any(iso.groupdict().values()):
        scale = {"w": "w", "d": "d", "h": "h", "m": "min", "s": "s"}
        total = sum(
            (
                Decimal(amount) * MICROS[scale[key]]
                for key, amount in iso.groupdict().items()
                if amount
            ),
            Decimal(0),
        )
        return _checked(total)
    if _COMPOUND.match(text):
        total = sum((Decimal(n) * MICROS[u.lower()] for n, u in _TOKEN.findall(text)), Decimal(0))
        return _checked(total)
    try:
        return _checked(Decimal(text) * MICROS["s"])
    except InvalidOperation:
        raise DurationError(
            f"{value!r} is not a duration (use e.g. '24h', '15min', '1s', 'PT1H')"
        ) from None


def _checked(micros: Decimal) -> int:
    if not micros.is_finite():
        raise DurationError("a duration must be finite")
    if micros != micros.to_integral_value():
        raise DurationError("a duration must be a whole number of microseconds")
    if micros <= 0:
        raise DurationError("a duration must be positive")
    if micros > MAX_DURATION_US:
        raise DurationError("a duration must be at most 100 years")
    return int(micros)


def format_duration(micros: int) -> str:
    """The canonical text of a duration: the largest unit that divides it exactly."""
    for unit, size in _CANONICAL:
        if micros % size == 0:
            return f"{micros // size}{unit}"
    return f"{micros}us"  # unreachable: every integer is a whole number of microseconds
