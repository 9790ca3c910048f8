"""The drift path's batch shortcuts give what the plain path gives, keyed and ordered alike:
the model stepped once for all the rounds of a batch with each twin's own parameters, rounds
found by a sort on streams alone when a batch comes in time order, alert evidence reduced for
many streams at once, and the service selecting its model's twins from a mixed batch."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from support import promote_pump_model
from twinops.config import Settings
from twinops.demo import load_demo
from twinops.fidelity import drift_service
from twinops.fidelity.drift import (
    BatchOutcome,
    BehaviorModelPredictor,
    Cusum,
    DriftMonitor,
    DriftPolicy,
    PageHinkley,
    PersistencePredictor,
    RollingError,
    StepInputs,
)
from twinops.fidelity.drift_predictors import _distinct
from twinops.platform import Platform
from twinops.sim.library.pump import PumpModel
from twinops.sim.model import (
    Arrays,
    FloatArray,
    Input,
    ModelSignature,
    Output,
    Parameter,
    StateVar,
    StepContext,
    VectorModel,
)
from twinops.sim.randomness import MemberNoise
from twinops.state.entities import AcceptedPoint

S = 1_000_000
T0 = 1_700_000_000 * S
POLICY = DriftPolicy(
    detectors=(Cusum(h=4.0), PageHinkley(lambda_=10.0), RollingError(window=10)),
    warmup_points=8,
    cooldown_seconds=0.0,
)
NAMEPLATES = {
    "p0": {"ratedFlow": 80.0, "ratedHead": 40.0, "ratedSpeed": 1450.0},
    "p1": {"ratedFlow": 120.0, "ratedHead": 55.0, "ratedSpeed": 2900.0, "motorRatedPower": 30.0},
    "p2": {"ratedFlow": 95.0, "impellerDiameter": 310.0},
    # p3: no nameplate, the version's parameters and the defaults
}
VERSION = {"wearNoise": 0.0, "initialWear": 0.05}
# Typical values of the pump's fields (its bindings), for made-up telemetry.
LEVELS = {
    "speed": 1450.0,
    "suctionPressure": 120.0,
    "flowRate": 90.0,
    "dischargePressure": 520.0,
    "motor.power": 18.0,
    "motor.current": 32.0,
    "vibration": 0.2,
    "fluidTemperature": 18.0,
    "motor.windingTemperature": 60.0,
}


def _predictor() -> BehaviorModelPredictor:
    return BehaviorModelPredictor(PumpModel(), VERSION, NAMEPLATES)


class RoundByRound:
    """The wrapped predictor without ``groups``: the monitor calls it once per round."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    @property
    def fields(self) -> tuple[str, ...] | None:
        """The wrapped predictor's fields."""
        return self.inner.fields  # type: ignore[no-any-return]

    @property
    def smoothing_seconds(self) -> float:
        """The wrapped predictor's smoothing."""
        return self.inner.smoothing_seconds  # type: ignore[no-any-return]

    def predict(self, inputs: StepInputs) -> Any:
        """The wrapped prediction of one round."""
        assert inputs.group is None
        return self.inner.predict(inputs)


def _telemetry(
    twins: list[str], instants: int, seed: int, *, periods: dict[str, int] | None = None
) -> list[tuple[str, str, int, float]]:
    """Every field of every twin each period (seconds, per twin), noisy around its level;
    p1's flow drops by a fifth halfway (so that detectors alarm). Sorted by time."""
    rng = np.random.default_rng(seed)
    points = []
    for j, twin in enumerate(twins):
        period = (periods or {}).get(twin, 1)
        for k in range(instants):
            for name, level in LEVELS.items():
                value = level * (1.0 + 0.02 * j) * (1.0 + 0.01 * rng.normal())
                if twin == "p1" and name == "flowRate" and k >= instants // 2:
                    value *= 0.8
                points.append((twin, name, T0 + k * period * S, float(value)))
    points.sort(key=lambda p: p[2])
    return points


