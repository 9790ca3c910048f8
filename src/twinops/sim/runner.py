"""Running a scenario: the spec and its snapshot in, result tables and a summary out.

:func:`run_scenario` is what a job worker calls. Everything it needs is in its arguments — it
never touches the database — and everything it returns is a function of them: no wall-clock
time, no dict-order dependence, seeded streams only, so the same spec, snapshot and seed give
the same bytes (with the same package versions on the same kind of CPU).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from twinops.errors import InvalidInput
from twinops.sim.engines.base import Progress
from twinops.sim.kinds import montecarlo, sensitivity, sweep, whatif
from twinops.sim.references import model_info, resolve_model
from twinops.sim.scenario import ScenarioSpec
from twinops.sim.setup import Setup
from twinops.sim.snapshot import FORMAT
from twinops.sim.summary import json_safe
from twinops.timeutil import format_rfc3339

Kind = Callable[[Setup, Progress], tuple[dict[str, pa.Table], dict[str, Any]]]
KINDS: dict[str, Kind] = {
    "what-if": whatif.run,
    "sweep": sweep.run,
    "monte-carlo": montecarlo.run,
    "sensitivity": sensitivity.run,
}


@dataclass(frozen=True)
class ScenarioOutput:
    """A run's results: tables (written to Parquet by the job system), a JSON summary, and
    the record of the model that produced them (reference, version, code sha256)."""

    tables: dict[str, pa.Table] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)


def run_scenario(
    spec: ScenarioSpec, snapshot: Mapping[str, Any], progress: Callable[[float, str], None]
) -> ScenarioOutput:
    """Simulate ``spec`` from ``snapshot``; ``progress(fraction, message)`` now and then."""
    if snapshot.get("format") != FORMAT:
        raise InvalidInput.single("snapshot", "format", f"a snapshot of format {FORMAT} is needed")
    missing = [t for t in spec.twins if t not in {e["id"] for e in snapshot["twins"]}]
    if missing:
        raise InvalidInput.single("snapshot", "twins", f"the snapshot lacks twins {missing}")
    model = resolve_model(spec.model)
    setup = Setup.build(spec, snapshot, model)
    progress(0.0, f"{spec.kind}: starting")
    tables, results = KINDS[spec.kind](setup, progress)
    progress(1.0, f"{spec.kind}: done")
    summary = {
        "kind": spec.kind,
        "spec": spec.sha256,
        "model": spec.model,
        "twins": list(spec.twins),
        "start": format_rfc3339(setup.clock.start_us),
        "end": format_rfc3339(setup.clock.time_us(setup.clock.steps)),
        "steps": setup.clock.steps,
        "records": len(setup.record_steps),
        "seed": spec.seed,
        "outputs": list(setup.outputs),
        "tables": {name: table.num_rows for name, table in sorted(tables.items())},
        **results,
    }
    return ScenarioOutput(
        tables=dict(sorted(tables.items())),
        summary=json_safe(summary),
        model=model_info(spec.model, model).to_json(),
    )
