"""Practical identifiability from a Jacobian: which parameters the data cannot pin down, and why.

The Jacobian's columns are first scaled by each parameter's typical size, so a column is "how
many noise standard deviations the residuals move when the parameter changes by 100 %". A
parameter whose column is ~0 does not affect the fitted outputs over the window (the input never
exercises it); a near-zero singular value of the column-normalized Jacobian means a combination
of parameters has no effect — they are too correlated to tell apart (covariance singular).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

INSENSITIVE = 1e-6
"""A scaled column norm below this (in noise sds per 100 % change) is no effect at all."""
RELATIVE_INSENSITIVE = 1e-9
SINGULAR = 1e-7
"""Smallest / largest singular value of the normalized Jacobian below this: singular."""
_MEMBER = 0.1


@dataclass(frozen=True)
class Issue:
    """A parameter (or a group of them) the data cannot identify, and why."""

    kind: str
    """``insensitive`` (no effect) or ``correlated`` (only a combination has an effect)."""
    parameters: tuple[str, ...]
    message: str


@dataclass(frozen=True)
class Identifiability:
    """Scaled sensitivities, the normalized Jacobian's condition number, and the issues."""

    names: tuple[str, ...]
    sensitivity: tuple[float, ...]
    condition: float
    issues: tuple[Issue, ...]

    @property
    def ok(self) -> bool:
        """Whether every parameter is identifiable."""
        return not self.issues

    def message(self, context: str = "") -> str:
        """Every issue in one actionable sentence each."""
        prefix = f"{context}: " if context else ""
        return prefix + " ".join(issue.message for issue in self.issues)


def assess(
    jacobian: FloatArray, names: Sequence[str], scale: FloatArray, outputs: Sequence[str] = ()
) -> Identifiability:
    """Whether the columns of ``jacobian`` (rows: weighted residuals) identify ``names``."""
    j = np.asarray(jacobian, dtype=np.float64) * np.asarray(scale, dtype=np.float64)
    norms = np.sqrt(np.sum(j * j, axis=0))
    largest = float(np.max(norms)) if norms.size else 0.0
    what = f" ({', '.join(outputs)})" if outputs else ""
    issues: list[Issue] = []
    dead = [
        i
        for i, norm in enumerate(norms)
        if not np.isfinite(norm) or norm < INSENSITIVE or norm < RELATIVE_INSENSITIVE * largest
    ]
    for i in dead:
        issues.append(
            Issue(
                "insensitive",
                (names[i],),
                f"parameter {names[i]} has no effect on the fitted outputs{what} over this "
                "window (its sensitivity is ~0: the inputs never exercise it); fix it, fit "
                "other outputs, or choose a window where it matters.",
            )
        )
    alive = [i for i in range(len(names)) if i not in dead]
    condition = float("inf") if dead else 1.0
    if len(alive) > 1:
        normalized = j[:, alive] / norms[alive]
        _, singular, vt = np.linalg.svd(normalized, full_matrices=False)
        ratio = singular[-1] / singular[0] if singular[0] > 0 else 0.0
        condition = float("inf") if ratio == 0 or dead else float(1.0 / ratio)
        for k in range(len(singular)):
            if singular[k] / singular[0] >= SINGULAR:
                continue
            vector = np.abs(vt[k])
            members = tuple(
                names[alive[i]] for i in np.flatnonzero(vector >= _MEMBER * vector.max())
            )
            issues.append(
                Issue(
                    "correlated",
                    members,
                    f"parameters {', '.join(members)} are not separately identifiable from "
                    f"the fitted outputs{what}: only a combination of them changes the outputs "
                    "(their covariance is singular); fix all but one of them, or add an "
                    "output or a prior that separates them.",
                )
            )
    return Identifiability(tuple(names), tuple(float(n) for n in norms), condition, tuple(issues))


def correlation(covariance: FloatArray) -> FloatArray:
    """The correlation matrix of a covariance matrix (0 where a variance is 0)."""
    sd = np.sqrt(np.clip(np.diag(covariance), 0.0, None))
    outer = np.outer(sd, sd)
    with np.errstate(invalid="ignore", divide="ignore"):
        result = np.where(outer > 0, covariance / outer, 0.0)
    return np.asarray(result, dtype=np.float64)
