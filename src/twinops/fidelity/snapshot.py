"""Snapshots of a fidelity job: the scenario snapshot of its replay plus the observed outputs.

Taken in the server at submit time, so the worker needs no database and a re-run reads the
same bytes. Layout (``format`` 1)::

    {"format": 1, "scenario": <a sim snapshot, see twinops.sim.snapshot>,
     "observed": {output: {twin id: {"field", "times": [µs after start], "values",
                                      "initial"}}}}

Observed values are in the model's units (converted from the twins' DTDL units).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from twinops.errors import InvalidInput
from twinops.jobs.kinds import PrepareContext
from twinops.sim.durations import format_duration
from twinops.sim.model import ModelSignature
from twinops.sim.scenario import ScenarioSpec
from twinops.sim.snapshot import _history, take_snapshot
from twinops.timeutil import format_rfc3339

FORMAT = 1


def scenario_of(
    spec: Any, outputs: tuple[str, ...], parameters: Mapping[str, float]
) -> ScenarioSpec:
    """The replay a fidelity spec runs, as the scenario the ``sim`` context knows how to run.

    Built without ``parse_spec``'s kind checks: it is never submitted, only simulated.
    """
    return ScenarioSpec.model_validate(
        {
            "kind": "what-if",
            "model": spec.model,
            "twins": spec.twins,
            "asOf": format_rfc3339(spec.start),
            "start": format_rfc3339(spec.start),
            "horizon": format_duration(spec.steps * spec.step),
            "step": format_duration(spec.step),
            "record": format_duration(spec.step),
            "parameters": dict(parameters),
            "inputs": {
                name: profile.model_dump(by_alias=True, exclude_none=True)
                for name, profile in (spec.inputs or {}).items()
            },
            "outputs": outputs,
            "seed": spec.seed,
        }
    )


def take_fidelity_snapshot(
    spec: Any,
    signature: ModelSignature,
    observed: Mapping[str, str],
    where: str,
    ctx: PrepareContext,
) -> dict[str, Any]:
    """The scenario snapshot and the observed history of each output (``observed``: output ->
    telemetry field); an output with no data in the window is an InvalidInput at ``where``."""
    scenario = scenario_of(spec, tuple(observed), {})
    base = take_snapshot(
        scenario,
        tenant=ctx.tenant,
        twins=ctx.twins,
        state=ctx.state,
        models=ctx.models,
        max_steps=ctx.max_steps,
        clock=ctx.clock,
    )
    units = {o.name: o.unit for o in signature.outputs}
    recorded: dict[str, dict[str, Any]] = {}
    for output, field in observed.items():
        per_twin: dict[str, Any] = {}
        for twin_id in spec.twins:
            twin = ctx.twins.get(ctx.tenant, twin_id)
            resolved = ctx.models.resolve(ctx.tenant, twin.model)
            try:
                data = _history(
                    ctx.state,
                    ctx.tenant,
                    twin,
                    resolved,
                    field,
                    spec.start,
                    spec.end,
                    units[output],
                    f"{where}.{output}",
                )
            except InvalidInput as exc:
                if exc.violations and exc.violations[0].rule != "noHistory":
                    raise
                data = {"field": field, "times": [], "values": [], "initial": None}
            if not data["values"]:
                raise InvalidInput.single(
                    f"{where}.{output}",
                    "noData",
                    f"{twin_id} has no {field} telemetry in the window "
                    f"[{format_rfc3339(spec.start)}, {format_rfc3339(spec.end)}): nothing to "
                    "compare the model's output with; choose a window with data",
                    twin_id,
                )
            per_twin[twin_id] = data
        recorded[output] = per_twin
    return {"format": FORMAT, "scenario": base, "observed": recorded}
