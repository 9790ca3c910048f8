"""Retention policies (matching, validation, enforcement) and the lateness bound."""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from support import MACHINE, PUMP, THING, sample_models
from twinops.errors import InvalidInput
from twinops.models.dtdl import DtdlSource
from twinops.platform import Platform
from twinops.security.entities import Principal, Role
from twinops.state.entities import PointFlag
from twinops.state.retention import (
    ANY,
    Lineage,
    RetentionPolicy,
    format_keep,
    most_specific,
    parse_keep,
    parse_policies,
)
from twinops.state.retention_service import RetentionScheduler

SECOND = 1_000_000
HOUR = 3600
DAY = 86400

# -- most specific match: a property test against the definition ------------------------------

MODELS = [f"dtmi:t:M{i};1" for i in range(5)]
FIELDS = ["a", "b", "c"]


@st.composite
def hierarchies(draw: st.DrawFn) -> dict[str, frozenset[str]]:
    """A random `extends` DAG over MODELS (Mi may extend any Mj, j < i), as closures."""
    closure: dict[str, frozenset[str]] = {}
    for i, dtmi in enumerate(MODELS):
        parents = draw(st.sets(st.sampled_from(MODELS[:i]))) if i else set()
        closure[dtmi] = frozenset({dtmi}.union(*(closure[p] for p in parents)))
    return closure


policy_lists = st.lists(
    st.builds(
        RetentionPolicy,
        st.sampled_from([ANY, *MODELS]),
        st.sampled_from([ANY, *FIELDS]),
        st.integers(HOUR, 400 * DAY),
    ),
    max_size=12,
    unique_by=lambda p: (p.model, p.field),
)


def matches(policy: RetentionPolicy, field: str, model: str | None, closure: Any) -> bool:
    model_ok = policy.model == ANY or (model is not None and policy.model in closure[model])
    return model_ok and policy.field in (ANY, field)


def rank(policy: RetentionPolicy) -> int:
    """model+field > model+* > *+field > *+*, as the issue orders them."""
    return {(True, True): 3, (True, False): 2, (False, True): 1, (False, False): 0}[
        (policy.model != ANY, policy.field != ANY)
    ]


@given(
    hierarchies(),
    policy_lists,
    st.sampled_from(FIELDS),
    st.one_of(st.none(), st.sampled_from(MODELS)),
)
def test_the_chosen_policy_is_always_the_most_specific_match(
    closure: dict[str, frozenset[str]],
    policies: list[RetentionPolicy],
    field: str,
    model: str | None,
) -> None:
    lineage = Lineage(model, closure if model else {})
    chosen = most_specific(policies, field, lineage)
    applicable = [p for p in policies if matches(p, field, model, closure)]
    if not applicable:
        assert chosen is None
        return
    assert chosen in applicable
    assert all(rank(other) <= rank(chosen) for other in applicable)
    same = [p for p in applicable if rank(p) == rank(chosen)]

    def nearer(p: RetentionPolicy, q: RetentionPolicy) -> bool:
        """p is on a model that extends q's model (so p is the more specific)."""
        return p.model not in (q.model, ANY) and q.model in closure[p.model]

    # Among the same kind, no other policy's model extends the chosen one's...
    maximal = [p for p in same if not any(nearer(q, p) for q in same)]
    assert chosen in maximal
    # ...and between models that do not extend one another, the longer keep wins.
    assert chosen.keep_seconds == max(p.keep_seconds for p in maximal)


def test_a_subtypes_own_policy_beats_its_base_models() -> None:
    closure = {PUMP: frozenset({PUMP, MACHINE, THING}), MACHINE: frozenset({MACHINE, THING})}
    closure[THING] = frozenset({THING})
    policies = [
        RetentionPolicy(THING, ANY, 30 * DAY),
        RetentionPolicy(PUMP, ANY, 2 * DAY),
        RetentionPolicy(MACHINE, ANY, 9 * DAY),
        RetentionPolicy(ANY, "flow", 1 * DAY),
    ]
    assert most_specific(policies, "flow", Lineage(PUMP, closure)) == policies[1]
    assert most_specific(policies, "flow", Lineage(MACHINE, closure)) == policies[2]
    assert most_specific(policies, "flow", Lineage(None)) == policies[3]
    assert most_specific(policies, "other", Lineage(None)) is None


