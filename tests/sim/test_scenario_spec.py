"""Scenario specs: parsing, canonical JSON, and errors that name the field and the rule."""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twinops.errors import InvalidInput
from twinops.sim.durations import DurationError, format_duration, parse_duration
from twinops.sim.scenario import KINDS, load_spec, parse_spec

PUMP = "twinops.sim.library.pump:PumpModel"
SCENARIOS = Path(__file__).resolve().parents[2] / "examples" / "pump_fleet" / "scenarios"


def what_if(**changes: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "kind": "what-if",
        "model": PUMP,
        "twins": ["pump-01-01-01"],
        "horizon": "24h",
        "step": "1min",
        "changes": {"parameters": {"wearRate": 1e-4}},
    }
    spec.update(changes)
    return spec


def violations(raw: Any) -> list[tuple[str, str]]:
    with pytest.raises(InvalidInput) as caught:
        parse_spec(raw)
    return [(v.field, v.rule) for v in caught.value.violations]


@pytest.mark.parametrize(
    ("text", "micros", "canonical"),
    [
        ("24h", 86_400_000_000, "1d"),
        ("1h30min", 5_400_000_000, "90min"),
        ("PT15M", 900_000_000, "15min"),
        ("P1DT2H", 93_600_000_000, "26h"),
        (90, 90_000_000, "90s"),
        ("1.5s", 1_500_000, "1500ms"),
        ("250ms", 250_000, "250ms"),
        ("2w", 1_209_600_000_000, "2w"),
    ],
)
def test_durations_parse_and_print_canonically(text: Any, micros: int, canonical: str) -> None:
    assert parse_duration(text) == micros
    assert format_duration(micros) == canonical
    assert parse_duration(canonical) == micros


@pytest.mark.parametrize(
    "text", ["", "h", "1x", "-1h", "0s", "1e400", "0.0000001s", True, None, "P"]
)
def test_malformed_durations_are_refused(text: Any) -> None:
    with pytest.raises(DurationError):
        parse_duration(text)


def test_a_spec_is_completed_with_the_defaults_its_kind_uses() -> None:
    spec = parse_spec(what_if())
    assert spec.seed == 0
    assert spec.steps == 1440
    assert spec.record == 2 * 60_000_000  # 1,440 steps recorded at most ~1,000 times
    assert spec.outputs is not None and "wear" in spec.outputs
    document = json.loads(spec.canonical_json())
    assert document["record"] == "2min" and document["horizon"] == "1d"
    assert "runs" not in document and "percentiles" not in document
    mc = parse_spec({**what_if(kind="monte-carlo", runs=10), "changes": None})
    assert mc.percentiles == (5.0, 25.0, 50.0, 75.0, 95.0)
    assert mc.use_priors is True and mc.confidence == 0.95


def test_canonical_json_is_sorted_compact_and_hashes_to_the_sha256() -> None:
    spec = parse_spec(what_if(name="trip", parameters={"ratedHead": 40}))
    text = spec.canonical_json()
    assert b" " not in text.replace(b'"trip"', b"")
    assert json.loads(text) == json.loads(json.dumps(json.loads(text), sort_keys=True))
    assert spec.sha256 == hashlib.sha256(text).hexdigest()
    assert parse_spec(json.loads(text)).canonical_json() == text


def test_equivalent_spellings_give_the_same_spec() -> None:
    a = parse_spec(what_if(horizon="24h", step=60, parameters={"ratedHead": 40}))
    b = parse_spec(what_if(horizon="P1D", step="1min", parameters={"ratedHead": 40.0}))
    assert a.sha256 == b.sha256


def test_unknown_models_and_modules_outside_the_library_are_refused() -> None:
    assert violations(what_if(model="twinops.sim.library.pump:Nope")) == [("model", "unknownModel")]
    assert violations(what_if(model="os:system")) == [("model", "unknownModel")]
    assert violations(what_if(model="twinops.sim.library.nothing:X")) == [("model", "unknownModel")]
    assert violations(what_if(model="not a reference")) == [("model", "format")]
    abstract = "twinops.sim.library.pump:VectorModel"
    assert violations(what_if(model=abstract)) == [("model", "unknownModel")]


def test_more_model_modules_can_be_allowed_by_configuration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TWINOPS_SIM_MODEL_MODULES", "tests_sim_models, other")
    assert violations(what_if(model="tests_sim_models:Thing")) == [("model", "unknownModel")]


