"""Snapshots: everything a scenario reads from the platform, taken once, as plain JSON.

A run never touches the database: :func:`take_snapshot` reads the twins' bound properties
and state (now, or as of ``asOf``), the history replayed inputs need, and the model's record,
converts every value into the model's units, and returns a JSON-serializable dict that
:func:`twinops.sim.runner.run_scenario` takes with the spec. Stored with the run, it makes
the run reproducible byte for byte.

Layout (``format`` 1)::

    {"format": 1, "model": {...}, "start": µs, "startText": RFC 3339, "asOf": µs | null,
     "twins": [{"id", "model", "parameters": {name: value}, "states": {name: value},
                "sources": {name: "property ratedFlow" | "telemetry vibration at T"}}],
     "replay": {key: {twin id: {"field", "times": [µs after start], "values", "initial"}}}}

``replay`` keys come from :func:`replay_key`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from twinops.errors import InvalidInput, NotFound, TwinOpsError
from twinops.ingest.units import default_converter
from twinops.models.service import ModelService, ResolvedModel
from twinops.sim.model import ModelSignature
from twinops.sim.profiles import Replay
from twinops.sim.references import model_info, resolve_model
from twinops.sim.scenario import ScenarioSpec
from twinops.state.entities import FieldValue
from twinops.state.store import StateStore
from twinops.timeutil import Clock, format_rfc3339, system_clock
from twinops.twins.entities import Twin
from twinops.twins.service import TwinService

FORMAT = 1
MAX_REPLAY_POINTS = 2_000_000
_PAGE = 10_000


def replay_key(field: str, start: int, end: int) -> str:
    """The key of one replayed period of one field in a snapshot's ``replay``."""
    return f"{field}|{start}|{end}"


def replay_field(spec: ScenarioSpec, signature: ModelSignature, name: str, profile: Replay) -> str:
    """The telemetry field a replay profile reads (its own ``field``, else the input's binding)."""
    declared = signature.input(name)
    return profile.field or (declared.binding if declared and declared.binding else name)


def replay_end(spec: ScenarioSpec, profile: Replay) -> int:
    """The end of a replayed period (default: start + horizon)."""
    return profile.end if profile.end is not None else profile.start + spec.horizon


def take_snapshot(
    spec: ScenarioSpec,
    *,
    tenant: str,
    twins: TwinService,
    state: StateStore,
    models: ModelService,
    max_steps: int,
    clock: Clock = system_clock,
) -> dict[str, Any]:
    """Read what ``spec`` needs from the platform into a JSON-serializable snapshot."""
    if spec.steps > max_steps:
        raise InvalidInput.single(
            "horizon", "quota", f"{spec.steps} steps; this tenant may run at most {max_steps}"
        )
    model = resolve_model(spec.model)
    signature = model.signature
    found = [_twin(twins, tenant, twin_id, i) for i, twin_id in enumerate(spec.twins)]
    resolved = [_check_model(models, tenant, twin, signature, i) for i, twin in enumerate(found)]
    if spec.as_of is not None:
        values = state.as_of(tenant, list(spec.twins), spec.as_of)
    else:
        values = {twin_id: state.current(tenant, twin_id) for twin_id in spec.twins}
    start = spec.start if spec.start is not None else spec.as_of
    if start is None:
        start = clock()
    entries = [
        _bound(signature, twin, resolved_model, values.get(twin.twin_id, {}), i)
        for i, (twin, resolved_model) in enumerate(zip(found, resolved, strict=True))
    ]
    replay: dict[str, dict[str, Any]] = {}
    for where, name, profile in _replays(spec):
        field = replay_field(spec, signature, name, profile)
        end = replay_end(spec, profile)
        key = replay_key(field, profile.start, end)
        if key in replay:
            continue
        unit = signature.input(name)
        replay[key] = {
            twin.twin_id: _history(
                state,
                tenant,
                twin,
                resolved_model,
                field,
                profile.start,
                end,
                unit.unit if unit else None,
                f"{where}.{name}",
            )
            for twin, resolved_model in zip(found, resolved, strict=True)
        }
    return {
        "format": FORMAT,
        "model": model_info(spec.model, model).to_json(),
        "start": start,
        "startText": format_rfc3339(start),
        "asOf": spec.as_of,
        "twins": entries,
        "replay": replay,
    }


def _twin(twins: TwinService, tenant: str, twin_id: str, i: int) -> Twin:
    try:
        return twins.get(tenant, twin_id)
    except NotFound:
        raise InvalidInput.single(
            f"twins[{i}]", "unknownTwin", f"twin {twin_id} does not exist", twin_id
        ) from None


def _check_model(
    models: ModelService, tenant: str, twin: Twin, signature: ModelSignature, i: int
) -> ResolvedModel:
    try:
        resolved = models.resolve(tenant, twin.model)
    except TwinOpsError as exc:
        raise InvalidInput.single(
            f"twins[{i}]", "modelMismatch", f"the twin's model cannot be read: {exc}", twin.twin_id
        ) from None
    wanted = set(signature.twin_models)
    if wanted and not ({twin.model} | set(resolved.ancestors)) & wanted:
        raise InvalidInput.single(
            f"twins[{i}]",
            "modelMismatch",
            f"{twin.twin_id} is a {twin.model}; the {signature.name} model simulates "
            + ", ".join(sorted(wanted)),
            twin.twin_id,
        )
    return resolved


