"""Fidelity snapshots built from in-memory series instead of a platform's database.

For benchmarks, scripts and tests that have the data at hand (a CSV, a generator): the same
snapshot layout :mod:`twinops.fidelity.snapshot` takes from the platform, so the same
:func:`~twinops.fidelity.problem.build_problem` runs on it. Values are taken as already in the
model's units.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from twinops.fidelity.snapshot import FORMAT
from twinops.sim.profiles import Replay
from twinops.sim.references import model_info, resolve_model
from twinops.sim.snapshot import FORMAT as SIM_FORMAT
from twinops.sim.snapshot import replay_key
from twinops.timeutil import format_rfc3339


@dataclass(frozen=True)
class TwinData:
    """One twin: bound parameter values, initial states, and recorded series by field name
    (``(times in epoch µs, values)``, times increasing)."""

    parameters: Mapping[str, float] = field(default_factory=dict)
    states: Mapping[str, float] = field(default_factory=dict)
    series: Mapping[str, tuple[NDArray[np.int64], NDArray[np.float64]]] = field(
        default_factory=dict
    )
    model: str = ""


def _period(data: TwinData, name: str, start: int, end: int, lists: bool) -> dict[str, Any]:
    times, values = data.series[name]
    times = np.asarray(times, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    first = int(np.searchsorted(times, start, side="left"))
    last = int(np.searchsorted(times, end, side="left"))
    before = values[first - 1] if first > 0 else None
    return {
        "field": name,
        "times": _plain(times[first:last] - start, lists),
        "values": _plain(values[first:last], lists),
        "initial": None if before is None else float(before),
    }


def _plain(values: NDArray[Any], lists: bool) -> Any:
    return values.tolist() if lists else values


def snapshot_from_data(
    spec: Any,
    outputs: Mapping[str, str | None],
    twins: Mapping[str, TwinData],
    *,
    lists: bool = True,
) -> dict[str, Any]:
    """The fidelity snapshot of ``spec`` (a completed calibration or validation spec).

    ``lists=False`` keeps the series as NumPy arrays (not JSON, but no copies: for benchmarks
    over months of 1 s data).
    """
    model = resolve_model(spec.model)
    signature = model.signature
    replay: dict[str, dict[str, Any]] = {}
    for name, profile in (spec.inputs or {}).items():
        if not isinstance(profile, Replay):
            continue
        declared = signature.input(name)
        source = profile.field or (declared.binding if declared and declared.binding else name)
        end = profile.end if profile.end is not None else spec.start + spec.steps * spec.step
        replay[replay_key(source, profile.start, end)] = {
            twin: _period(twins[twin], source, profile.start, end, lists) for twin in spec.twins
        }
    scenario = {
        "format": SIM_FORMAT,
        "model": model_info(spec.model, model).to_json(),
        "start": spec.start,
        "startText": format_rfc3339(spec.start),
        "asOf": spec.start,
        "twins": [
            {
                "id": twin,
                "model": twins[twin].model,
                "parameters": dict(twins[twin].parameters),
                "states": dict(twins[twin].states),
                "sources": {},
            }
            for twin in spec.twins
        ],
        "replay": replay,
    }
    observed = {
        output: {
            twin: _period(twins[twin], source or output, spec.start, spec.end, lists)
            for twin in spec.twins
        }
        for output, source in outputs.items()
    }
    return {"format": FORMAT, "scenario": scenario, "observed": observed}