def _feed(monitor: DriftMonitor, points: list[tuple[str, str, int, Any]]) -> BatchOutcome:
    twins, names, times, values = zip(*points, strict=True)
    return monitor.update(list(twins), list(names), np.array(times), list(values), detail=True)


def _same(a: BatchOutcome, b: BatchOutcome, n: int | None = None) -> None:
    assert a.alerts == b.alerts  # same alerts, in the same order
    assert a.detail is not None and b.detail is not None
    for name in ("predicted", "residual", "z", "alarms", "statistics"):
        np.testing.assert_array_equal(getattr(a.detail, name)[:n], getattr(b.detail, name)[:n])


def assert_monitored_alike(
    got: list[Any], want: list[Any], mixed: Platform, pumps_only: Platform, pumps: Any
) -> DriftMonitor:
    """The same alerts, the same streams (the pumps') and the same statistics per stream;
    the mixed platform's monitor."""
    assert got == want and got
    monitors = [next(iter(p.drift._monitors.values())) for p in (mixed, pumps_only)]
    keys = monitors[0]._stream_keys
    assert keys == monitors[1]._stream_keys and {t for t, _ in keys} == set(pumps)
    for twin, field in keys:
        assert monitors[0].status(twin, field) == monitors[1].status(twin, field)
    return monitors[0]


def _reference(twin: str, snapshot: np.ndarray, field: str, step_s: float) -> float:
    """One model step for one point, from scratch: the twin's own parameters, its states and
    inputs from the snapshot row (their defaults where NaN), the output bound to ``field``."""
    model = PumpModel()
    sig = model.signature
    fields = _predictor().fields
    assert fields is not None
    column = {name: i for i, name in enumerate(fields)}
    values = {p.name: p.default for p in sig.parameters} | VERSION | NAMEPLATES.get(twin, {})
    params = {k: np.array([float(v)]) for k, v in values.items()}
    params |= model.prepare(params, step_s)

    def start(default: float | str, binding: str | None) -> np.ndarray:
        value = float(params[default][0]) if isinstance(default, str) else float(default)
        seen = snapshot[column[binding]] if binding else math.nan
        return np.array([seen if math.isfinite(seen) else value])

    state = {v.name: start(v.initial, v.binding) for v in sig.states}
    inputs = {i.name: start(i.default, i.binding) for i in sig.inputs}
    ctx = StepContext(0, 0.0, step_s, 0, 1, MemberNoise(0, 1), True)
    _, outputs = model.step(ctx, state, inputs, params)
    output = next(o.name for o in sig.outputs if o.binding == field)
    return float(np.broadcast_to(outputs[output], (1,))[0])


def test_each_point_is_predicted_with_its_own_twins_parameters() -> None:
    predictor = _predictor()
    fields = predictor.fields
    assert fields is not None
    twins = ["p3", "p1", "p0", "p2"]  # the monitor's rows: not in name order
    rng = np.random.default_rng(3)
    # Two rounds (one with an unreported input): every field of every twin, rows shuffled.
    rows = np.tile(np.repeat(np.arange(4), len(fields)), 2)
    column = np.tile(np.arange(len(fields)), 8)
    group = np.repeat([0, 1], 4 * len(fields))
    order = rng.permutation(rows.size)
    rows, column, group = rows[order], column[order], group[order]
    # As in a monitor round: a twin's latest values, its point's own field at its previous.
    levels = np.array([LEVELS.get(f, 1.0) for f in fields])
    latest = levels * rng.uniform(0.9, 1.1, (4, 2, len(fields)))
    latest[:, 1, fields.index("suctionPressure")] = np.nan
    previous = levels[column] * rng.uniform(0.9, 1.1, rows.size)
    snapshot = latest[rows, group]
    snapshot[np.arange(rows.size), column] = previous
    dt = np.where(group == 0, 1.0, 2.0)  # a step length per round
    inputs = StepInputs(column, snapshot, previous, previous, dt, rows, twins, True, group)
    got = predictor.predict(inputs)
    outputs = {o.binding for o in PumpModel().signature.outputs if o.binding}
    for i in range(rows.size):
        field = fields[column[i]]
        if field not in outputs:
            assert got[i] == previous[i]
            continue
        # A round's step is the median of its points' dt.
        want = _reference(twins[rows[i]], snapshot[i], field, float(dt[i]))
        assert got[i] == want, (twins[rows[i]], field)
    # Per round, with or without shared steps: the same figures.
    for shared in (True, False):
        for g in (0, 1):
            mine = group == g
            alone = StepInputs(
                column[mine], snapshot[mine], previous[mine], previous[mine], dt[mine],
                rows[mine], twins, shared,
            )  # fmt: skip
            np.testing.assert_array_equal(predictor.predict(alone), got[mine])