def _replays(spec: ScenarioSpec) -> Iterator[tuple[str, str, Replay]]:
    for name, profile in spec.inputs.items():
        if isinstance(profile, Replay):
            yield "inputs", name, profile
    if spec.changes is not None:
        for name, profile in spec.changes.inputs.items():
            if isinstance(profile, Replay):
                yield "changes.inputs", name, profile


def _property(contents: Any, path: str) -> Any:
    node = contents
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _to_model_unit(
    value: float, resolved: ResolvedModel, field: str, unit: str | None, where: str
) -> float:
    """A twin field's value (in its DTDL unit) expressed in the model's unit."""
    content = resolved.field(field)
    dtdl_unit = getattr(content, "unit", None)
    if dtdl_unit is None or unit is None or unit == dtdl_unit:
        return value
    try:
        affine = default_converter().affine(unit, dtdl_unit)
    except InvalidInput:
        raise InvalidInput.single(
            where, "incompatibleUnit", f"{field} is in {dtdl_unit}; the model wants {unit}", field
        ) from None
    return (value - affine.offset) / affine.scale


def _bound(
    signature: ModelSignature,
    twin: Twin,
    resolved: ResolvedModel,
    values: dict[str, FieldValue],
    i: int,
) -> dict[str, Any]:
    """The twin's bound parameter values and initial states, in model units."""
    where = f"twins[{i}]"
    parameters: dict[str, float] = {}
    states: dict[str, float] = {}
    sources: dict[str, str] = {}
    for parameter in signature.parameters:
        if parameter.binding is None or resolved.field(parameter.binding) is None:
            continue
        raw = _number(_property(twin.contents, parameter.binding))
        if raw is None:
            continue
        value = _to_model_unit(raw, resolved, parameter.binding, parameter.unit, where)
        if not parameter.admits(value):
            raise InvalidInput.single(
                where,
                "range",
                f"{twin.twin_id}'s {parameter.binding} is {raw!r}, outside the bounds "
                f"{parameter.bounds_text()} of parameter {parameter.name}",
                raw,
            )
        parameters[parameter.name] = value
        sources[parameter.name] = f"property {parameter.binding}"
    for variable in signature.states:
        if variable.binding is None or resolved.field(variable.binding) is None:
            continue
        observed = values.get(variable.binding)
        raw = _number(observed.value) if observed is not None else None
        if observed is not None and raw is not None:
            time = format_rfc3339(observed.event_time)
            source = f"telemetry {variable.binding} at {time}"
        else:
            raw = _number(_property(twin.contents, variable.binding))
            source = f"property {variable.binding}"
        if raw is None:
            continue
        states[variable.name] = _to_model_unit(
            raw, resolved, variable.binding, variable.unit, where
        )
        sources[variable.name] = source
    return {
        "id": twin.twin_id,
        "model": twin.model,
        "parameters": parameters,
        "states": states,
        "sources": sources,
    }


def _history(
    state: StateStore,
    tenant: str,
    twin: Twin,
    resolved: ResolvedModel,
    field: str,
    start: int,
    end: int,
    unit: str | None,
    where: str,
) -> dict[str, Any]:
    """One twin's recorded points of ``field`` in [start, end), as offsets from ``start``."""
    if resolved.field(field) is None:
        raise InvalidInput.single(
            f"{where}.field", "unknownField", f"{twin.twin_id} has no field {field}", field
        )
    times: list[int] = []
    values: list[float] = []
    after: int | None = None
    while True:
        page = state.history(
            tenant, twin.twin_id, field, start=start, end=end, limit=_PAGE, after=after
        )
        for sample in page.items:
            number = _number(sample.value)
            if number is not None:
                times.append(sample.time - start)
                values.append(_to_model_unit(number, resolved, field, unit, where))
        if len(times) > MAX_REPLAY_POINTS:
            raise InvalidInput.single(
                where, "quota", f"more than {MAX_REPLAY_POINTS} points of {field} to replay"
            )
        if page.next is None:
            break
        after = int(page.next)
    before = state.as_of(tenant, [twin.twin_id], start).get(twin.twin_id, {}).get(field)
    initial = _number(before.value) if before is not None else None
    if initial is not None:
        initial = _to_model_unit(initial, resolved, field, unit, where)
    if not values and initial is None:
        raise InvalidInput.single(
            where,
            "noHistory",
            f"{twin.twin_id} has no {field} recorded at or before "
            f"{format_rfc3339(end - 1)} to replay",
        )
    return {"field": field, "times": times, "values": values, "initial": initial}


def bound_parameters(
    signature: ModelSignature, twin: Twin, resolved: ResolvedModel
) -> dict[str, float]:
    """A twin's nameplate values of the parameters bound to its properties, in model units."""
    return dict(_bound(signature, twin, resolved, {}, 0)["parameters"])