def test_unknown_parameters_inputs_and_outputs_are_named() -> None:
    found = violations(
        what_if(
            parameters={"ratedFlo": 1.0},
            inputs={"sped": {"profile": "constant", "value": 1}},
            outputs=["wear", "wearr"],
            changes={
                "parameters": {"nope": 1},
                "inputs": {"speed": {"profile": "constant", "value": 1, "relativeTo": "ratedSped"}},
            },
        )
    )
    assert found == [
        ("parameters.ratedFlo", "unknownParameter"),
        ("inputs.sped", "unknownInput"),
        ("outputs[1]", "unknownOutput"),
        ("changes.parameters.nope", "unknownParameter"),
        ("changes.inputs.speed.relativeTo", "unknownParameter"),
    ]


def test_values_out_of_bounds_are_refused_with_the_value() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_spec(what_if(parameters={"efficiencyBestPoint": 1.5}))
    (violation,) = caught.value.violations
    assert (violation.field, violation.rule, violation.value) == (
        "parameters.efficiencyBestPoint",
        "range",
        1.5,
    )
    grid = {"kind": "sweep", "grid": {"wearRate": [1e-5, 2.0]}, "changes": None}
    assert violations({**what_if(), **grid}) == [("grid.wearRate[1]", "range")]


def test_time_rules_name_their_field() -> None:
    assert violations(what_if(horizon="1x")) == [("horizon", "duration")]
    assert violations(what_if(horizon="25min", step="10min")) == [("horizon", "multiple")]
    assert violations(what_if(horizon="1min", step="1h")) == [("step", "range")]
    assert violations(what_if(horizon="1000d", step="1ms")) == [("horizon", "quota")]
    assert violations(what_if(record="90s")) == [("record", "multiple")]
    assert violations(what_if(asOf="yesterday")) == [("asOf", "time")]


def test_fields_of_other_kinds_and_missing_kind_fields_are_refused() -> None:
    assert violations(what_if(runs=10)) == [("runs", "kind")]
    assert violations(what_if(changes={})) == [("changes", "required")]
    assert violations({**what_if(kind="monte-carlo"), "changes": None}) == [("runs", "required")]
    sweep = {**what_if(kind="sweep"), "changes": None}
    assert violations(sweep) == [("grid", "required")]
    assert violations({**sweep, "random": {"wearRate": {"low": 1e-5, "high": 1e-4}}}) == [
        ("samples", "required")
    ]
    sobol = {**what_if(kind="sensitivity", samples=100), "changes": None}
    assert violations(sobol) == [("samples", "powerOfTwo")]
    conflict = {**what_if(kind="monte-carlo", runs=5), "changes": None}
    conflict["parameters"] = {"wearRate": 1e-5}
    conflict["distributions"] = {"wearRate": {"distribution": "uniform", "low": 0, "high": 1e-4}}
    assert violations(conflict) == [("distributions.wearRate", "conflict")]


def test_structural_errors_point_into_profiles_and_distributions() -> None:
    found = violations(
        what_if(
            twins=["pump-01-01-01", "bad id!"],
            inputs={"speed": {"profile": "sine", "mean": 1, "period": "1d"}},
            changes={"inputs": {"speed": {"profile": "wobble"}}},
        )
    )
    assert ("twins", "value") in found
    assert ("inputs.speed.amplitude", "required") in found
    assert ("changes.inputs.speed", "enum") in found
    mc = {**what_if(kind="monte-carlo", runs=5), "changes": None}
    mc["distributions"] = {"wearRate": {"distribution": "normal", "mean": 1, "sd": -1}}
    assert violations(mc) == [("distributions.wearRate.sd", "range")]


def test_quotas_bound_members_and_stored_values() -> None:
    huge = {**what_if(kind="monte-carlo", runs=1_000_000, twins=[f"p{i}" for i in range(3)])}
    assert ("runs", "quota") in violations({**huge, "changes": None})


def test_kinds_are_the_four_the_job_system_routes() -> None:
    assert set(KINDS) == {"what-if", "sweep", "monte-carlo", "sensitivity"}


@pytest.mark.parametrize("name", ["what-if", "monte-carlo", "sweep", "sensitivity"])
def test_example_specs_parse(name: str) -> None:
    spec = load_spec(SCENARIOS / f"{name}.yaml")
    assert spec.kind == name
    assert spec.twins[0] == "pump-01-01-01"


# -- properties -----------------------------------------------------------------------------