@pytest.mark.parametrize("batch", [1, 7, 40, 333])
def test_rounds_predicted_together_match_one_call_per_round(batch: int) -> None:
    # Twins sampled every 1, 2 and 3 s: a batch's rounds then have different step lengths.
    periods = {"p0": 1, "p1": 2, "p2": 3, "p3": 1}
    points = _telemetry(["p0", "p1", "p2", "p3"], 60, seed=5, periods=periods)
    together = DriftMonitor(POLICY, _predictor(), capacity=4)
    apart = DriftMonitor(POLICY, RoundByRound(_predictor()), capacity=4)
    alerts = 0
    for start in range(0, len(points), batch):
        piece = points[start : start + batch]
        outcome = _feed(together, piece)
        _same(outcome, _feed(apart, piece))
        alerts += len(outcome.alerts)
    assert alerts > 0


class Tank(VectorModel):
    """A tank whose predicted level depends on the step length: ``level + dt·(inflow - k·level)``
    (the step's decay prepared from the step length, as models prepare constants)."""

    signature = ModelSignature(
        name="tank",
        version="1",
        parameters=(Parameter("k", None, 0.1, 0.0, 10.0, binding="outletCoefficient"),),
        states=(StateVar("level", None, 1.0, binding="level"),),
        inputs=(Input("inflow", None, 0.0, binding="inflow"),),
        outputs=(Output("level", None, binding="level"), Output("next", None, binding="next")),
    )

    def prepare(self, params: Arrays, dt: float) -> dict[str, FloatArray]:
        """The step length as a parameter."""
        return {"_dt": np.array([dt])}

    def step(
        self, ctx: StepContext, state: Arrays, inputs: Arrays, params: Arrays
    ) -> tuple[dict[str, FloatArray], dict[str, FloatArray]]:
        """The level a step later, also reported as ``next``."""
        level = state["level"]
        following = level + params["_dt"] * (inputs["inflow"] - params["k"] * level)
        return {"level": following}, {"level": level, "next": following}


def test_rounds_with_their_own_step_lengths_are_stepped_apart() -> None:
    rng = np.random.default_rng(9)
    twins = {"a": 1, "b": 2, "c": 3, "d": 5}  # reporting periods, seconds
    points = []
    for twin, period in twins.items():
        for k in range(0, 240, period):
            level = 5.0 + 0.1 * rng.normal() + (1.0 if twin == "b" and k > 120 else 0.0)
            points += [
                (twin, "level", T0 + k * S, level),
                (twin, "inflow", T0 + k * S, 0.5 + 0.05 * rng.normal()),
                (twin, "next", T0 + k * S, level * 0.95),
            ]
    points.sort(key=lambda p: p[2])
    params = {"b": {"k": 0.2}, "d": {"k": 0.05}}
    together = DriftMonitor(POLICY, BehaviorModelPredictor(Tank(), {}, params), capacity=2)
    apart = DriftMonitor(POLICY, RoundByRound(BehaviorModelPredictor(Tank(), {}, params)))
    alerts = 0
    for start in range(0, len(points), 50):
        piece = points[start : start + 50]
        outcome = _feed(together, piece)
        _same(outcome, _feed(apart, piece))
        alerts += len(outcome.alerts)
    assert alerts > 0


