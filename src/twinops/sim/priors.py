"""Probability distributions for parameters: priors in models, distributions in scenario specs.

Every distribution samples by inverse transform (``ppf`` of uniform numbers), so Monte Carlo,
Sobol sampling and calibration all map the same uniforms through the same function and a
sample depends only on its uniform number, never on how many others were drawn with it.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal, Self

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy import special, stats

FloatArray = NDArray[np.float64]

# Uniforms are kept inside (0, 1) so no ppf answers an infinity.
_U_LOW = 2.0**-53
_U_HIGH = 1.0 - 2.0**-53


class _Distribution(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    def ppf(self, u: FloatArray) -> FloatArray:
        """The quantiles of uniform numbers ``u`` in (0, 1)."""
        raise NotImplementedError

    def sample(self, u: FloatArray) -> FloatArray:
        """Values for uniform numbers in [0, 1) (clamped into the open interval first)."""
        return self.ppf(np.clip(u, _U_LOW, _U_HIGH))

    def quantile(self, q: float) -> float:
        """One quantile, e.g. ``quantile(0.05)``."""
        return float(self.ppf(np.array([q], dtype=np.float64))[0])

    def mean(self) -> float:
        """The expected value."""
        raise NotImplementedError


class Normal(_Distribution):
    """Normal with ``mean`` and standard deviation ``sd``."""

    distribution: Literal["normal"] = "normal"
    mean_: float = Field(alias="mean")
    sd: float = Field(gt=0)

    def ppf(self, u: FloatArray) -> FloatArray:
        """The quantiles of ``u``."""
        return np.asarray(self.mean_ + self.sd * special.ndtri(u), dtype=np.float64)

    def mean(self) -> float:
        """The expected value."""
        return self.mean_


class LogNormal(_Distribution):
    """Log-normal: ``exp(N(mu, sigma))`` (``mu`` and ``sigma`` of the logarithm)."""

    distribution: Literal["lognormal"] = "lognormal"
    mu: float
    sigma: float = Field(gt=0)

    def ppf(self, u: FloatArray) -> FloatArray:
        """The quantiles of ``u``."""
        return np.asarray(np.exp(self.mu + self.sigma * special.ndtri(u)), dtype=np.float64)

    def mean(self) -> float:
        """The expected value."""
        return math.exp(self.mu + self.sigma**2 / 2)


class Uniform(_Distribution):
    """Uniform on [``low``, ``high``]."""

    distribution: Literal["uniform"] = "uniform"
    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.low < self.high:
            raise ValueError("low must be below high")
        return self

    def ppf(self, u: FloatArray) -> FloatArray:
        """The quantiles of ``u``."""
        return np.asarray(self.low + (self.high - self.low) * u, dtype=np.float64)

    def mean(self) -> float:
        """The expected value."""
        return (self.low + self.high) / 2


class Triangular(_Distribution):
    """Triangular on [``low``, ``high``] with its peak at ``mode``."""

    distribution: Literal["triangular"] = "triangular"
    low: float
    mode: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not (self.low <= self.mode <= self.high and self.low < self.high):
            raise ValueError("needs low <= mode <= high and low < high")
        return self

    def ppf(self, u: FloatArray) -> FloatArray:
        """The quantiles of ``u``."""
        width = self.high - self.low
        split = (self.mode - self.low) / width
        left = self.low + np.sqrt(u * width * (self.mode - self.low))
        right = self.high - np.sqrt((1.0 - u) * width * (self.high - self.mode))
        return np.asarray(np.where(u < split, left, right), dtype=np.float64)

    def mean(self) -> float:
        """The expected value."""
        return (self.low + self.mode + self.high) / 3


class TruncNormal(_Distribution):
    """Normal with ``mean`` and ``sd`` truncated to [``low``, ``high``]."""

    distribution: Literal["truncnormal"] = "truncnormal"
    mean_: float = Field(alias="mean")
    sd: float = Field(gt=0)
    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.low < self.high:
            raise ValueError("low must be below high")
        a, b = self._standard_bounds()
        if special.ndtr(b) - special.ndtr(a) <= 1e-12:
            raise ValueError("the interval holds no probability mass of this normal")
        return self

    def _standard_bounds(self) -> tuple[float, float]:
        return (self.low - self.mean_) / self.sd, (self.high - self.mean_) / self.sd

    def ppf(self, u: FloatArray) -> FloatArray:
        """The quantiles of ``u``."""
        a, b = self._standard_bounds()
        values = stats.truncnorm.ppf(u, a, b, loc=self.mean_, scale=self.sd)
        return np.asarray(np.clip(values, self.low, self.high), dtype=np.float64)

    def mean(self) -> float:
        """The expected value."""
        a, b = self._standard_bounds()
        return float(stats.truncnorm.mean(a, b, loc=self.mean_, scale=self.sd))


Prior = Annotated[
    Normal | LogNormal | Uniform | Triangular | TruncNormal, Field(discriminator="distribution")
]
"""Any of the distributions, told apart by their ``distribution`` field."""

DISTRIBUTIONS = ("normal", "lognormal", "uniform", "triangular", "truncnormal")
