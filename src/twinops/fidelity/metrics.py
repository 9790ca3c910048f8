"""Goodness of fit: observed vs simulated, per output (pairs with a non-finite side are skipped).

* ``bias`` is mean(simulated - observed); ``rmse``, ``mae`` as usual;
* ``mape`` is in percent, over the points whose observed value is not ~0 (None if none);
* ``r2`` is 1 - SSres/SStot (None when the observations do not vary);
* ``coverage`` is the fraction of observations inside [lower, upper] (None without interval).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
_ZERO = 1e-12


@dataclass(frozen=True)
class Metrics:
    """The fit of one output (or one output of one twin)."""

    n: int
    rmse: float | None
    mae: float | None
    mape: float | None
    bias: float | None
    r2: float | None
    coverage: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The metrics as JSON (None for undefined values)."""
        return asdict(self)


def compare(
    observed: FloatArray,
    simulated: FloatArray,
    lower: FloatArray | None = None,
    upper: FloatArray | None = None,
) -> Metrics:
    """Metrics of ``simulated`` against ``observed`` (any equal shapes)."""
    obs = np.asarray(observed, dtype=np.float64).ravel()
    sim = np.asarray(simulated, dtype=np.float64).ravel()
    keep = np.isfinite(obs) & np.isfinite(sim)
    obs, sim = obs[keep], sim[keep]
    n = int(obs.size)
    if n == 0:
        return Metrics(0, None, None, None, None, None, None)
    error = sim - obs
    rmse = float(np.sqrt(np.mean(error * error)))
    mae = float(np.mean(np.abs(error)))
    bias = float(np.mean(error))
    scale = np.abs(obs)
    nonzero = scale > _ZERO * max(1.0, float(scale.max()))
    mape = (
        float(100.0 * np.mean(np.abs(error[nonzero]) / scale[nonzero])) if nonzero.any() else None
    )
    spread = obs - obs.mean()
    total = float(np.sum(spread * spread))
    r2 = 1.0 - float(np.sum(error * error)) / total if total > _ZERO * n else None
    coverage = None
    if lower is not None and upper is not None:
        low = np.asarray(lower, dtype=np.float64).ravel()[keep]
        high = np.asarray(upper, dtype=np.float64).ravel()[keep]
        inside = (obs >= low) & (obs <= high)
        coverage = float(np.mean(inside))
    return Metrics(n, rmse, mae, mape, bias, r2, coverage)


LIMITS_ABOVE = ("rmse", "mae", "mape", "bias")
"""Metrics whose threshold is an upper limit (``bias`` on its absolute value)."""
LIMITS_BELOW = ("r2", "coverage")
"""Metrics whose threshold is a lower limit."""


def check_thresholds(metrics: Metrics, limits: dict[str, float]) -> dict[str, Any]:
    """Each limit's value, limit and verdict, and whether all passed (undefined fails)."""
    checks: dict[str, Any] = {}
    for name, limit in sorted(limits.items()):
        value = getattr(metrics, name)
        if value is None:
            checks[name] = {"value": None, "limit": limit, "passed": False, "reason": "undefined"}
            continue
        measured = abs(value) if name == "bias" else value
        passed = measured <= limit if name in LIMITS_ABOVE else measured >= limit
        checks[name] = {"value": value, "limit": limit, "passed": bool(passed)}
    return {"passed": all(c["passed"] for c in checks.values()), "checks": checks}
