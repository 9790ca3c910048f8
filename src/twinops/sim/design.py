"""Experimental designs: which parameter values each member of a run gets, per kind.

Names are always taken in sorted order so a design never depends on the order of keys in a
spec (its canonical JSON sorts them anyway).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from twinops.sim.model import ModelSignature
from twinops.sim.priors import Prior, Uniform
from twinops.sim.randomness import member_uniforms
from twinops.sim.scenario import ScenarioSpec

FloatArray = NDArray[np.float64]


def sampled_distributions(spec: ScenarioSpec, signature: ModelSignature) -> dict[str, Prior]:
    """Monte Carlo: the spec's distributions, plus the priors of parameters it does not fix."""
    found: dict[str, Prior] = {}
    if spec.use_priors is not False:
        for parameter in signature.parameters:
            if parameter.prior is not None and parameter.name not in spec.parameters:
                found[parameter.name] = parameter.prior
    found.update(spec.distributions or {})
    return dict(sorted(found.items()))


def varied_distributions(
    spec: ScenarioSpec, signature: ModelSignature
) -> tuple[dict[str, Prior], list[str]]:
    """Sensitivity: the distribution of each varied parameter, and the names that have none.

    A varied parameter without a distribution or prior is uniform over its bounds when both
    are finite.
    """
    available = sampled_distributions(spec, signature)
    names = list(spec.vary) if spec.vary else sorted(available)
    found: dict[str, Prior] = {}
    missing: list[str] = []
    for name in sorted(names):
        parameter = signature.parameter(name)
        if name in available:
            found[name] = available[name]
        elif (
            parameter is not None
            and parameter.lower is not None
            and parameter.upper is not None
            and parameter.lower < parameter.upper
        ):
            found[name] = Uniform(low=parameter.lower, high=parameter.upper)
        else:
            missing.append(name)
    return found, missing


def grid_points(grid: Mapping[str, tuple[float, ...]]) -> dict[str, FloatArray]:
    """Every combination of the grid's axes (the first name in sorted order varies slowest)."""
    names = sorted(grid)
    axes = [np.asarray(grid[name], dtype=np.float64) for name in names]
    mesh = np.meshgrid(*axes, indexing="ij")
    return {name: values.reshape(-1) for name, values in zip(names, mesh, strict=True)}


def grid_size(grid: Mapping[str, tuple[float, ...]]) -> int:
    """How many points a grid has."""
    return math.prod(len(values) for values in grid.values())


def random_points(
    distributions: Mapping[str, Prior], samples: int, seed: int
) -> dict[str, FloatArray]:
    """``samples`` points drawn from each distribution (one batch-invariant stream per name)."""
    return {
        name: distributions[name].sample(member_uniforms(seed, samples, name))
        for name in sorted(distributions)
    }


def oat_points(
    distributions: Mapping[str, Prior],
) -> tuple[dict[str, FloatArray], list[tuple[str, str]]]:
    """One-at-a-time: all at their medians, then each at its 5 % and 95 % quantile in turn.

    Answers the points and a label per point: ("", "base"), then (parameter, "low"/"high").
    """
    names = sorted(distributions)
    medians = {name: distributions[name].quantile(0.5) for name in names}
    labels: list[tuple[str, str]] = [("", "base")]
    columns = {name: [medians[name]] for name in names}
    for varied in names:
        for side, q in (("low", 0.05), ("high", 0.95)):
            labels.append((varied, side))
            value = distributions[varied].quantile(q)
            for name in names:
                columns[name].append(value if name == varied else medians[name])
    return {name: np.asarray(values, dtype=np.float64) for name, values in columns.items()}, labels


def sobol_points(
    distributions: Mapping[str, Prior], samples: int, seed: int
) -> dict[str, FloatArray]:
    """Saltelli/Sobol' points (SALib, first and total order): ``samples·(D + 2)`` rows."""
    from SALib.sample import sobol as sobol_sample

    names = sorted(distributions)
    problem = {"num_vars": len(names), "names": names, "bounds": [[0.0, 1.0]] * len(names)}
    unit = sobol_sample.sample(problem, samples, calc_second_order=False, seed=seed)
    return {name: distributions[name].sample(unit[:, i]) for i, name in enumerate(names)}


def sobol_rows(samples: int, dimensions: int) -> int:
    """Rows of a Sobol design without second-order indices."""
    return samples * (dimensions + 2)