# -- validation ------------------------------------------------------------------------------


def catalog(tenant: str, dtmi: str) -> frozenset[str] | None:
    return frozenset({"flow", "gearbox.ratio"}) if dtmi == PUMP else None


def test_keep_reads_seconds_and_units_and_prints_the_largest_unit() -> None:
    assert parse_keep(3600, "k") == 3600
    assert parse_keep("36h", "k") == 36 * HOUR
    assert parse_keep("2w", "k") == 14 * DAY
    assert parse_keep(" 90m ", "k") == 90 * 60
    assert [format_keep(s) for s in (14 * DAY, 30 * DAY, 36 * HOUR, 3601)] == [
        "2w",
        "30d",
        "36h",
        "3601s",
    ]


@pytest.mark.parametrize(
    ("policy", "field", "rule"),
    [
        ({"model": PUMP, "field": "flw", "keep": "1d"}, "policies[0].field", "fieldDefined"),
        ({"model": "dtmi:t:Nope;1", "keep": "1d"}, "policies[0].model", "modelExists"),
        ({"model": "Pump", "keep": "1d"}, "policies[0].model", "dtmi"),
        ({"model": "dtmi:t:Pump", "keep": "1d"}, "policies[0].model", "dtmi"),
        ({"field": "flow", "keep": "59m"}, "policies[0].keep", "minimum"),
        ({"field": "flow", "keep": 3599}, "policies[0].keep", "minimum"),
        ({"field": "flow", "keep": "a while"}, "policies[0].keep", "duration"),
        ({"field": "flow", "keep": True}, "policies[0].keep", "duration"),
        ({"field": "flow"}, "policies[0].keep", "required"),
        ({"keep": "1d", "keepSeconds": 7200}, "policies[0].keepSeconds", "consistent"),
        ({"keep": "1d", "colour": "red"}, "policies[0].colour", "unknownKey"),
        ({"field": "", "keep": "1d"}, "policies[0].field", "type"),
        ("1d", "policies[0]", "type"),
    ],
)
def test_a_bad_policy_is_a_422_naming_the_field_and_rule(
    policy: Any, field: str, rule: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_policies("t", {"policies": [policy]}, catalog)
    assert [(v.field, v.rule) for v in caught.value.violations] == [(field, rule)]


def test_every_bad_policy_is_reported_and_duplicates_are_refused() -> None:
    body = [
        {"model": PUMP, "field": "gearbox.ratio", "keep": "1d"},
        {"model": PUMP, "field": "flw", "keep": "1d"},
        {"model": PUMP, "field": "gearbox.ratio", "keepSeconds": 7200},
    ]
    with pytest.raises(InvalidInput) as caught:
        parse_policies("t", body, catalog)
    assert [(v.field, v.rule) for v in caught.value.violations] == [
        ("policies[1].field", "fieldDefined"),
        ("policies[2]", "unique"),
    ]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=15,
)
policy_like = st.fixed_dictionaries(
    {},
    optional={
        "model": st.sampled_from([ANY, PUMP, "dtmi:t:X;1", "x"]) | json_values,
        "field": st.sampled_from([ANY, "flow", "gearbox.ratio", "x"]) | json_values,
        "keep": st.sampled_from(["1h", "30d", "5m", 3600]) | json_values,
    },
)


@given(st.one_of(json_values, st.lists(policy_like | json_values, max_size=5)))
def test_any_json_body_is_policies_or_an_invalid_input(body: Any) -> None:
    try:
        policies = parse_policies("t", body, catalog)
    except InvalidInput as error:
        assert error.violations and all(v.field and v.rule for v in error.violations)
        return
    assert all(p.keep_seconds >= HOUR for p in policies)


def test_a_policy_list_round_trips_through_its_json() -> None:
    policies = parse_policies("t", [{"keep": "30d"}, {"model": PUMP, "keep": 7200}], catalog)
    assert policies == [RetentionPolicy(ANY, ANY, 30 * DAY), RetentionPolicy(PUMP, ANY, 7200)]
    assert parse_policies("t", {"policies": [p.to_json() for p in policies]}, catalog) == policies


# -- enforcement, on both backends -----------------------------------------------------------


def now_us() -> int:
    return time.time_ns() // 1000


def at_age(seconds: float) -> float:
    """An epoch time (s) ``seconds`` ago."""
    return (now_us() - int(seconds * SECOND)) / SECOND


