"""Input plans: each input's value per step and member, as the engines read them.

A plan holds, per input, a table of shape ``(steps + 1, columns)`` — or ``(1, columns)`` for a
value constant in time — with one column shared by every member, or one per twin (replayed
history); plus optional additive white noise (one draw per
member and step, from a stream of its own) and an optional per-member scale (a profile given
relative to a parameter, e.g. speed as a fraction of ``ratedSpeed``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from twinops.sim.randomness import INPUT, MemberNoise, name_key

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


@dataclass(frozen=True)
class InputSeries:
    """One input: its table, which column each member reads, its noise and its scale."""

    name: str
    table: FloatArray
    columns: IntArray | None = None
    noise_sd: float = 0.0
    scale: FloatArray | None = None


class InputPlan:
    """Every input at step ``k``; read the steps in order (noise is drawn as they are read)."""

    def __init__(self, series: Sequence[InputSeries], n: int, seed: int) -> None:
        self.series = tuple(series)
        self.n = n
        self._noise = {
            s.name: MemberNoise(seed, n, INPUT, name_key(s.name))
            for s in self.series
            if s.noise_sd > 0
        }

    @property
    def names(self) -> tuple[str, ...]:
        """The inputs' names."""
        return tuple(s.name for s in self.series)

    def at(self, k: int) -> dict[str, FloatArray]:
        """Each input's values at step ``k``: shape ``(n,)``, or ``(1,)`` when all share it."""
        values: dict[str, FloatArray] = {}
        for s in self.series:
            row = s.table[k if s.table.shape[0] > 1 else 0]
            value = row[s.columns] if s.columns is not None else row
            noise = self._noise.get(s.name)
            if noise is not None:
                value = value + s.noise_sd * noise.standard_normal()
            if s.scale is not None:
                value = value * s.scale
            values[s.name] = value
        return values

    def full(self, steps: int) -> dict[str, FloatArray]:
        """Each input's values at every step, shape ``(steps + 1, n)`` (for per-run engines)."""
        out = {s.name: np.empty((steps + 1, self.n), dtype=np.float64) for s in self.series}
        for k in range(steps + 1):
            for name, value in self.at(k).items():
                out[name][k] = value
        return out
