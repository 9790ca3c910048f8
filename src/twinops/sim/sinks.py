"""Sinks: what a kind keeps of the recorded outputs (whole series, per-member metrics, or
percentiles over runs), filled record by record as the engine steps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray
from scipy import special

FloatArray = NDArray[np.float64]


class SeriesSink:
    """Every recorded value: per output an array ``(records, n)``."""

    def __init__(self, outputs: Sequence[str], records: int, n: int) -> None:
        self.values = {name: np.empty((records, n), dtype=np.float64) for name in outputs}

    def __call__(self, index: int, outputs: Mapping[str, FloatArray]) -> None:
        """Keep record ``index``."""
        for name, values in self.values.items():
            values[index] = outputs[name]

    def metric(self, name: str, which: str) -> FloatArray:
        """Per member: the ``final`` value, or the ``mean`` or ``max`` over the records."""
        values = self.values[name]
        if which == "final":
            return np.asarray(values[-1], dtype=np.float64)
        reduced = values.mean(axis=0) if which == "mean" else np.fmax.reduce(values, axis=0)
        return np.asarray(reduced, dtype=np.float64)


class MetricSink:
    """Per member and output: the final recorded value, the mean and the max over records."""

    def __init__(self, outputs: Sequence[str], records: int, n: int) -> None:
        self.records = records
        self.final = {name: np.empty(n, dtype=np.float64) for name in outputs}
        self._sum = {name: np.zeros(n, dtype=np.float64) for name in outputs}
        self.max = {name: np.full(n, -np.inf, dtype=np.float64) for name in outputs}

    def __call__(self, index: int, outputs: Mapping[str, FloatArray]) -> None:
        """Fold record ``index`` in."""
        for name in self.final:
            values = outputs[name]
            self._sum[name] += values
            np.fmax(self.max[name], values, out=self.max[name])
            if index == self.records - 1:
                self.final[name][:] = values

    def mean(self, name: str) -> FloatArray:
        """The mean over the recorded times."""
        return self._sum[name] / self.records

    def metric(self, name: str, which: str) -> FloatArray:
        """``final``, ``mean`` or ``max`` of an output."""
        if which == "final":
            return self.final[name]
        return self.mean(name) if which == "mean" else self.max[name]


class PercentileSink:
    """Per recorded time, twin and output: percentiles, mean, sd and the mean's confidence
    interval over the runs; plus every member's final values."""

    def __init__(
        self,
        outputs: Sequence[str],
        records: int,
        runs: int,
        twins: int,
        percentiles: Sequence[float],
        confidence: float,
    ) -> None:
        self.runs, self.twins, self.records = runs, twins, records
        self.q = np.asarray(percentiles, dtype=np.float64)
        self.z = float(special.ndtri(0.5 + confidence / 2.0))
        shape = (records, twins)
        self.percentiles = {n: np.empty((records, len(self.q), twins)) for n in outputs}
        self.mean = {name: np.empty(shape) for name in outputs}
        self.sd = {name: np.empty(shape) for name in outputs}
        self.final = {name: np.empty(runs * twins) for name in outputs}

    def __call__(self, index: int, outputs: Mapping[str, FloatArray]) -> None:
        """Reduce record ``index`` over the runs."""
        for name in self.mean:
            by_run = np.asarray(outputs[name]).reshape(self.runs, self.twins)
            self.percentiles[name][index] = np.percentile(by_run, self.q, axis=0)
            self.mean[name][index] = by_run.mean(axis=0)
            self.sd[name][index] = by_run.std(axis=0, ddof=1) if self.runs > 1 else 0.0
            if index == self.records - 1:
                self.final[name][:] = by_run.reshape(-1)

    def half_width(self, name: str) -> FloatArray:
        """Half the width of the mean's confidence interval."""
        return np.asarray(self.z * self.sd[name] / np.sqrt(self.runs))
