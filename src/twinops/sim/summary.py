"""JSON-safe summaries: plain floats (None for NaN/inf), lists, string keys."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from twinops.sim.engines.base import Progress


def number(value: Any) -> float | None:
    """A float for JSON, or None when it is not finite."""
    result = float(value)
    return result if math.isfinite(result) else None


def json_safe(value: Any) -> Any:
    """``value`` with NumPy scalars/arrays made plain and non-finite floats made None."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return [json_safe(v) for v in value.tolist()]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return number(value)
    return value


def stage(progress: Progress, low: float, high: float, name: str) -> Progress:
    """A progress callback mapping 0..1 onto ``low..high`` of the whole, messages prefixed."""

    def report(fraction: float, message: str) -> None:
        progress(low + (high - low) * fraction, f"{name}: {message}")

    return report
