"""Input profiles of a scenario spec: synthetic (constant, step, ramp, sine, noise, events) or
a replay of recorded telemetry; and their values on the simulation's time grid.

Every synthetic profile may carry ``relativeTo`` (a parameter: the values are multiplied by
that parameter, per twin — "speed at 1.1 x ratedSpeed") and ``noise`` (the standard deviation
of white noise added per step and run, before the scaling).
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Annotated, Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from twinops.sim.fields import Duration, Instant

FloatArray = NDArray[np.float64]


class SpecModel(BaseModel):
    """Base of every spec part: immutable, no unknown keys, camelCase in JSON, finite numbers."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        allow_inf_nan=False,
    )

    @property
    def sha256(self) -> str:
        """sha256 (hex) of the canonical JSON: the spec's identity."""
        return hashlib.sha256(self.canonical_json()).hexdigest()

    def canonical_json(self) -> bytes:
        """The spec as JSON with sorted keys and no whitespace (UTF-8), defaults included."""
        document = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        text = json.dumps(
            document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
        return text.encode("utf-8")


class _Scaled(SpecModel):
    relative_to: str | None = Field(default=None, min_length=1, max_length=128)


class _Synthetic(_Scaled):
    noise: float = Field(default=0.0, ge=0.0)


class Constant(_Synthetic):
    """The same value throughout."""

    profile: Literal["constant"] = "constant"
    value: float


class Step(_Synthetic):
    """``before`` until ``at`` (a duration after the start), then ``after``."""

    profile: Literal["step"] = "step"
    before: float
    after: float
    at: Duration


class Ramp(_Synthetic):
    """``from`` until ``start``, linearly to ``to`` over ``duration``, then ``to``."""

    profile: Literal["ramp"] = "ramp"
    from_: float = Field(alias="from")
    to: float
    start: Duration | None = None
    duration: Duration


class Sine(_Synthetic):
    """``mean + amplitude·sin(2π(t - phase)/period)``."""

    profile: Literal["sine"] = "sine"
    mean: float
    amplitude: float
    period: Duration
    phase: Duration | None = None


class Noise(_Scaled):
    """White noise around ``mean`` with standard deviation ``sd``, one draw per step and run."""

    profile: Literal["noise"] = "noise"
    mean: float
    sd: float = Field(ge=0.0)


class Events(_Synthetic):
    """``value`` at the steps holding the instants ``at`` (durations after the start), else
    ``base`` — e.g. maintenance visits."""

    profile: Literal["events"] = "events"
    at: tuple[Duration, ...] = Field(min_length=1, max_length=10_000)
    value: float = 1.0
    base: float = 0.0


class Replay(SpecModel):
    """The twin's own recorded telemetry from ``start`` (to ``end``, default start + horizon),
    replayed from the simulation start; ``field`` defaults to the input's binding. The value
    at each step is the last recorded one at or before it; past ``end`` the last one holds."""

    profile: Literal["replay"] = "replay"
    start: Instant
    end: Instant | None = None
    field: str | None = Field(default=None, min_length=1, max_length=512)


Profile = Annotated[
    Constant | Step | Ramp | Sine | Noise | Events | Replay, Field(discriminator="profile")
]
PROFILE_KINDS = ("constant", "step", "ramp", "sine", "noise", "events", "replay")


def synthetic_values(profile: Any, steps: int, step_us: int) -> FloatArray:
    """A synthetic profile's deterministic part at steps ``0..steps`` (shape ``(steps + 1,)``)."""
    k = np.arange(steps + 1, dtype=np.float64)
    t_us = k * step_us
    if isinstance(profile, Constant):
        return np.full(steps + 1, profile.value)
    if isinstance(profile, Step):
        return np.where(t_us < profile.at, profile.before, profile.after)
    if isinstance(profile, Ramp):
        begin = float(profile.start or 0)
        fraction = np.clip((t_us - begin) / profile.duration, 0.0, 1.0)
        return np.asarray(profile.from_ + (profile.to - profile.from_) * fraction)
    if isinstance(profile, Sine):
        angle = 2.0 * math.pi * (t_us - float(profile.phase or 0)) / profile.period
        return np.asarray(profile.mean + profile.amplitude * np.sin(angle))
    if isinstance(profile, Noise):
        return np.full(steps + 1, profile.mean)
    if isinstance(profile, Events):
        values = np.full(steps + 1, profile.base)
        for at in profile.at:
            index = math.ceil(at / step_us)  # the first step at or after the instant
            if index <= steps:
                values[index] = profile.value
        return values
    raise TypeError(f"not a synthetic profile: {profile!r}")


def noise_of(profile: Any) -> float:
    """The standard deviation of the profile's white noise (0 for none)."""
    if isinstance(profile, Noise):
        return profile.sd
    return float(getattr(profile, "noise", 0.0))


def replay_values(
    times: FloatArray, values: FloatArray, initial: float | None, steps: int, step_us: int
) -> FloatArray:
    """Recorded points (µs after the replay start) held on the step grid (zero-order hold).

    Before the first point the value is ``initial`` (the last one before the period), or the
    first point's when there is none.
    """
    grid = np.arange(steps + 1, dtype=np.float64) * step_us
    index = np.searchsorted(times, grid, side="right") - 1
    before = values[0] if initial is None else initial
    padded = np.concatenate(([before], values))
    return np.asarray(padded[index + 1], dtype=np.float64)