def test_time_ordered_batches_find_the_rounds_the_general_sort_finds() -> None:
    points = _telemetry(["p0", "p1", "p2"], 80, seed=6)
    history, batch = points[:600], points[600:1500]
    # A point of p0's speed older than its last: skipped, but the batch is then not in time
    # order and goes through the general sort.
    stale = ("p0", "speed", history[-1][2] - 5 * S, 1500.0)
    for make in (_predictor, PersistencePredictor):
        ordered = DriftMonitor(POLICY, make(), capacity=4)
        general = DriftMonitor(POLICY, make(), capacity=4)
        _same(_feed(ordered, history), _feed(general, history))
        a = _feed(ordered, batch)
        b = _feed(general, [*batch, stale])
        _same(a, b, len(batch))
        assert b.skipped == a.skipped + 1
        assert a.alerts


def test_alert_evidence_is_each_streams_own_reduction() -> None:
    policy = dataclasses.replace(POLICY, evidence_points=500)
    monitor = DriftMonitor(policy, _predictor(), capacity=4)
    # Twins starting at different times: alerts of a round carry evidence of unequal length.
    points = []
    for j, twin in enumerate(["p0", "p1", "p2"]):
        points += [p for p in _telemetry([twin], 120, seed=7 + j) if p[2] >= T0 + 17 * j * S]
    points.sort(key=lambda p: p[2])
    outcome = _feed(monitor, points)
    assert outcome.detail is not None
    counts = {a.evidence.count for a in outcome.alerts}
    assert len(counts) > 3
    residual = outcome.detail.residual
    for alert in outcome.alerts:
        mine = [
            i
            for i, p in enumerate(points)
            if (p[0], p[1]) == (alert.twin, alert.field)
            and p[2] <= alert.time_us
            and math.isfinite(residual[i])
        ]
        values = residual[mine]
        assert alert.evidence.count == values.size
        assert alert.evidence.mean == float(values.mean())
        assert alert.evidence.sd == (float(values.std(ddof=1)) if values.size > 1 else 0.0)
        assert alert.evidence.start_us == points[mine[0]][2]
        assert alert.evidence.end_us == alert.time_us


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 5000), min_size=1, max_size=300), st.booleans())
def test_distinct_keys_are_numbered_like_unique(keys: list[int], sparse: bool) -> None:
    key = np.array(keys, dtype=np.intp)
    span = 10**9 if sparse else 5001
    first, number = _distinct(key, span)
    unique = np.unique(key)
    np.testing.assert_array_equal(key[first], unique)
    np.testing.assert_array_equal(unique[number], key)


# -- the service --------------------------------------------------------------------------------


@pytest.fixture
def platforms(tmp_path: Path) -> Iterator[tuple[Platform, Platform]]:
    built = []
    for name in ("mixed", "pumps"):
        platform = Platform.open(Settings(data_dir=tmp_path / name, jobs_workers=1))
        load_demo(platform, register=False)
        _watch(platform)
        built.append(platform)
    yield built[0], built[1]
    for platform in built:
        platform.close()


def _watch(platform: Platform) -> None:
    tenant = platform.settings.default_tenant
    promote_pump_model(platform, VERSION)
    detectors = [{"kind": d.name} for d in POLICY.detectors]
    policy = {"predictor": "model", "detectors": detectors, "warmupPoints": 8}
    platform.drift.set_policy(tenant, "pump", policy | {"cooldownSeconds": 0}, actor="key:m")


