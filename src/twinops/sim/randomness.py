"""Seeded random streams that do not depend on how runs are batched.

Every stream is a child of ``np.random.SeedSequence(seed)`` with its own ``spawn_key``:

* per-run engines (ODE, discrete-event, FMU) give member ``m`` the generator of
  ``spawn_key=(RUN, m)`` — the same as ``SeedSequence(seed).spawn`` would, per purpose;
* vectorized draws (step noise, parameter samples, input noise) come in blocks of
  :data:`BLOCK` members: block ``b`` has its own generator and always draws a full block, so
  member ``m`` gets the same numbers however many members there are (a run with 1,000
  members is a prefix of one with 100,000) and however an executor splits them at block
  boundaries.
"""

from __future__ import annotations

import zlib

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

BLOCK = 1024
"""Members per random block (part of the determinism contract: changing it changes results)."""

PARAMS = 0
STEP = 1
INPUT = 2
RUN = 3


def name_key(name: str) -> int:
    """A stable integer for a name (crc32; Python's ``hash`` differs between processes)."""
    return zlib.crc32(name.encode("utf-8"))


def generator(seed: int, *key: int) -> np.random.Generator:
    """The generator of one stream."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


def run_generator(seed: int, member: int) -> np.random.Generator:
    """The generator of one member of a per-run engine."""
    return generator(seed, RUN, member)


class MemberNoise:
    """Draws of shape ``(n,)``; member ``m`` gets element ``m % BLOCK`` of its block's draw."""

    def __init__(self, seed: int, n: int, *key: int) -> None:
        self.n = n
        blocks = max(1, -(-n // BLOCK))
        self._generators = [generator(seed, *key, b) for b in range(blocks)]
        self._buffer = np.empty(blocks * BLOCK, dtype=np.float64)

    def standard_normal(self) -> FloatArray:
        """One standard normal number per member."""
        for b, gen in enumerate(self._generators):
            gen.standard_normal(out=self._buffer[b * BLOCK : (b + 1) * BLOCK])
        return self._buffer[: self.n].copy()

    def random(self) -> FloatArray:
        """One uniform number in [0, 1) per member."""
        for b, gen in enumerate(self._generators):
            gen.random(out=self._buffer[b * BLOCK : (b + 1) * BLOCK])
        return self._buffer[: self.n].copy()


def member_uniforms(seed: int, n: int, name: str) -> FloatArray:
    """One uniform number per member for the named quantity (a parameter sample)."""
    return MemberNoise(seed, n, PARAMS, name_key(name)).random()
