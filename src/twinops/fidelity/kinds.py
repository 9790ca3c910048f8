"""The ``calibrate`` and ``validate`` job kinds: prepare snapshots the window, run fits/scores.

Outputs of both: ``summary.json`` (below), a ``series`` table (twin, time, output, observed,
simulated[, lower, upper]) and the blobs ``report.json`` (the summary, indented) and
``report.html`` (a self-contained page with plots). ``calibrate`` adds an ``estimates`` table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from twinops.errors import InvalidInput
from twinops.jobs.canonical import canonical_json
from twinops.jobs.kinds import JobKind, KindOutput, PrepareContext, Prepared, RunContext
from twinops.security.entities import Role


class CalibrationKind(JobKind):
    """Estimate a model's parameters from the twins' history over a window."""

    name = "calibrate"
    aliases = ("calibration",)
    role = Role.MODELER

    def prepare(self, raw: Mapping[str, Any], ctx: PrepareContext) -> Prepared:
        """Parse the spec and snapshot the replayed inputs and the fitted outputs' history."""
        from twinops.fidelity.snapshot import take_fidelity_snapshot
        from twinops.fidelity.spec import parse_calibration
        from twinops.sim.references import resolve_model

        spec = parse_calibration(raw, ctx.clock)
        signature = resolve_model(spec.model).signature
        fields = {name: field or name for name, field in spec.fit.items()}
        snapshot = take_fidelity_snapshot(spec, signature, fields, "fit", ctx)
        _enough_points(spec, snapshot)
        return Prepared(
            spec.canonical_json(), canonical_json(snapshot, "snapshot"), {"seed": spec.seed}
        )

    def run(
        self, spec: Mapping[str, Any], snapshot: Mapping[str, Any], ctx: RunContext
    ) -> KindOutput:
        """Fit in this worker from the canonical spec and the stored snapshot alone."""
        from twinops.fidelity.jobs import run_calibration

        return run_calibration(spec, snapshot, ctx.progress)


def _enough_points(spec: Any, snapshot: Mapping[str, Any]) -> None:
    """Fewer observations than parameters is detectable before running: a 422 now."""
    p = len(spec.parameters)
    for twin in spec.twins:
        count = sum(len(snapshot["observed"][o][twin]["values"]) for o in spec.fit)
        needed = p + 1 if not spec.shared else 1
        if count < needed and not spec.priors:
            raise InvalidInput.single(
                "window",
                "tooFewPoints",
                f"{twin} has {count} observations of {', '.join(spec.fit)} in the window, "
                f"too few to estimate {p} parameters ({', '.join(spec.parameters)}); "
                "use a longer window or fewer parameters",
                twin,
            )


class ValidationKind(JobKind):
    """Replay a model with a parameter set over a held-out window and score it."""

    name = "validate"
    aliases = ("validation",)
    role = Role.OPERATOR

    def prepare(self, raw: Mapping[str, Any], ctx: PrepareContext) -> Prepared:
        """Parse the spec and snapshot the replayed inputs and the compared outputs' history."""
        from twinops.fidelity.snapshot import take_fidelity_snapshot
        from twinops.fidelity.spec import parse_validation
        from twinops.sim.references import resolve_model

        spec = parse_validation(raw, ctx.clock)
        signature = resolve_model(spec.model).signature
        fields = {name: field or name for name, field in (spec.outputs or {}).items()}
        snapshot = take_fidelity_snapshot(spec, signature, fields, "outputs", ctx)
        return Prepared(
            spec.canonical_json(), canonical_json(snapshot, "snapshot"), {"seed": spec.seed}
        )

    def run(
        self, spec: Mapping[str, Any], snapshot: Mapping[str, Any], ctx: RunContext
    ) -> KindOutput:
        """Score in this worker from the canonical spec and the stored snapshot alone."""
        from twinops.fidelity.jobs import run_validation

        return run_validation(spec, snapshot, ctx.progress)