def test_the_service_checks_its_models_twins_in_a_mixed_batch_as_on_their_own(
    platforms: tuple[Platform, Platform],
) -> None:
    mixed, pumps_only = platforms
    tenant = mixed.settings.default_tenant
    twins = mixed.twins.list_twins(tenant, limit=1000).items
    pumps = sorted(t.twin_id for t in twins if t.model.endswith("Pump;1"))
    others = sorted(t.twin_id for t in twins if not t.model.endswith("Pump;1"))
    assert len(pumps) > 4 and others
    # Pumps reporting at their own pace, other twins' points in between, pumps not in order.
    shuffled = list(np.random.default_rng(2).permutation(pumps))
    periods = {t: 1 + i % 3 for i, t in enumerate(shuffled)}
    points = []
    for j, twin in enumerate(shuffled):
        rows = _telemetry(["p1" if j % 4 == 1 else "p0"], 90, seed=j, periods={"p0": 1})
        points += [(twin, f, T0 + (t - T0) * periods[twin], v) for _, f, t, v in rows]
    points += [(t, "reading", T0 + k * S, 1.0 + k) for t in others for k in range(90)]
    points.sort(key=lambda p: p[2])
    accepted = [AcceptedPoint(t, f, ts, v, "test") for t, f, ts, v in points]
    got: list[Any] = []
    want: list[Any] = []
    for start in range(0, len(accepted), 250):
        batch = accepted[start : start + 250]
        got += mixed.drift.observe(tenant, batch)
        want += pumps_only.drift.observe(tenant, [p for p in batch if p.twin_id in pumps])
    assert_monitored_alike(got, want, mixed, pumps_only, pumps)


def test_the_service_asks_about_twins_again_when_their_models_are_read_anew(
    platforms: tuple[Platform, Platform], monkeypatch: pytest.MonkeyPatch
) -> None:
    mixed, pumps_only = platforms
    tenant = mixed.settings.default_tenant
    # The twins' models read anew for every batch; one pump moves to another model halfway.
    monkeypatch.setattr(drift_service, "_POLICY_TTL", 0.0)
    twins = mixed.twins.list_twins(tenant, limit=1000).items
    pumps = sorted(t.twin_id for t in twins if t.model.endswith("Pump;1"))
    others = sorted(t.twin_id for t in twins if not t.model.endswith("Pump;1"))
    moved = pumps[1]
    read = mixed.twins.models_of
    halfway = False

    def models_of(tenant: str, twin_ids: Any) -> dict[str, str]:
        found = read(tenant, twin_ids)
        if halfway and moved in found:
            found[moved] = "dtmi:example:Other;1"
        return found

    monkeypatch.setattr(mixed.twins, "models_of", models_of)
    points = []
    for j, twin in enumerate(pumps):
        rows = _telemetry(["p1" if j % 3 == 1 else "p0"], 60, seed=j)
        points += [(twin, f, t, v) for _, f, t, v in rows]
    points += [
        (t, "reading", T0 + k * S, "text" if k % 7 else 1.0) for t in others for k in range(60)
    ]
    points.sort(key=lambda p: p[2])
    accepted = [AcceptedPoint(t, f, ts, v, "test") for t, f, ts, v in points]
    got: list[Any] = []
    want: list[Any] = []
    for start in range(0, len(accepted), 300):
        halfway = start >= len(accepted) // 2
        batch = accepted[start : start + 300]
        mine = [p for p in batch if p.twin_id in pumps and not (halfway and p.twin_id == moved)]
        got += mixed.drift.observe(tenant, batch)
        want += pumps_only.drift.observe(tenant, mine)
    monitor = assert_monitored_alike(got, want, mixed, pumps_only, pumps)
    # The moved pump's streams stopped halfway.
    counts = {
        twin: status.points
        for (twin, field) in monitor._stream_keys
        if (status := monitor.status(twin, field)) and field == "speed"
    }
    assert counts[moved] < min(n for twin, n in counts.items() if twin != moved)
