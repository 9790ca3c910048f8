"""Streaming change detectors over residuals: two-sided CUSUM, Page-Hinkley, rolling error.

Each detector is an immutable configuration (a frozen dataclass) plus a state of NumPy arrays
holding one slot per stream, so a monitor advances many streams in one vectorized call:
``update(state, slots, z, r, ref)`` takes, for distinct ``slots``, each stream's next residual
standardized (``z``, in reference standard deviations), raw (``r``) and the stream's reference
RMS (``ref``, raw units), and answers per slot whether it alarms and its statistic. A stream
that alarms is reset, so a persisting change alarms again once the statistic has rebuilt.

:class:`StreamingDetector` wraps one configuration and one stream for plain scalar use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
BoolArray = NDArray[np.bool_]


def _grow(array: NDArray[np.generic], capacity: int, fill: float) -> NDArray[np.generic]:
    """``array`` extended along its first axis to ``capacity`` rows filled with ``fill``."""
    if array.shape[0] >= capacity:
        return array
    extra = np.full((capacity - array.shape[0], *array.shape[1:]), fill, dtype=array.dtype)
    return np.concatenate([array, extra])


class DetectorState(Protocol):
    """Per-stream arrays of one detector; ``grow`` makes room for more streams."""

    def grow(self, capacity: int) -> None:
        """Make room for ``capacity`` streams (new streams start fresh)."""


class Detector(Protocol):
    """A detector configuration: its name, and vectorized updates of a state it creates."""

    @property
    def name(self) -> str:
        """Short name used in alerts (``cusum``, ``page-hinkley``, ``rolling-error``)."""

    def new_state(self, capacity: int) -> DetectorState:
        """A fresh state for ``capacity`` streams."""

    def update(
        self, state: DetectorState, slots: IntArray, z: FloatArray, r: FloatArray, ref: FloatArray
    ) -> tuple[BoolArray, FloatArray, FloatArray]:
        """Advance distinct ``slots`` by one residual each: (alarm, statistic, threshold)."""


# -- CUSUM --------------------------------------------------------------------------------------


@dataclass
class CusumState:
    """The upper and lower cumulative sums of every stream."""

    upper: FloatArray
    lower: FloatArray

    def grow(self, capacity: int) -> None:
        """Make room for ``capacity`` streams."""
        self.upper = _grow(self.upper, capacity, 0.0)  # type: ignore[assignment]
        self.lower = _grow(self.lower, capacity, 0.0)  # type: ignore[assignment]


@dataclass(frozen=True)
class Cusum:
    """Two-sided tabular CUSUM on standardized residuals (Page 1954; Montgomery's form).

    ``S+ = max(0, S+ + z - k)``, ``S- = max(0, S- - z - k)``; alarm when either exceeds ``h``.
    ``k`` (reference value, half the shift to detect) and ``h`` are in standard deviations of
    the residual estimated on the reference window; k = 0.5, h = 5 gives an in-control average
    run length of about 465 points per side on independent normal residuals.
    """

    k: float = 0.5
    h: float = 5.0
    name: ClassVar[str] = "cusum"

    def __post_init__(self) -> None:
        if not (self.k >= 0 and self.h > 0):
            raise ValueError("CUSUM needs k >= 0 and h > 0")

    def new_state(self, capacity: int) -> CusumState:
        """Both sums at zero for ``capacity`` streams."""
        return CusumState(np.zeros(capacity), np.zeros(capacity))

    def update(
        self, state: DetectorState, slots: IntArray, z: FloatArray, r: FloatArray, ref: FloatArray
    ) -> tuple[BoolArray, FloatArray, FloatArray]:
        """One step of both sums; alarmed streams restart from zero."""
        assert isinstance(state, CusumState)
        upper = np.maximum(0.0, state.upper[slots] + z - self.k)
        lower = np.maximum(0.0, state.lower[slots] - z - self.k)
        statistic = np.maximum(upper, lower)
        alarm = statistic > self.h
        if alarm.any():
            upper[alarm] = 0.0
            lower[alarm] = 0.0
        state.upper[slots] = upper
        state.lower[slots] = lower
        return alarm, statistic, np.full(slots.shape, self.h)


# -- Page-Hinkley -------------------------------------------------------------------------------


@dataclass
class PageHinkleyState:
    """Running mean and the two cumulative deviations (with their extremes) of every stream."""

    n: FloatArray
    mean: FloatArray
    up: FloatArray
    up_min: FloatArray
    down: FloatArray
    down_max: FloatArray

    def grow(self, capacity: int) -> None:
        """Make room for ``capacity`` streams."""
        for name in ("n", "mean", "up", "up_min", "down", "down_max"):
            setattr(self, name, _grow(getattr(self, name), capacity, 0.0))


@dataclass(frozen=True)
class PageHinkley:
    """Two-sided Page-Hinkley test on standardized residuals.

    ``m_t = alpha·m_{t-1} + (z_t - mean_t - delta)``; alarm when ``m_t - min m > lambda`` (an
    increase) or, symmetrically, ``max m' - m'_t > lambda`` with ``+delta`` (a decrease).
    ``delta`` (tolerated drift) and ``lambda_`` are in reference standard deviations;
    ``alpha`` < 1 forgets old deviations (1: the classic test). The mean is the stream's own
    running mean since the last reset, so after an alarm the test re-baselines on the new level.
    """

    delta: float = 0.1
    lambda_: float = 25.0
    alpha: float = 1.0
    name: ClassVar[str] = "page-hinkley"

    def __post_init__(self) -> None:
        if not (self.delta >= 0 and self.lambda_ > 0 and 0 < self.alpha <= 1):
            raise ValueError("Page-Hinkley needs delta >= 0, lambda > 0 and 0 < alpha <= 1")

    def new_state(self, capacity: int) -> PageHinkleyState:
        """Empty statistics for ``capacity`` streams."""
        zeros = [np.zeros(capacity) for _ in range(6)]
        return PageHinkleyState(*zeros)

    def update(
        self, state: DetectorState, slots: IntArray, z: FloatArray, r: FloatArray, ref: FloatArray
    ) -> tuple[BoolArray, FloatArray, FloatArray]:
        """One step of both cumulative deviations; alarmed streams restart empty."""
        assert isinstance(state, PageHinkleyState)
        n = state.n[slots] + 1.0
        mean = state.mean[slots]
        mean = mean + (z - mean) / n
        up = self.alpha * state.up[slots] + (z - mean - self.delta)
        down = self.alpha * state.down[slots] + (z - mean + self.delta)
        up_min = np.minimum(state.up_min[slots], up)
        down_max = np.maximum(state.down_max[slots], down)
        statistic = np.maximum(up - up_min, down_max - down)
        alarm = statistic > self.lambda_
        if alarm.any():
            for values in (n, mean, up, down, up_min, down_max):
                values[alarm] = 0.0
        state.n[slots] = n
        state.mean[slots] = mean
        state.up[slots] = up
        state.down[slots] = down
        state.up_min[slots] = up_min
        state.down_max[slots] = down_max
        return alarm, statistic, np.full(slots.shape, self.lambda_)


# -- rolling error ------------------------------------------------------------------------------


@dataclass
class RollingErrorState:
    """A ring of the last squared residuals of every stream, their sum and count."""

    squares: FloatArray
    position: IntArray
    count: IntArray
    total: FloatArray

    def grow(self, capacity: int) -> None:
        """Make room for ``capacity`` streams."""
        self.squares = _grow(self.squares, capacity, 0.0)  # type: ignore[assignment]
        self.position = _grow(self.position, capacity, 0)  # type: ignore[assignment]
        self.count = _grow(self.count, capacity, 0)  # type: ignore[assignment]
        self.total = _grow(self.total, capacity, 0.0)  # type: ignore[assignment]


@dataclass(frozen=True)
class RollingError:
    """RMSE of the raw residual over the last ``window`` points against ``factor`` x reference.

    The reference is the field's validation RMSE when the monitor was given one (a fidelity
    report's figure), else the RMS of the residual over the stream's warm-up. The statistic is
    the rolling RMSE (raw units); it is judged once ``min_points`` residuals are in the window.
    """

    window: int = 60
    factor: float = 2.0
    min_points: int = 0
    """0: the whole window."""
    name: ClassVar[str] = "rolling-error"

    def __post_init__(self) -> None:
        if not (self.window >= 1 and self.factor > 0 and 0 <= self.min_points <= self.window):
            raise ValueError("rolling error needs window >= 1, factor > 0, min_points <= window")

    def new_state(self, capacity: int) -> RollingErrorState:
        """Empty windows for ``capacity`` streams."""
        return RollingErrorState(
            np.zeros((capacity, self.window)),
            np.zeros(capacity, dtype=np.intp),
            np.zeros(capacity, dtype=np.intp),
            np.zeros(capacity),
        )

    def update(
        self, state: DetectorState, slots: IntArray, z: FloatArray, r: FloatArray, ref: FloatArray
    ) -> tuple[BoolArray, FloatArray, FloatArray]:
        """Push one squared residual per stream; alarmed streams start a new window."""
        assert isinstance(state, RollingErrorState)
        square = r * r
        position = state.position[slots]
        # Flat indices into the (stream, window) rings: cheaper than a 2-D fancy index.
        cell = slots * self.window
        cell += position
        squares = state.squares.reshape(-1)  # a view: the rings are C-contiguous
        total = state.total[slots] + square - squares.take(cell)
        squares[cell] = square
        count = np.minimum(state.count[slots] + 1, self.window)
        # The running sum can drift below zero by rounding; a fresh sum every lap would cost more.
        total = np.maximum(total, 0.0)
        statistic = np.sqrt(total / count)
        threshold = self.factor * ref
        needed = self.min_points or self.window
        alarm = (count >= needed) & (statistic > threshold)
        if alarm.any():
            cleared = slots[alarm]
            state.squares[cleared] = 0.0
            total[alarm] = 0.0
            count[alarm] = 0
            position[alarm] = -1
        state.total[slots] = total
        state.count[slots] = count
        state.position[slots] = (position + 1) % self.window
        return alarm, statistic, threshold


# -- one stream, scalar -------------------------------------------------------------------------


@dataclass(frozen=True)
class DetectorStep:
    """What a detector says about one residual."""

    alarm: bool
    statistic: float
    threshold: float


@dataclass
class StreamingDetector:
    """One detector over one stream of residuals, for scalar use (tests, notebooks, replays).

    ``scale`` and ``center`` standardize the raw residual (``z = (r - center)/scale``);
    ``reference_rms`` is the rolling-error reference.
    """

    config: Detector
    scale: float = 1.0
    center: float = 0.0
    reference_rms: float = 1.0
    _state: DetectorState = field(init=False, repr=False)
    _slot: IntArray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not (self.scale > 0 and math.isfinite(self.scale)):
            raise ValueError("scale must be positive and finite")
        self._state = self.config.new_state(1)
        self._slot = np.zeros(1, dtype=np.intp)

    def update(self, residual: float) -> DetectorStep:
        """Feed one raw residual; answer the alarm and the statistic."""
        r = np.array([residual], dtype=np.float64)
        z = (r - self.center) / self.scale
        ref = np.array([self.reference_rms])
        alarm, statistic, threshold = self.config.update(self._state, self._slot, z, r, ref)
        return DetectorStep(bool(alarm[0]), float(statistic[0]), float(threshold[0]))

    def run(self, residuals: FloatArray) -> tuple[BoolArray, FloatArray]:
        """Feed a series; answer the alarm flags and statistics at every point."""
        alarms = np.zeros(len(residuals), dtype=bool)
        stats = np.zeros(len(residuals))
        for i, value in enumerate(residuals):
            step = self.update(float(value))
            alarms[i] = step.alarm
            stats[i] = step.statistic
        return alarms, stats