AGES = [HOUR / 2, 1 * DAY, 5 * DAY, 15 * DAY, 25 * DAY, 40 * DAY]


@pytest.fixture
def fleet(platform: Platform, tenant: str) -> Platform:
    sources = [DtdlSource(name=f"m{i}", obj=d) for i, d in enumerate(sample_models())]
    platform.models.upload(tenant, sources)
    platform.twins.put(tenant, "p1", {"$metadata": {"$model": PUMP}})
    platform.twins.put(tenant, "m1", {"$metadata": {"$model": MACHINE}})
    platform.twins.put(tenant, "t1", {"$metadata": {"$model": THING}})
    platform.twins.put(tenant, "gone", {"$metadata": {"$model": THING}})
    series = [("p1", "flow"), ("p1", "ratedFlow"), ("p1", "installed"), ("m1", "installed")]
    series += [("t1", "installed"), ("gone", "installed")]
    batch = [
        {"twin": twin, "name": name, "value": i, "time": at_age(age)}
        for twin, name in series
        for i, age in enumerate(AGES)
    ]
    batch.append({"twin": "t1", "name": "serial", "value": "S-1", "time": at_age(40 * DAY)})
    report = platform.ingest.ingest(tenant, batch, source="test")
    assert report.result.accepted == len(batch), report.errors
    platform.twins.delete(tenant, "gone")
    return platform


POLICIES = [
    {"model": "*", "field": "*", "keep": "30d"},
    {"model": "*", "field": "installed", "keep": "20d"},
    {"model": MACHINE, "field": "*", "keep": "10d"},
    {"model": PUMP, "field": "flow", "keep": "2d"},
]


def kept_ages(platform: Platform, tenant: str, twin: str, name: str) -> int:
    page = platform.state.history(tenant, twin, name, start=None, end=None, limit=100)
    return len(page.items)


def test_retention_deletes_what_the_most_specific_policy_no_longer_keeps(
    fleet: Platform, tenant: str
) -> None:
    fleet.retention.replace(tenant, {"policies": POLICIES}, actor="test")
    run = fleet.retention.apply(tenant, actor="test")
    # Pump flow: its own 2d policy. Machine and (subtype) Pump fields: Machine's 10d beats
    # the '*' field policies. A Thing's installed: 20d. The deleted twin's: 20d ('*' model).
    assert kept_ages(fleet, tenant, "p1", "flow") == 2
    assert kept_ages(fleet, tenant, "p1", "ratedFlow") == 3
    assert kept_ages(fleet, tenant, "p1", "installed") == 3
    assert kept_ages(fleet, tenant, "m1", "installed") == 3
    assert kept_ages(fleet, tenant, "t1", "installed") == 4
    assert kept_ages(fleet, tenant, "gone", "installed") == 4
    assert dict(run.deleted) == {"flow": 4, "ratedFlow": 3, "installed": 3 + 3 + 2 + 2}
    assert run.total == 17 and run.policies == 4
    again = fleet.retention.apply(tenant, actor="test")
    assert again.total == 0


def test_retention_never_deletes_current_state(fleet: Platform, tenant: str) -> None:
    fleet.retention.replace(tenant, [{"keep": "1h"}], actor="test")
    before = fleet.state.current(tenant, "t1")
    fleet.retention.apply(tenant, actor="test")
    assert fleet.state.current(tenant, "t1") == before
    # serial's only point is 40 days old: it is the current value, so history keeps it too.
    assert kept_ages(fleet, tenant, "t1", "serial") == 1
    assert kept_ages(fleet, tenant, "t1", "installed") == 1
    now = fleet.state.as_of(tenant, ["t1"], now_us())["t1"]
    assert {k: v.value for k, v in now.items()} == {k: v.value for k, v in before.items()}


