"""Calibration: estimate a model's parameters from a replay problem, with confidence intervals.

Weighted least squares. Residuals are ``(simulated - observed)/s_o`` per output ``o`` and twin; the
``s_o`` are not known in advance, so the fit runs twice: first weighted by each output's spread,
then by the first fit's residual sd per output (so every output counts by its own noise, and
the second fit's residual variance is ~1 per row, as the covariance formula assumes). Priors,
when asked for, add the rows ``(θ - μ)/sd`` (a normal approximation of the prior: the posterior
mode). Bounds come from the spec or the model.

The Jacobian is by central differences, every perturbed parameter set simulated in one engine
batch. Fleet fits with one parameter set per twin are one joint problem with a block-diagonal
(sparse) Jacobian: each candidate simulates every twin at once. ``global`` runs SciPy's
differential evolution (its population one batch per generation) before the least-squares
polish.

Intervals: ``jacobian`` uses the Jacobian's covariance — the sandwich form of ``s²(JᵀJ)⁻¹``,
which stays right when a sensor's noise grows with its reading — and Student's t with
``rows - p`` degrees of freedom; ``bootstrap`` refits on moving-block resampled residuals
(blocks keep the residuals' autocorrelation) and takes percentiles.

A calibration that cannot give a trustworthy answer raises :class:`CalibrationError` naming the
parameter and the reason: no data, a parameter without effect, parameters that cannot be told
apart, a model that diverges, a stochastic model, a fit that does not converge.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, sparse, stats

from twinops.fidelity.identifiability import Identifiability, assess
from twinops.fidelity.problem import ReplayProblem
from twinops.sim.engines.base import Progress, no_progress
from twinops.sim.priors import LogNormal, Normal, Prior, Triangular, TruncNormal, Uniform
from twinops.sim.summary import stage
from twinops.timeutil import format_rfc3339

FloatArray = NDArray[np.float64]
_DIFF_STEP = 1e-5  # relative central-difference step (≈ eps^(1/3): truncation vs rounding)
_DETERMINISM = 1e-9


class CalibrationError(RuntimeError):
    """A calibration that cannot give a trustworthy answer; the message says why and what to do."""


@dataclass(frozen=True)
class FitParameters:
    """The estimated parameters: names, bounds, starting values per twin, priors."""

    names: tuple[str, ...]
    lower: FloatArray
    upper: FloatArray
    initial: FloatArray
    """Shape ``(twins, parameters)``."""
    priors: tuple[Prior | None, ...]


@dataclass(frozen=True)
class FitOptions:
    """How to fit: shared or per twin, method, intervals and their level, budgets, seed."""

    shared: bool = False
    method: str = "least-squares"
    intervals: str = "jacobian"
    level: float = 0.95
    bootstrap: int = 100
    generations: int = 40
    max_evaluations: int = 200
    seed: int = 0


@dataclass(frozen=True)
class CalibrationResult:
    """Estimates, intervals and diagnostics; one parameter set per group of twins."""

    names: tuple[str, ...]
    groups: tuple[tuple[int, ...], ...]
    estimates: FloatArray
    """Shape ``(groups, parameters)``."""
    stderr: FloatArray
    low: FloatArray
    high: FloatArray
    covariance: FloatArray
    """Shape ``(groups, parameters, parameters)``."""
    level: float
    method: str
    intervals: str
    converged: bool
    message: str
    cost: float
    evaluations: int
    noise: FloatArray
    """The residual sd per output and twin (output units): the weights of the final fit."""
    dof: tuple[int, ...]
    predicted: FloatArray
    """Shape ``(outputs, records, twins)`` at the estimates."""
    identifiability: tuple[Identifiability, ...]
    at_bound: tuple[tuple[str, ...], ...]
    bootstrap_replicates: int = 0
    warnings: tuple[str, ...] = field(default_factory=tuple)


def _prior_rows(prior: Prior | None) -> tuple[bool, float, float] | None:
    """(log scale?, mean, sd) of a prior's normal approximation; None for no penalty."""
    if prior is None or isinstance(prior, Uniform):
        return None  # a uniform prior is a bound, not a penalty
    if isinstance(prior, Normal | TruncNormal):
        return False, prior.mean_, prior.sd
    if isinstance(prior, LogNormal):
        return True, prior.mu, prior.sigma
    if isinstance(prior, Triangular):
        a, b, c = prior.low, prior.mode, prior.high
        sd = math.sqrt((a * a + b * b + c * c - a * b - a * c - b * c) / 18.0)
        return False, prior.mean(), sd
    return None


