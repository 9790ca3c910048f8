"""The ``scenario`` kind: what-if, sweeps, Monte Carlo... as the ``sim`` context defines them.

``sim`` is imported lazily, inside each call: this module (and the whole job system) loads
without it, and a server without it answers a clear 422 for scenario specs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from twinops.errors import InvalidInput
from twinops.jobs.canonical import canonical_json
from twinops.jobs.kinds import JobKind, KindOutput, PrepareContext, Prepared, RunContext
from twinops.security.entities import Role


def _missing_sim(exc: ModuleNotFoundError) -> InvalidInput:
    if not (exc.name or "").startswith("twinops.sim"):
        raise exc
    return InvalidInput.single(
        "kind", "available", "scenario jobs need twinops.sim, which this installation lacks"
    )


class ScenarioKind(JobKind):
    """A scenario spec, snapshotted from the tenant's twins and run by ``sim.runner``."""

    name = "scenario"
    # The scenario kinds of ``twinops.sim.scenario.KINDS`` (a test keeps the two in step):
    # a spec file says ``kind: what-if`` and is submitted as it is.
    aliases = ("what-if", "sweep", "monte-carlo", "sensitivity")
    role = Role.OPERATOR

    def prepare(self, raw: Mapping[str, Any], ctx: PrepareContext) -> Prepared:
        """Parse the spec (``sim.scenario``) and snapshot the twins it starts from."""
        try:
            from twinops.sim.scenario import parse_spec
            from twinops.sim.snapshot import take_snapshot
        except ModuleNotFoundError as exc:
            raise _missing_sim(exc) from exc
        spec = parse_spec(raw)
        snapshot = take_snapshot(
            spec,
            tenant=ctx.tenant,
            twins=ctx.twins,
            state=ctx.state,
            models=ctx.models,
            max_steps=ctx.max_steps,
            clock=ctx.clock,
        )
        return Prepared(
            spec.canonical_json(), canonical_json(snapshot, "snapshot"), {"seed": spec.seed}
        )

    def run(
        self, spec: Mapping[str, Any], snapshot: Mapping[str, Any], ctx: RunContext
    ) -> KindOutput:
        """Run the scenario in this worker from the canonical spec and the stored snapshot."""
        from twinops.sim.runner import run_scenario
        from twinops.sim.scenario import parse_spec

        output = run_scenario(parse_spec(spec), snapshot, ctx.progress)
        return KindOutput(
            tables=dict(output.tables), summary=dict(output.summary), model=dict(output.model)
        )