def test_retention_in_small_chunks_deletes_the_same(platform: Platform, tenant: str) -> None:
    from twinops.state.retention_service import RetentionService
    from twinops.storage.sql_retention import SqlRetentionStore

    platform.models.upload(tenant, [DtdlSource(name="m", obj=d) for d in sample_models()])
    platform.twins.put(tenant, "t1", {"$metadata": {"$model": THING}})
    batch = [
        {"twin": "t1", "name": name, "value": i if name == "installed" else str(i)}
        | {"time": at_age(DAY + i)}
        for name, count in (("installed", 57), ("serial", 3))
        for i in range(count)
    ]
    platform.ingest.ingest(tenant, batch, source="test")
    store = SqlRetentionStore(platform.db)
    small = RetentionService(store, lambda t, m: None, chunk_rows=5, page_size=1)
    small.replace(tenant, [{"keep": "1h"}], actor="test")
    # Page by page (one field a page), at most 5 rows a transaction: the same deletes.
    assert small.apply(tenant, actor="test").deleted == {"installed": 56, "serial": 2}


def test_retention_changes_and_runs_are_audited(fleet: Platform, tenant: str) -> None:
    fleet.retention.replace(tenant, {"policies": POLICIES}, actor="key:k1")
    fleet.retention.apply(tenant, actor="key:k2")
    admin = Principal(tenant, "t", Role.ADMIN, None, "local")
    records = fleet.security.list_audit(admin)
    changed, applied = (r for r in records if r.action.startswith("Retention"))
    assert (changed.action, changed.actor) == ("RetentionPoliciesSet", "key:k1")
    assert [p["keep"] for p in changed.details["policies"]] == ["30d", "20d", "10d", "2d"]
    assert (applied.action, applied.actor) == ("RetentionApplied", "key:k2")
    assert applied.details["deleted"] == {"flow": 4, "installed": 10, "ratedFlow": 3}
    assert fleet.security.verify_audit(tenant).intact


def test_retention_leaves_other_tenants_alone(fleet: Platform, tenant: str) -> None:
    other = tenant + "-b"
    fleet.retention.replace(other, [{"keep": "1h"}], actor="test")
    run = fleet.retention.apply(other, actor="test")
    assert run.total == 0
    assert kept_ages(fleet, tenant, "p1", "flow") == len(AGES)
    assert fleet.retention.policies(tenant) == []


def test_the_scheduler_enforces_every_tenant_with_policies(fleet: Platform, tenant: str) -> None:
    fleet.retention.replace(tenant, [{"keep": "1h"}], actor="test")
    scheduler = RetentionScheduler(fleet.retention, 0.05, first_delay_seconds=0)
    assert scheduler.start()
    try:
        deadline = time.monotonic() + 20
        while kept_ages(fleet, tenant, "p1", "flow") > 1 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        scheduler.stop()
    assert kept_ages(fleet, tenant, "p1", "flow") == 1
    assert not RetentionScheduler(fleet.retention, 0).start()  # 0 turns it off


# -- the lateness bound ----------------------------------------------------------------------


def test_points_beyond_the_lateness_bound_are_stored_flagged_and_counted(
    fleet: Platform, tenant: str
) -> None:
    points = [
        {"twin": "t1", "name": "serial", "value": "old", "time": at_age(2 * HOUR)},
        {"twin": "t1", "name": "serial", "value": "new", "time": at_age(10)},
    ]
    report = fleet.ingest.ingest(tenant, points, source="late").to_json()
    assert (report["accepted"], report["veryLate"]) == (2, 1)
    again = fleet.ingest.ingest(tenant, points, source="late").to_json()
    assert (again["duplicates"], again["veryLate"]) == (2, 0)
    history = fleet.state.history(tenant, "t1", "serial", start=None, end=None, limit=10).items
    assert [(s.value, s.flags) for s in history][-2:] == [
        ("old", PointFlag.VERY_LATE),
        ("new", PointFlag.NONE),
    ]
    (quality,) = [q for q in fleet.state.quality(tenant, "t1") if q.source == "late"]
    assert (quality.accepted, quality.very_late) == (2, 1)


def test_a_zero_lateness_bound_flags_nothing(platform: Platform, tenant: str) -> None:
    unbounded = Platform.open(platform.settings.with_overrides(late_after_seconds=0))
    try:
        unbounded.models.upload(tenant, [DtdlSource(name="m", obj=d) for d in sample_models()])
        unbounded.twins.put(tenant, "t1", {"$metadata": {"$model": THING}})
        point = {"twin": "t1", "name": "serial", "value": "x", "time": at_age(400 * DAY)}
        report = unbounded.ingest.ingest(tenant, [point], source="s").to_json()
    finally:
        unbounded.close()
    assert (report["accepted"], report["veryLate"]) == (1, 0)