class _Objective:
    """Residuals and Jacobian of a problem for parameter sets of shape ``(groups, p)``."""

    def __init__(
        self,
        problem: ReplayProblem,
        fit: FitParameters,
        groups: Sequence[Sequence[int]],
        sigma: FloatArray,
        use_priors: bool,
    ) -> None:
        self.problem = problem
        self.fit = fit
        self.groups = [list(g) for g in groups]
        t = len(problem.twins)
        self.group_of_twin = np.empty(t, dtype=np.intp)
        for g, members in enumerate(self.groups):
            self.group_of_twin[members] = g
        self.sigma = np.asarray(sigma, dtype=np.float64)
        self.mask = np.isfinite(problem.observed)
        twin_index = np.broadcast_to(np.arange(t), problem.observed.shape)
        self.row_group = self.group_of_twin[twin_index[self.mask]]
        self.weighted_obs = (problem.observed / self.sigma[:, None, :])[self.mask]
        self.priors: list[tuple[int, int, bool, float, float]] = []
        if use_priors:
            for i, prior in enumerate(fit.priors):
                rows = _prior_rows(prior)
                if rows is not None:
                    self.priors += [(g, i, *rows) for g in range(len(self.groups))]
        self.evaluations = 0
        self.on_evaluation: Callable[[int], None] = lambda _: None

    @property
    def p(self) -> int:
        return len(self.fit.names)

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.groups), self.p

    def rows(self) -> int:
        """Residual rows: observations plus prior rows."""
        return int(self.mask.sum()) + len(self.priors)

    def predict(self, thetas: FloatArray, progress: Progress = no_progress) -> FloatArray:
        """Outputs for candidates ``(K, groups, p)``: shape ``(K, outputs, records, twins)``."""
        k = thetas.shape[0]
        values = {
            name: thetas[:, self.group_of_twin, i].reshape(-1)
            for i, name in enumerate(self.fit.names)
        }
        self.evaluations += 1
        self.on_evaluation(self.evaluations)
        with np.errstate(all="ignore"):
            return self.problem.simulate(values, k, progress)

    def residuals(self, predicted: FloatArray, theta: FloatArray) -> FloatArray:
        """Weighted residuals of one prediction ``(O, R, T)`` and its parameters ``(G, p)``."""
        data = (predicted / self.sigma[:, None, :])[self.mask] - self.weighted_obs
        if not self.priors:
            return np.asarray(data, dtype=np.float64)
        prior = [
            ((math.log(max(theta[g, i], 1e-300)) if log else theta[g, i]) - mean) / sd
            for g, i, log, mean, sd in self.priors
        ]
        return np.concatenate([data, np.asarray(prior, dtype=np.float64)])

    def steps(self, theta: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Upper and lower perturbed values for central differences, inside the bounds."""
        width = self.fit.upper - self.fit.lower
        h = _DIFF_STEP * np.maximum(np.abs(theta), 1e-3 * width)
        return np.minimum(theta + h, self.fit.upper), np.maximum(theta - h, self.fit.lower)

    def jacobian(self, theta: FloatArray) -> tuple[FloatArray, Any]:
        """The prediction at ``theta`` and the Jacobian of the residuals (sparse for fleets)."""
        g_count, p = self.shape
        up, down = self.steps(theta)
        thetas = np.repeat(theta[None], 1 + 2 * p, axis=0)
        for i in range(p):
            thetas[1 + 2 * i, :, i] = up[:, i]
            thetas[2 + 2 * i, :, i] = down[:, i]
        predicted = self.predict(thetas)
        center = predicted[0]
        columns = []
        for i in range(p):
            hi, lo = predicted[1 + 2 * i], predicted[2 + 2 * i]
            d_up = (up[:, i] - theta[:, i])[self.group_of_twin]
            d_down = (theta[:, i] - down[:, i])[self.group_of_twin]
            with np.errstate(all="ignore"):
                central = (hi - lo) / (d_up + d_down)
                forward = (hi - center) / d_up
                backward = (center - lo) / d_down
            derivative = np.where(
                np.isfinite(central),
                central,
                np.where(
                    np.isfinite(forward), forward, np.where(np.isfinite(backward), backward, 0.0)
                ),
            )
            columns.append((derivative / self.sigma[:, None, :])[self.mask])
        data = np.stack(columns, axis=1) if columns else np.zeros((int(self.mask.sum()), 0))
        prior_rows = np.zeros((len(self.priors), p))
        prior_groups = np.zeros(len(self.priors), dtype=np.intp)
        for r, (g, i, log, _mean, sd) in enumerate(self.priors):
            prior_rows[r, i] = 1.0 / (sd * max(theta[g, i], 1e-300)) if log else 1.0 / sd
            prior_groups[r] = g
        dense = np.vstack([data, prior_rows])
        if g_count == 1:
            return center, dense
        groups = np.concatenate([self.row_group, prior_groups])
        rows = np.repeat(np.arange(dense.shape[0]), p)
        cols = (groups[:, None] * p + np.arange(p)[None, :]).reshape(-1)
        matrix = sparse.csr_matrix(
            (dense.reshape(-1), (rows, cols)), shape=(dense.shape[0], g_count * p)
        )
        return center, matrix

    def group_block(self, jacobian: Any, g: int) -> FloatArray:
        """The dense rows and columns of one group in a (possibly sparse) Jacobian."""
        if not sparse.issparse(jacobian):
            return np.asarray(jacobian, dtype=np.float64)
        prior_groups = np.array([pg for pg, *_ in self.priors], dtype=np.intp)
        rows = np.flatnonzero(np.concatenate([self.row_group, prior_groups]) == g)
        block = jacobian[rows][:, g * self.p : (g + 1) * self.p]
        return np.asarray(block.toarray(), dtype=np.float64)

    def group_rows(self, residuals: FloatArray, g: int) -> FloatArray:
        """One group's residual rows."""
        prior_groups = np.array([pg for pg, *_ in self.priors], dtype=np.intp)
        rows = residuals[np.concatenate([self.row_group, prior_groups]) == g]
        return np.asarray(rows, dtype=np.float64)


def _labels(problem: ReplayProblem, groups: Sequence[Sequence[int]], g: int) -> str:
    if len(groups) == 1 and len(problem.twins) > 1:
        return "the fleet"
    return ", ".join(problem.twins[j] for j in groups[g])


def _check_finite(objective: _Objective, predicted: FloatArray, theta: FloatArray) -> None:
    bad = objective.mask & ~np.isfinite(predicted)
    if not bad.any():
        return
    o, r, t = (int(v[0]) for v in np.nonzero(bad))
    problem = objective.problem
    values = ", ".join(
        f"{name}={theta[objective.group_of_twin[t], i]:.6g}"
        for i, name in enumerate(objective.fit.names)
    )
    raise CalibrationError(
        f"the model diverged: output {problem.outputs[o]} of {problem.twins[t]} is "
        f"{predicted[o, r, t]} at {format_rfc3339(int(problem.times()[r]))} with {values}; "
        "check the inputs and narrow the parameter bounds"
    )


def _scale(fit: FitParameters, theta: FloatArray) -> FloatArray:
    return np.asarray(np.maximum(np.abs(theta), 1e-3 * (fit.upper - fit.lower)), dtype=np.float64)


def _check_identifiable(
    objective: _Objective, jacobian: Any, theta: FloatArray, when: str
) -> tuple[Identifiability, ...]:
    found = []
    for g in range(len(objective.groups)):
        report = assess(
            objective.group_block(jacobian, g),
            objective.fit.names,
            _scale(objective.fit, theta[g]),
            objective.problem.outputs,
        )
        if not report.ok:
            who = _labels(objective.problem, objective.groups, g)
            raise CalibrationError(report.message(f"{when}, for {who}"))
        found.append(report)
    return tuple(found)


def _solve(
    objective: _Objective, x0: FloatArray, max_evaluations: int, progress: Progress
) -> optimize.OptimizeResult:
    shape = objective.shape
    lower = np.tile(objective.fit.lower, shape[0])
    upper = np.tile(objective.fit.upper, shape[0])
    start = objective.evaluations

    def report(count: int) -> None:
        progress(min((count - start) / max(max_evaluations, 1), 0.99), "fitting")

    objective.on_evaluation = report

    def fun(x: FloatArray) -> FloatArray:
        theta = x.reshape(shape)
        return objective.residuals(objective.predict(theta[None])[0], theta)

    def jac(x: FloatArray) -> Any:
        return objective.jacobian(x.reshape(shape))[1]

    result = optimize.least_squares(
        fun,
        np.clip(x0.reshape(-1), lower, upper),
        jac=jac,
        bounds=(lower, upper),
        method="trf",
        x_scale="jac",
        max_nfev=max_evaluations,
        tr_solver="exact" if shape[0] == 1 else "lsmr",
    )
    objective.on_evaluation = lambda _: None
    return result


def _noise(problem: ReplayProblem, predicted: FloatArray | None) -> FloatArray:
    """Per output and twin (each sensor has its own noise): the residual sd at ``predicted``,
    or the observations' spread (first pass). Shape ``(outputs, twins)``."""
    sigma = np.empty((len(problem.outputs), len(problem.twins)))
    for o in range(len(problem.outputs)):
        for j in range(len(problem.twins)):
            observed = problem.observed[o, :, j]
            finite = np.isfinite(observed)
            spread = float(np.std(observed[finite])) if finite.any() else 1.0
            magnitude = float(np.mean(np.abs(observed[finite]))) if finite.any() else 1.0
            floor = 1e-9 * max(magnitude, 1e-12)
            if predicted is None:
                value = spread if spread > floor else max(magnitude, 1.0)
            else:
                error = (predicted[o, :, j] - observed)[finite & np.isfinite(predicted[o, :, j])]
                value = float(np.sqrt(np.mean(error * error))) if error.size else spread
            sigma[o, j] = max(value, floor)
    return sigma


def _global(
    problem: ReplayProblem,
    fit: FitParameters,
    groups: Sequence[Sequence[int]],
    sigma: FloatArray,
    options: FitOptions,
    use_priors: bool,
    progress: Progress,
) -> FloatArray:
    """Differential evolution per group (population simulated as one batch); best per group."""
    best = np.empty((len(groups), len(fit.names)))
    for g, members in enumerate(groups):
        sub = problem.subset(list(members))
        objective = _Objective(
            sub, fit, [list(range(len(members)))], sigma[:, list(members)], use_priors
        )
        part = stage(progress, g / len(groups), (g + 1) / len(groups), "global search")

        def cost(x: FloatArray, objective: _Objective = objective) -> FloatArray:
            thetas = np.asarray(x, dtype=np.float64).T[:, None, :]  # (S, 1, p)
            predicted = objective.predict(thetas)
            costs = np.array(
                [
                    float(np.sum(objective.residuals(predicted[s], thetas[s]) ** 2))
                    for s in range(len(thetas))
                ]
            )
            return np.where(np.isfinite(costs), costs, np.inf)

        generation = [0]

        def callback(*_: Any, part: Progress = part, generation: list[int] = generation) -> None:
            generation[0] += 1
            part(min(generation[0] / options.generations, 1.0), f"generation {generation[0]}")

        result = optimize.differential_evolution(
            cost,
            list(zip(fit.lower.tolist(), fit.upper.tolist(), strict=True)),
            x0=np.clip(fit.initial[members[0]], fit.lower, fit.upper),
            maxiter=options.generations,
            popsize=10,
            seed=options.seed,
            polish=False,
            updating="deferred",
            vectorized=True,
            tol=1e-8,
            callback=callback,
        )
        best[g] = result.x
    return best


def _initial(fit: FitParameters, groups: Sequence[Sequence[int]]) -> FloatArray:
    return np.array([np.median(fit.initial[list(members)], axis=0) for members in groups])


def calibrate(
    problem: ReplayProblem,
    fit: FitParameters,
    options: FitOptions,
    *,
    use_priors: bool = False,
    progress: Progress = no_progress,
) -> CalibrationResult:
    """Estimate ``fit``'s parameters from ``problem``; CalibrationError when it cannot."""
    t = len(problem.twins)
    groups: list[list[int]] = [list(range(t))] if options.shared else [[j] for j in range(t)]
    p = len(fit.names)
    _check_data(problem, fit, groups, use_priors)
    sigma = _noise(problem, None)
    objective = _Objective(problem, fit, groups, sigma, use_priors)
    theta0 = np.clip(_initial(fit, groups), fit.lower, fit.upper)

    progress(0.0, "checking the problem")
    # The same parameters twice in one batch: a model drawing random numbers per member
    # answers differently, and finite differences of it would be noise.
    twice = objective.predict(np.stack([theta0, theta0]))
    alone = twice[0]
    _check_finite(objective, alone, theta0)
    _, jacobian = objective.jacobian(theta0)
    scale = np.nanmax(np.abs(alone)) if np.isfinite(alone).any() else 1.0
    if not np.allclose(
        alone, twice[1], rtol=_DETERMINISM, atol=_DETERMINISM * scale, equal_nan=True
    ):
        raise CalibrationError(
            "the model is stochastic: identical parameters gave different outputs, so no "
            "derivative can be taken; fix its noise parameters to 0 in `fixed` "
            "(for the pump model: wearNoise: 0)"
        )
    _check_identifiable(objective, jacobian, theta0, "at the initial values")

    if options.method == "global":
        theta0 = _global(
            problem, fit, groups, sigma, options, use_priors, stage(progress, 0.02, 0.35, "global")
        )
    first = _solve(objective, theta0, options.max_evaluations, stage(progress, 0.35, 0.6, "pass 1"))
    _converged(first, options.max_evaluations, "first")
    theta1 = first.x.reshape(groups.__len__(), p)
    predicted1 = objective.predict(theta1[None])[0]
    sigma = _noise(problem, predicted1)
    objective = _Objective(problem, fit, groups, sigma, use_priors)
    second = _solve(objective, theta1, options.max_evaluations, stage(progress, 0.6, 0.8, "pass 2"))
    _converged(second, options.max_evaluations, "second")
    theta = second.x.reshape(len(groups), p)
    predicted, jacobian = objective.jacobian(theta)
    _check_finite(objective, predicted, theta)
    residuals = objective.residuals(predicted, theta)
    reports = _check_identifiable(objective, jacobian, theta, "at the estimates")
    covariance = np.empty((len(groups), p, p))
    stderr = np.empty((len(groups), p))
    low = np.empty((len(groups), p))
    high = np.empty((len(groups), p))
    dof: list[int] = []
    for g in range(len(groups)):
        block = objective.group_block(jacobian, g)
        rows = objective.group_rows(residuals, g)
        freedom = max(len(rows) - p, 1)
        try:
            cov = _covariance(
                block, rows, freedom, sum(1 for pg, *_ in objective.priors if pg == g)
            )
        except np.linalg.LinAlgError:
            raise CalibrationError(
                f"the covariance of {', '.join(fit.names)} for {_labels(problem, groups, g)} "
                "is singular: the parameters cannot be told apart; fix some of them"
            ) from None
        covariance[g] = cov
        stderr[g] = np.sqrt(np.clip(np.diag(cov), 0.0, None))
        quantile = float(stats.t.ppf(0.5 + options.level / 2.0, freedom))
        low[g] = theta[g] - quantile * stderr[g]
        high[g] = theta[g] + quantile * stderr[g]
        dof.append(freedom)
    replicates = 0
    if options.intervals == "bootstrap":
        low, high, stderr, replicates = _bootstrap(
            problem, fit, groups, sigma, theta, predicted, options, use_priors,
            stage(progress, 0.8, 0.99, "bootstrap"),
        )  # fmt: skip
    progress(1.0, "done")
    width = fit.upper - fit.lower
    at_bound = tuple(
        tuple(
            name
            for i, name in enumerate(fit.names)
            if min(theta[g, i] - fit.lower[i], fit.upper[i] - theta[g, i]) <= 1e-6 * width[i]
        )
        for g in range(len(groups))
    )
    warnings = tuple(
        f"{', '.join(names)} of {_labels(problem, groups, g)} ended on a bound: the interval "
        "assumes an interior optimum; widen the bound or fix the parameter"
        for g, names in enumerate(at_bound)
        if names
    )
    return CalibrationResult(
        names=fit.names,
        groups=tuple(tuple(g) for g in groups),
        estimates=theta,
        stderr=stderr,
        low=low,
        high=high,
        covariance=covariance,
        level=options.level,
        method=options.method,
        intervals=options.intervals,
        converged=True,
        message=str(second.message),
        cost=float(second.cost),
        evaluations=objective.evaluations + int(first.nfev + first.njev),
        noise=sigma,
        dof=tuple(dof),
        predicted=predicted,
        identifiability=reports,
        at_bound=at_bound,
        bootstrap_replicates=replicates,
        warnings=warnings,
    )


def _covariance(
    jacobian: FloatArray, residuals: FloatArray, freedom: int, prior_rows: int
) -> FloatArray:
    """The heteroscedasticity-consistent (sandwich, HC1) covariance of the estimates.

    ``s²(JᵀJ)⁻¹`` assumes every weighted residual has the same variance; sensors whose noise
    grows with the value (1 % of reading) break that, and its intervals come out too narrow.
    The sandwich ``(JᵀJ)⁻¹ Jᵀdiag(r²)J (JᵀJ)⁻¹ · n/(n - p)`` holds either way. The last
    ``prior_rows`` rows are priors, whose variance is 1 by construction (not their r²).
    """
    bread = np.linalg.inv(jacobian.T @ jacobian)
    spread = residuals.copy()
    if prior_rows:
        spread[-prior_rows:] = 1.0
    weighted = jacobian * spread[:, None]
    meat = weighted.T @ weighted
    rows = len(residuals)
    return np.asarray(bread @ meat @ bread * rows / max(freedom, 1), dtype=np.float64)


def _converged(result: optimize.OptimizeResult, budget: int, which: str) -> None:
    if result.status > 0:
        return
    if result.status == 0:
        raise CalibrationError(
            f"the fit did not converge within {budget} evaluations ({which} pass, cost "
            f"{float(result.cost):.6g}); raise maxEvaluations, narrow the bounds or give "
            "better initial values"
        )
    raise CalibrationError(f"the fit failed ({which} pass): {result.message}")


def _check_data(
    problem: ReplayProblem, fit: FitParameters, groups: Sequence[Sequence[int]], use_priors: bool
) -> None:
    observed = np.isfinite(problem.observed)
    for g, members in enumerate(groups):
        count = int(observed[:, :, list(members)].sum())
        if count == 0:
            raise CalibrationError(
                f"no observation of {', '.join(problem.outputs)} in the window for "
                f"{_labels(problem, groups, g)}: choose a window with data"
            )
        if count <= len(fit.names) and not use_priors:
            raise CalibrationError(
                f"only {count} observations for {len(fit.names)} parameters "
                f"({', '.join(fit.names)}) for {_labels(problem, groups, g)}: use a longer "
                "window, a finer step, or fewer parameters"
            )


def _bootstrap(
    problem: ReplayProblem,
    fit: FitParameters,
    groups: Sequence[Sequence[int]],
    sigma: FloatArray,
    theta: FloatArray,
    predicted: FloatArray,
    options: FitOptions,
    use_priors: bool,
    progress: Progress,
) -> tuple[FloatArray, FloatArray, FloatArray, int]:
    """Moving-block residual bootstrap: percentiles of the refitted estimates."""
    rng = np.random.default_rng(np.random.SeedSequence(options.seed, spawn_key=(0xB007,)))
    residual = problem.observed - predicted  # (O, R, T), NaN at gaps
    records = problem.records
    block = max(1, round(records ** (1.0 / 3.0)))
    estimates = []
    for b in range(options.bootstrap):
        starts = rng.integers(
            0, max(records - block, 0) + 1, size=(len(problem.twins), -(-records // block))
        )
        index = (starts[:, :, None] + np.arange(block)[None, None, :]).reshape(
            len(problem.twins), -1
        )[:, :records]
        resampled = np.stack([residual[:, index[j], j] for j in range(len(problem.twins))], axis=2)
        synthetic = replace(problem, observed=predicted + resampled)
        objective = _Objective(synthetic, fit, groups, sigma, use_priors)
        result = _solve(objective, theta, max(20, options.max_evaluations // 4), no_progress)
        if result.status > 0:
            estimates.append(result.x.reshape(theta.shape))
        progress((b + 1) / options.bootstrap, f"replicate {b + 1}/{options.bootstrap}")
    if len(estimates) < max(10, options.bootstrap // 2):
        raise CalibrationError(
            f"only {len(estimates)} of {options.bootstrap} bootstrap refits converged: the "
            "estimates are unstable; use intervals: jacobian or fix parameters"
        )
    draws = np.stack(estimates)
    tail = (1.0 - options.level) / 2.0
    low = np.quantile(draws, tail, axis=0)
    high = np.quantile(draws, 1.0 - tail, axis=0)
    return low, high, draws.std(axis=0, ddof=1), len(estimates)
