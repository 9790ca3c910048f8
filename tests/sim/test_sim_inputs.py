"""Distributions, input profiles and random streams: the pieces runs are built from."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import TypeAdapter

from twinops.sim.priors import Prior
from twinops.sim.profiles import Profile, replay_values, synthetic_values
from twinops.sim.randomness import BLOCK, MemberNoise, member_uniforms

PRIOR = TypeAdapter(Prior)
PROFILE = TypeAdapter(Profile)
MINUTE = 60_000_000


@pytest.mark.parametrize(
    "document",
    [
        {"distribution": "normal", "mean": 3.0, "sd": 0.5},
        {"distribution": "lognormal", "mu": -1.0, "sigma": 0.3},
        {"distribution": "uniform", "low": 2.0, "high": 5.0},
        {"distribution": "triangular", "low": 0.0, "mode": 1.0, "high": 4.0},
        {"distribution": "truncnormal", "mean": 1.0, "sd": 1.0, "low": 0.5, "high": 3.0},
    ],
)
def test_distributions_sample_their_mean_by_inverse_transform(document: dict[str, float]) -> None:
    prior = PRIOR.validate_python(document)
    values = prior.sample(np.random.default_rng(0).random(200_000))
    assert values.mean() == pytest.approx(prior.mean(), rel=0.01)
    assert prior.quantile(0.05) < prior.quantile(0.5) < prior.quantile(0.95)
    if "low" in document:
        assert values.min() >= document["low"] and values.max() <= document["high"]
    edges = prior.sample(np.array([0.0, 1.0 - 2**-53]))
    assert np.all(np.isfinite(edges))


@pytest.mark.parametrize(
    "document",
    [
        {"distribution": "uniform", "low": 2.0, "high": 2.0},
        {"distribution": "triangular", "low": 0.0, "mode": 5.0, "high": 4.0},
        {"distribution": "truncnormal", "mean": 0.0, "sd": 1.0, "low": 50.0, "high": 60.0},
        {"distribution": "normal", "mean": 0.0, "sd": 0.0},
    ],
)
def test_impossible_distributions_are_refused(document: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        PRIOR.validate_python(document)


def test_synthetic_profiles_on_the_step_grid() -> None:
    def values(document: dict[str, object], steps: int = 6) -> list[float]:
        return synthetic_values(PROFILE.validate_python(document), steps, MINUTE).tolist()

    assert values({"profile": "constant", "value": 2.5}) == [2.5] * 7
    assert values({"profile": "step", "before": 1, "after": 3, "at": "2min"}) == [
        1,
        1,
        3,
        3,
        3,
        3,
        3,
    ]
    ramp = {"profile": "ramp", "from": 0, "to": 4, "start": "1min", "duration": "4min"}
    assert values(ramp) == [0, 0, 1, 2, 3, 4, 4]
    sine = values({"profile": "sine", "mean": 1, "amplitude": 2, "period": "4min"})
    assert sine == pytest.approx([1, 3, 1, -1, 1, 3, 1])
    events = {"profile": "events", "at": ["90s", "5min", "1h"], "value": 1, "base": 0}
    assert values(events) == [0, 0, 1, 0, 0, 1, 0]


def test_replayed_points_hold_until_the_next_one() -> None:
    times = np.array([0.0, 2.5 * MINUTE, 4 * MINUTE])
    recorded = np.array([10.0, 20.0, 30.0])
    assert replay_values(times, recorded, None, 6, MINUTE).tolist() == [10, 10, 10, 20, 30, 30, 30]
    late = np.array([2 * MINUTE])
    assert replay_values(late, np.array([5.0]), 7.0, 3, MINUTE).tolist() == [7, 7, 5, 5]


def test_member_draws_do_not_depend_on_how_many_members_there_are() -> None:
    small, large = MemberNoise(7, 10, 1), MemberNoise(7, 3 * BLOCK + 5, 1)
    for _ in range(3):
        np.testing.assert_array_equal(small.standard_normal(), large.standard_normal()[:10])
    np.testing.assert_array_equal(
        member_uniforms(3, 100, "wearRate"), member_uniforms(3, 5000, "wearRate")[:100]
    )
    assert not np.array_equal(member_uniforms(3, 100, "wearRate"), member_uniforms(3, 100, "x"))
    assert not np.array_equal(member_uniforms(3, 100, "x"), member_uniforms(4, 100, "x"))