_signature_bounds = {
    "ratedFlow": (1.0, 1000.0),
    "ratedHead": (1.0, 200.0),
    "wearRate": (0.0, 1e-3),
    "staticHeadRatio": (0.0, 0.9),
}
_durations = st.sampled_from(["1h", "2h", "6h", "1d", 3600, "PT3H", "180min"])
_numbers = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@st.composite
def profiles(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["constant", "step", "ramp", "sine", "noise", "events"]))
    body: dict[str, Any] = {"profile": kind}
    if kind == "constant":
        body["value"] = draw(_numbers)
    elif kind == "step":
        body.update(before=draw(_numbers), after=draw(_numbers), at=draw(_durations))
    elif kind == "ramp":
        body.update({"from": draw(_numbers), "to": draw(_numbers), "duration": draw(_durations)})
    elif kind == "sine":
        body.update(mean=draw(_numbers), amplitude=draw(_numbers), period=draw(_durations))
    elif kind == "noise":
        body.update(mean=draw(_numbers), sd=draw(st.floats(0, 10)))
    else:
        body["at"] = draw(st.lists(_durations, min_size=1, max_size=3))
    if kind != "noise" and draw(st.booleans()):
        body["relativeTo"] = "ratedSpeed"
    return body


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["what-if", "sweep", "monte-carlo", "sensitivity"]))
    step = draw(st.sampled_from(["1min", "15min", "1h"]))
    raw: dict[str, Any] = {
        "kind": kind,
        "model": PUMP,
        "twins": draw(
            st.lists(
                st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True),
                min_size=1,
                max_size=3,
                unique=True,
            )
        ),
        "horizon": draw(st.sampled_from(["1h", "6h", "1d", "2d"])),
        "step": step,
        "parameters": draw(
            st.dictionaries(
                st.sampled_from(sorted(_signature_bounds)), st.floats(0.5, 0.9), max_size=2
            )
        ),
        "inputs": draw(
            st.dictionaries(
                st.sampled_from(["speed", "ambientTemperature", "maintenance"]),
                profiles(),
                max_size=2,
            )
        ),
    }
    if draw(st.booleans()):
        raw["seed"] = draw(st.integers(0, 2**40))
    if draw(st.booleans()):
        raw["name"] = draw(st.text(min_size=1, max_size=20))
    if kind == "what-if":
        raw["changes"] = {"parameters": {"ratedHead": draw(st.floats(1, 100))}}
    elif kind == "sweep":
        free = sorted(set(_signature_bounds) - set(raw["parameters"]))
        raw["grid"] = {free[0]: [0.5, 0.7]}
    elif kind == "monte-carlo":
        raw["runs"] = draw(st.integers(1, 100))
    else:
        raw["samples"] = draw(st.sampled_from([8, 16]))
    return raw


def shuffled(value: Any, rnd: random.Random) -> Any:
    if isinstance(value, dict):
        items = list(value.items())
        rnd.shuffle(items)
        return {k: shuffled(v, rnd) for k, v in items}
    if isinstance(value, list):
        return [shuffled(v, rnd) for v in value]
    return value


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs(), st.randoms())
def test_canonical_json_round_trips_and_ignores_key_order(raw: dict[str, Any], rnd: Any) -> None:
    spec = parse_spec(raw)
    text = spec.canonical_json()
    again = parse_spec(json.loads(text))
    assert again.canonical_json() == text
    assert again == spec
    assert parse_spec(shuffled(raw, rnd)).sha256 == spec.sha256


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(_json, st.dictionaries(st.sampled_from(["kind", "model", "twins", "horizon"]), _json))
)
def test_any_json_value_either_parses_or_raises_invalid_input(raw: Any) -> None:
    with contextlib.suppress(InvalidInput):
        parse_spec(raw)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs(), st.data())
def test_a_damaged_spec_raises_invalid_input_only(raw: dict[str, Any], data: st.DataObject) -> None:
    damaged = json.loads(json.dumps(raw))
    node = damaged
    path = data.draw(st.lists(st.integers(0, 10), max_size=3))
    for index in path:
        if isinstance(node, dict) and node:
            key = sorted(node)[index % len(node)]
            if isinstance(node[key], dict | list) and node[key]:
                node = node[key]
            else:
                break
        elif isinstance(node, list) and node:
            node = node[index % len(node)] if isinstance(node[index % len(node)], dict) else node
            break
    if isinstance(node, dict) and node:
        key = sorted(node)[data.draw(st.integers(0, 100)) % len(node)]
        if data.draw(st.booleans()):
            del node[key]
        else:
            node[key] = data.draw(_json)
    with contextlib.suppress(InvalidInput):
        parse_spec(damaged)
