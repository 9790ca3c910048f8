"""The checks of a parsed spec that need its kind and its model, and the defaults they fill in.

Quotas here are hard limits every spec obeys; a tenant's own step quota is checked when the
snapshot is taken (:func:`twinops.sim.snapshot.take_snapshot`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from twinops.errors import InvalidInput, Violation
from twinops.sim.design import grid_size, sobol_rows, varied_distributions
from twinops.sim.model import BehaviorModel, ModelSignature
from twinops.sim.profiles import Replay
from twinops.sim.references import resolve_model
from twinops.sim.scenario import DEFAULT_PERCENTILES, ScenarioSpec, is_power_of_two

HARD_MAX_STEPS = 10_000_000
MAX_MEMBERS = 2_000_000
MAX_MEMBER_STEPS = 20_000_000_000
MAX_CELLS = 50_000_000
DEFAULT_RECORDS = 1000
DEFAULT_SOBOL_SAMPLES = 64

# The fields only some kinds read (JSON names), and which kinds.
_KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "changes": ("what-if",),
    "grid": ("sweep",),
    "random": ("sweep",),
    "samples": ("sweep", "sensitivity"),
    "runs": ("monte-carlo",),
    "distributions": ("monte-carlo", "sensitivity"),
    "usePriors": ("monte-carlo", "sensitivity"),
    "percentiles": ("monte-carlo",),
    "confidence": ("monte-carlo", "sensitivity"),
    "method": ("sensitivity",),
    "vary": ("sensitivity",),
    "metric": ("sensitivity",),
}


def check_spec(spec: ScenarioSpec) -> ScenarioSpec:
    """Check a spec against its kind, its model and the quotas; answer it with defaults set."""
    problems: list[Violation] = []
    given = spec.model_dump(by_alias=True, exclude_none=True)
    for name, kinds in _KIND_FIELDS.items():
        if name in given and spec.kind not in kinds:
            problems.append(
                Violation(
                    name, "kind", f"is not used by kind {spec.kind} (only {', '.join(kinds)})"
                )
            )
    problems += _check_time(spec)
    try:
        model = resolve_model(spec.model)
    except InvalidInput as exc:
        raise InvalidInput.of([*problems, *exc.violations]) from None
    signature = model.signature
    problems += _check_values(spec, signature, "parameters", spec.parameters)
    for twin, values in spec.twin_parameters.items():
        if twin not in spec.twins:
            problems.append(
                Violation(f"twinParameters.{twin}", "unknownTwin", "not one of the spec's twins")
            )
        problems += _check_values(spec, signature, f"twinParameters.{twin}", values)
    problems += _check_inputs(spec, signature, "inputs", spec.inputs)
    for i, name in enumerate(spec.outputs or ()):
        if name not in signature.output_names:
            problems.append(
                Violation(
                    f"outputs[{i}]",
                    "unknownOutput",
                    f"{name!r} is not an output of the model",
                    name,
                )
            )
    completed = _complete(spec, signature)
    problems += _check_kind(completed, signature)
    if problems:
        raise InvalidInput.of(problems)
    problems += _check_quotas(completed, model)
    if problems:
        raise InvalidInput.of(problems)
    return completed


def _check_time(spec: ScenarioSpec) -> list[Violation]:
    problems = []
    if spec.step > spec.horizon:
        problems.append(Violation("step", "range", "the step is longer than the horizon"))
    elif spec.horizon % spec.step:
        problems.append(
            Violation("horizon", "multiple", "the horizon must be a whole number of steps")
        )
    elif spec.steps > HARD_MAX_STEPS:
        problems.append(
            Violation(
                "horizon", "quota", f"{spec.steps} steps; at most {HARD_MAX_STEPS} are allowed"
            )
        )
    if spec.record is not None:
        if spec.record % spec.step:
            problems.append(
                Violation("record", "multiple", "record must be a whole number of steps")
            )
        elif spec.record > spec.horizon:
            problems.append(Violation("record", "range", "record is longer than the horizon"))
    return problems


def _check_values(
    spec: ScenarioSpec, signature: ModelSignature, where: str, values: Mapping[str, float]
) -> list[Violation]:
    problems = []
    for name, value in values.items():
        parameter = signature.parameter(name)
        field = f"{where}.{name}"
        if parameter is None:
            problems.append(
                Violation(field, "unknownParameter", f"the model has no parameter {name!r}")
            )
        elif not parameter.admits(value):
            problems.append(
                Violation(field, "range", f"{value!r} is outside {parameter.bounds_text()}", value)
            )
    return problems


def _check_inputs(
    spec: ScenarioSpec, signature: ModelSignature, where: str, profiles: Mapping[str, Any]
) -> list[Violation]:
    problems = []
    for name, profile in profiles.items():
        declared = signature.input(name)
        field = f"{where}.{name}"
        if declared is None:
            problems.append(Violation(field, "unknownInput", f"the model has no input {name!r}"))
            continue
        relative = getattr(profile, "relative_to", None)
        if relative is not None and signature.parameter(relative) is None:
            problems.append(
                Violation(
                    f"{field}.relativeTo",
                    "unknownParameter",
                    f"the model has no parameter {relative!r}",
                )
            )
        if isinstance(profile, Replay):
            if profile.field is None and declared.binding is None:
                problems.append(
                    Violation(
                        f"{field}.field",
                        "required",
                        "the input has no binding: name the telemetry field",
                    )
                )
            if profile.end is not None and profile.end <= profile.start:
                problems.append(Violation(f"{field}.end", "range", "end must be after start"))
    return problems


def _complete(spec: ScenarioSpec, signature: ModelSignature) -> ScenarioSpec:
    """The spec with every default its kind uses written out."""
    update: dict[str, Any] = {}
    if spec.record is None and spec.step <= spec.horizon and spec.horizon % spec.step == 0:
        update["record"] = spec.step * default_record_every(spec.steps)
    if spec.outputs is None:
        update["outputs"] = signature.output_names
    if spec.kind in ("monte-carlo", "sensitivity"):
        update["use_priors"] = True if spec.use_priors is None else spec.use_priors
        update["confidence"] = spec.confidence or 0.95
    if spec.kind == "monte-carlo" and spec.percentiles is None:
        update["percentiles"] = DEFAULT_PERCENTILES
    if spec.kind == "sensitivity":
        update["method"] = spec.method or "sobol"
        update["metric"] = spec.metric or "final"
        if update["method"] == "sobol" and spec.samples is None:
            update["samples"] = DEFAULT_SOBOL_SAMPLES
    completed = spec.model_copy(update=update)
    if completed.kind == "sensitivity" and completed.vary is None:
        found, _ = varied_distributions(completed, signature)
        if found:
            completed = completed.model_copy(update={"vary": tuple(sorted(found))})
    return completed


def default_record_every(steps: int) -> int:
    """Steps between records by default: at most about 1,000 records, dividing the horizon
    evenly when a close divisor exists (1 week of minutes: every 12 min, not every 11)."""
    every = max(1, math.ceil(steps / DEFAULT_RECORDS))
    return next((e for e in range(every, 2 * every + 1) if steps % e == 0), every)


def _check_kind(spec: ScenarioSpec, signature: ModelSignature) -> list[Violation]:
    problems: list[Violation] = []
    if spec.kind == "what-if":
        if spec.changes is None or not (spec.changes.parameters or spec.changes.inputs):
            problems.append(
                Violation("changes", "required", "a what-if changes parameters or inputs")
            )
        else:
            problems += _check_values(
                spec, signature, "changes.parameters", spec.changes.parameters
            )
            problems += _check_inputs(spec, signature, "changes.inputs", spec.changes.inputs)
    elif spec.kind == "sweep":
        problems += _check_sweep(spec, signature)
    elif spec.kind == "monte-carlo":
        if spec.runs is None:
            problems.append(Violation("runs", "required", "a Monte Carlo run says how many runs"))
        problems += _check_distributions(spec, signature)
    else:
        problems += _check_distributions(spec, signature)
        problems += _check_sensitivity(spec, signature)
    return problems


def _check_sweep(spec: ScenarioSpec, signature: ModelSignature) -> list[Violation]:
    problems: list[Violation] = []
    if (spec.grid is None) == (spec.random is None):
        return [Violation("grid", "required", "a sweep has either a grid or random ranges")]
    if spec.grid is not None:
        if spec.samples is not None:
            problems.append(
                Violation("samples", "kind", "a grid sweep has no samples (its size is the grid's)")
            )
        for name, values in spec.grid.items():
            parameter = signature.parameter(name)
            if parameter is None:
                problems.append(
                    Violation(
                        f"grid.{name}", "unknownParameter", f"the model has no parameter {name!r}"
                    )
                )
                continue
            if name in spec.parameters:
                problems.append(Violation(f"grid.{name}", "conflict", "also fixed in parameters"))
            for i, value in enumerate(values):
                if not parameter.admits(value):
                    problems.append(
                        Violation(
                            f"grid.{name}[{i}]",
                            "range",
                            f"{value!r} is outside {parameter.bounds_text()}",
                            value,
                        )
                    )
    else:
        if spec.samples is None:
            problems.append(
                Violation("samples", "required", "a random sweep says how many samples")
            )
        for name in spec.random or {}:
            if signature.parameter(name) is None:
                problems.append(
                    Violation(
                        f"random.{name}", "unknownParameter", f"the model has no parameter {name!r}"
                    )
                )
            elif name in spec.parameters:
                problems.append(Violation(f"random.{name}", "conflict", "also fixed in parameters"))
    return problems


def _check_distributions(spec: ScenarioSpec, signature: ModelSignature) -> list[Violation]:
    problems = []
    for name in spec.distributions or {}:
        if signature.parameter(name) is None:
            problems.append(
                Violation(
                    f"distributions.{name}",
                    "unknownParameter",
                    f"the model has no parameter {name!r}",
                )
            )
        elif name in spec.parameters:
            problems.append(
                Violation(f"distributions.{name}", "conflict", "also fixed in parameters")
            )
    return problems


def _check_sensitivity(spec: ScenarioSpec, signature: ModelSignature) -> list[Violation]:
    problems = []
    for i, name in enumerate(spec.vary or ()):
        if signature.parameter(name) is None:
            problems.append(
                Violation(f"vary[{i}]", "unknownParameter", f"the model has no parameter {name!r}")
            )
        elif name in spec.parameters:
            problems.append(Violation(f"vary[{i}]", "conflict", "also fixed in parameters"))
    if problems:
        return problems
    found, missing = varied_distributions(spec, signature)
    if not found:
        problems.append(
            Violation("vary", "required", "no parameter to vary: give vary and distributions")
        )
    for name in missing:
        problems.append(
            Violation(
                f"distributions.{name}",
                "required",
                f"{name} has no prior and unbounded range: give a distribution",
            )
        )
    if spec.method == "oat" and spec.samples is not None:
        problems.append(Violation("samples", "kind", "one-at-a-time needs no samples"))
    if spec.method == "sobol" and spec.samples is not None and not is_power_of_two(spec.samples):
        problems.append(
            Violation("samples", "powerOfTwo", "Sobol' sampling needs a power of two", spec.samples)
        )
    return problems


def member_count(spec: ScenarioSpec, signature: ModelSignature) -> int:
    """How many members (runs x twins) the spec simulates, all variants together."""
    twins = len(spec.twins)
    if spec.kind == "what-if":
        return 2 * twins
    if spec.kind == "sweep":
        points = grid_size(spec.grid) if spec.grid is not None else spec.samples or 0
        return points * twins
    if spec.kind == "monte-carlo":
        return (spec.runs or 0) * twins
    found, _ = varied_distributions(spec, signature)
    if spec.method == "oat":
        return (1 + 2 * len(found)) * twins
    return sobol_rows(spec.samples or 0, len(found)) * twins


def record_count(spec: ScenarioSpec) -> int:
    """How many times are recorded (the start, every ``record``, and the end)."""
    every = spec.record_every
    return spec.steps // every + 1 + (1 if spec.steps % every else 0)


def _check_quotas(spec: ScenarioSpec, model: BehaviorModel) -> list[Violation]:
    signature = model.signature
    members = member_count(spec, signature)
    where = {
        "what-if": "twins",
        "sweep": "samples" if spec.random else "grid",
        "monte-carlo": "runs",
        "sensitivity": "samples",
    }[spec.kind]
    problems = []
    if members > MAX_MEMBERS:
        problems.append(
            Violation(where, "quota", f"{members} simulated members; at most {MAX_MEMBERS}")
        )
    if members * spec.steps > MAX_MEMBER_STEPS:
        problems.append(
            Violation(
                where,
                "quota",
                f"{members} members x {spec.steps} steps; at most {MAX_MEMBER_STEPS:.0e}",
            )
        )
    records = record_count(spec)
    outputs = len(spec.outputs or ())
    twins = len(spec.twins)
    cells = {
        "what-if": 2 * twins * records * outputs,
        "sweep": members * outputs * 3,
        "monte-carlo": twins * records * outputs + members * outputs,
        "sensitivity": members * outputs,
    }[spec.kind]
    if model.engine != "vectorized":
        cells = max(cells, members * records * outputs)  # per-run engines keep whole series
    if cells > MAX_CELLS:
        problems.append(
            Violation(
                "record" if spec.kind != "sweep" else where,
                "quota",
                f"{cells} result values; at most {MAX_CELLS} (record less often or fewer outputs)",
            )
        )
    return problems
