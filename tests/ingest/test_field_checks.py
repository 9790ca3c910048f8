"""The ingest fast path (per-batch field plans) against the full checks it stands in for."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from support import REPO_EXAMPLES
from twinops.config import Settings
from twinops.errors import InvalidInput
from twinops.ingest.field_checks import plan_field, value_acceptor
from twinops.ingest.pipeline import _BatchChecker
from twinops.ingest.units import conversion, convert
from twinops.models.dtdl import (
    DtdlSource,
    EnumSchema,
    EnumValue,
    PrimitiveSchema,
    Schema,
    Telemetry,
    load_paths,
    validate_value,
)
from twinops.platform import Platform
from twinops.state.entities import AcceptedPoint, Rejected

PUMP = "dtmi:twinops:example:Pump;1"
STATION = "dtmi:twinops:example:PumpStation;1"
MIXED = "dtmi:test:Mixed;1"
T0_TEXT = "2026-01-01T00:00:00.250Z"

# Every unit the examples and the ingest benchmark send, with the DTDL unit they arrive for,
# and a few pairs that convert() refuses.
UNIT_PAIRS: list[tuple[str | None, str | None]] = [
    ("psi", "kilopascal"),
    ("kPa", "kilopascal"),
    ("bar", "kilopascal"),
    ("kilopascal", "kilopascal"),
    ("gal/min", "cubicMetrePerHour"),
    ("gpm", "cubicMetrePerHour"),
    ("m³/h", "cubicMetrePerHour"),
    ("l/min", "cubicMetrePerHour"),
    ("°F", "degreeCelsius"),
    ("degF", "degreeCelsius"),
    ("°C", "degreeCelsius"),
    ("K", "degreeCelsius"),
    ("°C", "kelvin"),
    ("°F", "kelvin"),
    ("rpm", "revolutionPerMinute"),
    ("rpm", "radianPerSecond"),
    ("g", "gForce"),
    ("A", "ampere"),
    ("V", "volt"),
    ("kW", "kilowatt"),
    ("hp", "kilowatt"),
    ("mm", "metre"),
    ("mm", "millimetre"),
    (None, "kilopascal"),
    (None, None),
    ("1", None),
    ("%", None),
    ("psi", None),
    ("kg", "kilopascal"),
    ("nope", "kilopascal"),
    ("", "kilopascal"),
    (None, "notAUnit"),
]
EDGE_VALUES: list[float | int] = [
    -0.0,
    0.0,
    1.0,
    -1.0,
    -40.0,
    32.0,
    212.0,
    123.456,
    1e-300,
    5e-324,
    -5e-324,
    1e300,
    -1e308,
    1.7976931348623157e308,
    math.nan,
    math.inf,
    -math.inf,
    7,
    -273,
    2**53 + 1,
    10**20,
]


def _bits(value: float) -> str:
    """Bit-exact identity of a float (-0.0 and NaN included)."""
    return value.hex()


def _convert_outcome(value: float, source: str | None, target: str | None) -> tuple[Any, ...]:
    try:
        return ("ok", _bits(convert(value, source, target)))
    except InvalidInput as exc:
        v = exc.violations[0]
        return ("refused", v.field, v.rule, v.message)


@pytest.mark.parametrize(("source", "target"), UNIT_PAIRS)
def test_cached_conversion_matches_convert_for_every_example_unit(
    source: str | None, target: str | None
) -> None:
    try:
        affine = conversion(source, target)
    except InvalidInput as exc:
        refused = exc.violations[0]
        for value in EDGE_VALUES:  # convert refuses every number, with the same words
            words = ("refused", refused.field, refused.rule, refused.message)
            assert _convert_outcome(float(value), source, target) == words
        return
    for value in [*EDGE_VALUES, *(x / 7 for x in range(-1000, 1000, 13))]:
        x = float(value)
        fast = x if affine is None else x * affine.scale + affine.offset
        expected = _convert_outcome(x, source, target)
        if math.isfinite(fast):
            assert expected == ("ok", _bits(fast)), (value, source, target)
        else:  # the fast path hands these to the full checks, which refuse them
            assert expected[:3] == ("refused", "value", "finite")


def test_identity_conversion_keeps_negative_zero_but_a_spelled_unit_does_not() -> None:
    # convert() skips the arithmetic only for the identity map; the plan must do the same.
    assert conversion(None, "kilopascal") is None
    assert conversion("kilopascal", "kilopascal") is None
    spelled = conversion("kPa", "kilopascal")
    assert spelled is not None
    assert _bits(convert(-0.0, "kPa", "kilopascal")) == _bits(-0.0 * spelled.scale + spelled.offset)
    assert _bits(convert(-0.0, None, "kilopascal")) == _bits(-0.0)


# -- the value acceptors ------------------------------------------------------------------------

SCHEMAS: list[Schema] = [
    *(
        PrimitiveSchema(name)
        for name in (
            "double",
            "float",
            "integer",
            "long",
            "boolean",
            "string",
            "date",
            "dateTime",
            "duration",
            "time",
            "point",
        )
    ),
    EnumSchema(PrimitiveSchema("integer"), (EnumValue("one", 1), EnumValue("two", 2))),
    EnumSchema(PrimitiveSchema("string"), (EnumValue("on", "on"), EnumValue("off", "off"))),
]
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(-(2**64), 2**64)
    | st.sampled_from([2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 2**63 - 1, 2**63, 2**1023])
    | st.floats()
    | st.sampled_from([3.4028235e38, 3.4028236e38, -3.4028235e38, 1e308, math.inf, math.nan])
    | st.text(max_size=12)
    | st.sampled_from(["on", "2026-01-31", "PT5M", "12:00:00Z", "2026-01-31T12:00:00Z"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=5,
)


@settings(max_examples=1500, deadline=None)
@given(schema=st.sampled_from(SCHEMAS), value=json_values)
@example(schema=PrimitiveSchema("double"), value=2**1100)  # validate_value's isfinite overflows
@example(schema=PrimitiveSchema("float"), value=2**200)
def test_acceptor_says_yes_only_to_values_validate_value_accepts(
    schema: Schema, value: Any
) -> None:
    if value_acceptor(schema)(value):
        assert validate_value(schema, value, "/value") == []


@settings(max_examples=300, deadline=None)
@given(value=st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**62), 2**62))
def test_double_acceptor_takes_every_finite_number(value: float) -> None:
    # Else the common telemetry point would fall back to the slow path.
    assert value_acceptor(PrimitiveSchema("double"))(value)


def test_float_acceptor_stops_at_the_float_range() -> None:
    accepts = value_acceptor(PrimitiveSchema("float"))
    assert accepts(3.4028235e38) and accepts(-3.4028235e38) and accepts(12)
    assert not accepts(3.4028236e38) and not accepts(math.nan) and not accepts(True)


def test_no_plan_for_a_refused_unit_so_the_full_checks_word_it() -> None:
    pressure = Telemetry("p", PrimitiveSchema("double"), unit="kilopascal")
    assert plan_field(pressure, "kg") is None
    assert plan_field(pressure, "") is None
    plan = plan_field(pressure, "psi")
    assert plan is not None and plan.converts and plan.affine is not None
    unitless = plan_field(Telemetry("n", PrimitiveSchema("integer")), None)
    assert unitless is not None and not unitless.converts


# -- the pipeline: fast path against full path ----------------------------------------------------

MIXED_MODEL = {
    "@context": ["dtmi:dtdl:context;3", "dtmi:dtdl:extension:quantitativeTypes;1"],
    "@id": MIXED,
    "@type": "Interface",
    "contents": [
        {"@type": ["Telemetry", "Pressure"], "name": "p", "schema": "double", "unit": "kilopascal"},
        {"@type": ["Telemetry", "Pressure"], "name": "pf", "schema": "float", "unit": "kilopascal"},
        {"@type": ["Telemetry", "Temperature"], "name": "t", "schema": "double", "unit": "kelvin"},
        {"@type": "Telemetry", "name": "x", "schema": "double"},
        {"@type": "Telemetry", "name": "f", "schema": "float"},
        {"@type": "Telemetry", "name": "n", "schema": "integer"},
        {"@type": "Telemetry", "name": "big", "schema": "long"},
        {"@type": "Telemetry", "name": "on", "schema": "boolean"},
        {"@type": "Telemetry", "name": "s", "schema": "string"},
        {"@type": "Telemetry", "name": "day", "schema": "date"},
        {
            "@type": "Telemetry",
            "name": "mode",
            "schema": {
                "@type": "Enum",
                "valueSchema": "integer",
                "enumValues": [
                    {"name": "off", "enumValue": 0},
                    {"name": "on", "enumValue": 1},
                ],
            },
        },
        {"@type": "Property", "name": "setpoint", "schema": "double", "writable": True},
    ],
}
NAMES = ["p", "pf", "t", "x", "f", "n", "big", "on", "s", "day", "mode", "setpoint"]
PUMP_NAMES = ["flowRate", "dischargePressure", "fluidTemperature", "speed", "vibration"]
MOTOR_NAMES = ["motor.current", "motor.voltage", "motor.power", "motor.windingTemperature"]
UNITS = sorted({u for pair in UNIT_PAIRS for u in pair if u is not None})


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    folder: Path = tmp_path_factory.mktemp("plans")
    platform = Platform.open(Settings(data_dir=folder))
    tenant = platform.settings.default_tenant
    sources = [*load_paths([REPO_EXAMPLES / "models"]), DtdlSource(name="mixed", obj=MIXED_MODEL)]
    platform.models.upload(tenant, sources)
    for twin, model in (("m1", MIXED), ("m2", MIXED), ("pump1", PUMP), ("st1", STATION)):
        platform.twins.put(tenant, twin, {"$metadata": {"$model": model}})
    yield platform
    platform.close()


def _checker(platform: Platform, batch: list[Any]) -> _BatchChecker:
    tenant = platform.settings.default_tenant
    checker = _BatchChecker(tenant, platform.twins, platform.models, "test")
    checker.prefetch(batch)
    return checker


def _outcome(check: Any, raw: Any) -> tuple[Any, ...]:
    """What a check answers, with floats compared bit for bit; an exception is an outcome too."""
    try:
        found = check(raw)
    except Exception as exc:  # the full path's crashes must be the fast path's crashes
        return ("raised", type(exc).__name__, str(exc))
    if isinstance(found, AcceptedPoint):
        value = found.value
        shown = (type(value).__name__, value.hex() if type(value) is float else repr(value))
        return ("accepted", found.twin_id, found.name, found.event_time, shown, found.source,
                found.message_id, found.flags)  # fmt: skip
    assert isinstance(found, Rejected)
    return ("rejected", found.source, repr(found.payload), found.field, found.rule, found.reason,
            found.twin_id, found.name)  # fmt: skip


numbers = (
    st.floats()
    | st.integers(-(2**40), 2**40)
    | st.sampled_from([-0.0, 2**31, 2**63, 2**1100, 3.4028236e38, 1e308, 1.7976931348623157e308])
)
raw_points = st.fixed_dictionaries(
    {
        "twin": st.sampled_from(["m1", "m2", "pump1", "st1", "ghost", ""]) | st.integers(),
        "name": st.sampled_from([*NAMES, *PUMP_NAMES, *MOTOR_NAMES, "inletPressure", "nope", ""]),
        "value": numbers | st.booleans() | st.none() | st.text(max_size=10) | st.lists(numbers),
        "time": st.sampled_from([T0_TEXT, "2026-13-01T00:00:00Z", "1767225600", "soon", ""])
        | st.floats()
        | st.integers(-(2**70), 2**70)
        | st.none(),
    },
    optional={
        "unit": st.sampled_from(UNITS) | st.none() | st.integers() | st.lists(st.text()),
        "id": st.text(max_size=3) | st.text(min_size=250, max_size=260) | st.integers(),
        "externalId": st.fixed_dictionaries({"system": st.just("x"), "id": st.just("y")}),
        "extra": st.none(),
    },
)
NO_UNIT: list[str | None] = [None]
# Points that name a field of their twin in a unit it may take: most of them are accepted.
FIELDS: list[tuple[str, str, list[str | None]]] = [
    ("m1", "p", ["psi", "kPa", "bar", "kilopascal", "kg", None]),
    ("m2", "pf", ["psi", "kPa", None]),
    ("m1", "t", ["°C", "°F", "degF", "K", None]),
    ("m2", "x", ["1", "%", "psi", None]),
    *((twin, name, NO_UNIT) for twin in ("m1", "m2") for name in NAMES[4:]),
    ("pump1", "flowRate", ["m³/h", "gal/min", "gpm", "l/min", None]),
    ("pump1", "dischargePressure", ["psi", "kPa", None]),
    ("pump1", "motor.windingTemperature", ["°C", "°F", "K", None]),
    ("pump1", "motor.power", ["kW", "hp", None]),
    ("pump1", "speed", ["rpm", None]),
    ("pump1", "vibration", ["g", None]),
    ("st1", "inletPressure", ["psi", "kPa", "bar", None]),
]
plausible_values = st.one_of(
    st.floats(-1e6, 1e6),
    st.floats(-1e6, 1e6),
    st.integers(-(2**33), 2**33),
    numbers,
    st.booleans() | st.sampled_from([0, 1, "ok", "2026-01-31", None]),
)


@st.composite
def plausible_points(draw: st.DrawFn) -> dict[str, Any]:
    twin, name, units = draw(st.sampled_from(FIELDS))
    point: dict[str, Any] = {"twin": twin, "name": name, "value": draw(plausible_values)}
    point["time"] = draw(st.sampled_from([T0_TEXT, T0_TEXT, 1767225600.25, 1767225600, "soon"]))
    unit = draw(st.sampled_from(units))
    if unit is not None:
        point["unit"] = unit
    if draw(st.booleans()):
        point["id"] = draw(st.text(min_size=1, max_size=4) | st.sampled_from(["", "x" * 257]))
    return point


batches = st.lists(
    st.one_of(
        plausible_points(),
        plausible_points(),
        plausible_points(),
        raw_points | st.none() | st.integers() | st.lists(st.none()),
    ),
    max_size=12,
)


@settings(
    max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=batches)
def test_fast_and_full_paths_give_the_same_outcome(plant: Platform, batch: list[Any]) -> None:
    fast, full = _checker(plant, batch), _checker(plant, batch)
    for raw in batch:
        assert _outcome(fast.check, raw) == _outcome(full._check_full, raw), raw


def _common_points() -> list[dict[str, Any]]:
    """Points as the example devices send them: every unit habit, text or epoch times, ids."""
    points: list[dict[str, Any]] = []
    for unit, value in ((None, 151.25), ("m³/h", 151.25), ("gal/min", 666.0), ("gpm", 666)):
        points.append({"twin": "pump1", "name": "flowRate", "value": value, "unit": unit})
    for unit in (None, "kPa", "psi", "bar"):
        points.append({"twin": "st1", "name": "inletPressure", "value": 42.5, "unit": unit})
    for unit in (None, "°C", "°F", "degF", "K"):
        points.append({"twin": "pump1", "name": "motor.windingTemperature", "value": 300.0,
                       "unit": unit})  # fmt: skip
    points.append({"twin": "pump1", "name": "speed", "value": 1480.5, "unit": "rpm"})
    points.append({"twin": "pump1", "name": "vibration", "value": 0.15, "unit": "g"})
    points.append({"twin": "m1", "name": "n", "value": 7})
    points.append({"twin": "m1", "name": "s", "value": "ok", "id": "msg-1"})
    points.append({"twin": "m1", "name": "on", "value": False})
    points.append({"twin": "m1", "name": "x", "value": -0.0})
    for i, point in enumerate(points):
        point["time"] = T0_TEXT if i % 2 else 1767225600.25
        if point.get("unit", "") is None:
            del point["unit"]
    return points


def test_points_as_devices_send_them_never_take_the_full_path(
    plant: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    points = _common_points()
    expected = [_outcome(_checker(plant, points)._check_full, p) for p in points]
    checker = _checker(plant, points)

    def full(raw: Any) -> AcceptedPoint | Rejected:
        raise AssertionError(f"took the full path: {raw}")

    monkeypatch.setattr(checker, "_check_full", full)
    assert [_outcome(checker.check, p) for p in points] == expected
    assert all(o[0] == "accepted" for o in expected)


def test_a_point_the_fast_path_doubts_gets_the_full_paths_rejection(plant: Platform) -> None:
    raw = {"twin": "st1", "name": "inletPressure", "value": 1e308, "unit": "psi", "time": T0_TEXT}
    found = _checker(plant, [raw]).check(raw)
    assert isinstance(found, Rejected)
    assert (found.field, found.rule) == ("value", "finite")
    assert found.reason == "value is not a finite number converting psi to kilopascal"


def test_prefetch_resolves_each_model_once_per_batch(
    plant: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    resolved: list[str] = []
    real = plant.models.resolve

    def counting(tenant: str, dtmi: str) -> Any:
        resolved.append(dtmi)
        return real(tenant, dtmi)

    monkeypatch.setattr(plant.models, "resolve", counting)
    batch = [{"twin": t, "name": "x"} for t in ("m1", "m2", "m1", "pump1", "ghost")]
    checker = _checker(plant, batch)
    assert sorted(resolved) == [MIXED, PUMP]
    assert checker._model_of["m1"] is checker._model_of["m2"] is not None
    assert checker._model_of["ghost"] is None


def test_a_twin_moved_to_another_model_is_checked_against_it_in_the_next_batch(
    tmp_path: Path,
) -> None:
    platform = Platform.open(Settings(data_dir=tmp_path / "data"))
    try:
        tenant = platform.settings.default_tenant
        platform.models.upload(tenant, [DtdlSource(name="mixed", obj=MIXED_MODEL)])
        other = {**MIXED_MODEL, "@id": "dtmi:test:Other;1", "contents": [
            {"@type": "Telemetry", "name": "only", "schema": "double"}]}  # fmt: skip
        platform.models.upload(tenant, [DtdlSource(name="other", obj=other)])
        platform.twins.put(tenant, "w1", {"$metadata": {"$model": MIXED}})
        point = {"twin": "w1", "name": "only", "value": 1.5, "time": T0_TEXT}
        first = platform.ingest.ingest(tenant, [point], source="test")
        platform.twins.put(tenant, "w1", {"$metadata": {"$model": "dtmi:test:Other;1"}})
        second = platform.ingest.ingest(tenant, [point], source="test")
        assert (first.result.accepted, first.errors[0]["rule"]) == (0, "fieldDefined")
        assert second.result.accepted == 1
    finally:
        platform.close()
