"""One contract suite for the SQL stores, run against SQLite and a real PostgreSQL server."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from twinops.errors import Conflict
from twinops.models.entities import StoredModel
from twinops.security.entities import AuditEntry
from twinops.state.entities import AcceptedPoint, PointFlag
from twinops.state.retention import RetentionPolicy
from twinops.state.retention_store import HistoryCut
from twinops.storage import Database
from twinops.storage.events import SqlEventStore
from twinops.storage.sql_models import SqlModelStore
from twinops.storage.sql_retention import SqlRetentionStore
from twinops.storage.sql_security import SqlSecurityStore
from twinops.storage.sql_state import SqlStateStore
from twinops.storage.sql_twins import SqlTwinStore
from twinops.twins.entities import EventType, ExternalId, NewEvent, Relationship, Twin


def model(tenant: str, dtmi: str, version: int = 1) -> StoredModel:
    base = dtmi.rsplit(";", 1)[0]
    return StoredModel(tenant, dtmi, base, version, {"@id": dtmi}, f"hash-{dtmi}", 1_000)


def twin(tenant: str, twin_id: str, model_id: str = "dtmi:x:A;1", **contents: object) -> Twin:
    return Twin(tenant, twin_id, model_id, f'W/"{twin_id}"', contents, {}, 10, 10)


def rel(tenant: str, source: str, rel_id: str, target: str, name: str = "r") -> Relationship:
    return Relationship(tenant, source, rel_id, name, target, {"w": 1}, 'W/"r"', 10, 10)


def test_model_round_trips_with_its_document(database: Database, tenant: str) -> None:
    store = SqlModelStore(database)
    with store.transaction() as tx:
        tx.add(model(tenant, "dtmi:x:A;1"), frozenset({"dtmi:x:A;1"}))
    stored = store.get(tenant, "dtmi:x:A;1")
    assert stored == model(tenant, "dtmi:x:A;1")
    assert store.get(tenant, "dtmi:x:B;1") is None


def test_latest_before_finds_the_newest_older_version(database: Database, tenant: str) -> None:
    store = SqlModelStore(database)
    with store.transaction() as tx:
        for version in (1, 2, 5):
            tx.add(model(tenant, f"dtmi:x:A;{version}", version), frozenset())
    found = store.latest_before(tenant, "dtmi:x:A", 5)
    assert found is not None and found.version == 2
    assert store.latest_before(tenant, "dtmi:x:A", 1) is None


def test_dependents_lists_models_extending_a_model(database: Database, tenant: str) -> None:
    store = SqlModelStore(database)
    with store.transaction() as tx:
        tx.add(model(tenant, "dtmi:x:Base;1"), frozenset({"dtmi:x:Base;1"}))
        tx.add(model(tenant, "dtmi:x:Sub;1"), frozenset({"dtmi:x:Sub;1", "dtmi:x:Base;1"}))
        assert tx.dependents(tenant, "dtmi:x:Base;1") == ["dtmi:x:Sub;1"]
        assert tx.dependents(tenant, "dtmi:x:Sub;1") == []


def test_failed_transaction_writes_nothing(database: Database, tenant: str) -> None:
    store = SqlModelStore(database)
    with pytest.raises(IntegrityError), store.transaction() as tx:
        tx.add(model(tenant, "dtmi:x:A;1"), frozenset())
        tx.append_event(NewEvent(tenant, EventType.MODEL_UPLOADED, "dtmi:x:A;1", 1))
        tx.add(model(tenant, "dtmi:x:A;1"), frozenset())
    assert store.get(tenant, "dtmi:x:A;1") is None
    assert SqlEventStore(database).list_events(tenant) == []


def test_twin_insert_update_delete(database: Database, tenant: str) -> None:
    store = SqlTwinStore(database)
    with store.transaction() as tx:
        tx.insert_twin(twin(tenant, "a", size=1))
    with store.transaction() as tx:
        current = tx.get_twin(tenant, "a", lock=True)
        assert current is not None and current.contents == {"size": 1}
        tx.update_twin(twin(tenant, "a", size=2))
    updated = store.get_twin(tenant, "a")
    assert updated is not None and updated.contents == {"size": 2}
    with store.transaction() as tx:
        tx.delete_twin(tenant, "a")
    assert store.get_twin(tenant, "a") is None


def test_listing_twins_pages_through_every_twin_once(database: Database, tenant: str) -> None:
    store = SqlTwinStore(database)
    ids = [f"twin-{i:03d}" for i in range(57)]
    with store.transaction() as tx:
        tx.insert_twins(
            [twin(tenant, i, "dtmi:x:B;1" if n % 2 else "dtmi:x:A;1") for n, i in enumerate(ids)]
        )
    seen: list[str] = []
    cursor = None
    while True:
        page = store.list_twins(tenant, limit=10, after=cursor)
        seen.extend(t.twin_id for t in page.items)
        if page.next is None:
            break
        cursor = page.next
    assert seen == ids
    only_b = store.list_twins(tenant, model="dtmi:x:B;1", limit=100)
    assert len(only_b.items) == 28 and only_b.next is None


def test_relationships_are_listed_from_both_ends(database: Database, tenant: str) -> None:
    store = SqlTwinStore(database)
    with store.transaction() as tx:
        tx.insert_twins([twin(tenant, i) for i in ("a", "b", "c")])
        tx.upsert_relationships([rel(tenant, "a", "a-c", "c"), rel(tenant, "b", "b-c", "c", "s")])
        tx.upsert_relationship(rel(tenant, "a", "a-b", "b"))
        assert tx.count_relationships(tenant, "c") == 2
        assert tx.count_named(tenant, "a", "r", excluding="a-b") == 1
    outgoing = store.list_relationships(tenant, "a")
    assert [r.relationship_id for r in outgoing.items] == ["a-b", "a-c"]
    incoming = store.list_incoming(tenant, "c", limit=1)
    assert [r.source_id for r in incoming.items] == ["a"]
    rest = store.list_incoming(tenant, "c", limit=1, after=incoming.next)
    assert [r.source_id for r in rest.items] == ["b"] and rest.next is None
    assert store.list_relationships(tenant, "b", name="nope").items == []


def test_upserting_a_relationship_replaces_it(database: Database, tenant: str) -> None:
    store = SqlTwinStore(database)
    with store.transaction() as tx:
        tx.insert_twins([twin(tenant, i) for i in ("a", "b", "c")])
        tx.upsert_relationship(rel(tenant, "a", "x", "b"))
        tx.upsert_relationship(rel(tenant, "a", "x", "c"))
    found = store.get_relationship(tenant, "a", "x")
    assert found is not None and found.target_id == "c"


def test_external_id_maps_to_one_twin_and_can_be_remapped(database: Database, tenant: str) -> None:
    store = SqlTwinStore(database)
    with store.transaction() as tx:
        tx.insert_twins([twin(tenant, "a"), twin(tenant, "b")])
        tx.put_external_id(ExternalId(tenant, "historian", "TAG.1", "a", 5))
        tx.put_external_id(ExternalId(tenant, "historian", "TAG.1", "b", 6))
    assert store.resolve_external_id(tenant, "historian", "TAG.1") == "b"
    assert store.list_external_ids(tenant, "a") == []
    with store.transaction() as tx:
        tx.delete_twin(tenant, "b")
    assert store.resolve_external_id(tenant, "historian", "TAG.1") is None


def test_events_come_back_in_append_order(database: Database, tenant: str) -> None:
    store, events = SqlTwinStore(database), SqlEventStore(database)
    with store.transaction() as tx:
        tx.append_events(
            [NewEvent(tenant, EventType.TWIN_CREATED, f"t{i}", i, {"i": i}) for i in range(5)]
        )
    listed = events.list_events(tenant)
    assert [e.subject for e in listed] == [f"t{i}" for i in range(5)]
    assert [e.seq for e in listed] == sorted(e.seq for e in listed)
    after = events.list_events(tenant, after_seq=listed[2].seq)
    assert [e.subject for e in after] == ["t3", "t4"]
    assert [e.subject for e in events.list_events(tenant, subject="t1")] == ["t1"]


def test_a_tenant_never_sees_another_tenants_rows(database: Database, tenant: str) -> None:
    other = tenant + "-other"
    models, twins, events = SqlModelStore(database), SqlTwinStore(database), SqlEventStore(database)
    with models.transaction() as tx:
        tx.add(model(other, "dtmi:x:A;1"), frozenset({"dtmi:x:A;1"}))
    with twins.transaction() as tx:
        tx.insert_twins([twin(other, "a"), twin(other, "b")])
        tx.upsert_relationship(rel(other, "a", "x", "b"))
        tx.put_external_id(ExternalId(other, "s", "1", "a", 1))
        tx.append_event(NewEvent(other, EventType.TWIN_CREATED, "a", 1))
        assert tx.get_twin(tenant, "a") is None
        assert tx.model_state(tenant, "dtmi:x:A;1") is None
    assert models.get(tenant, "dtmi:x:A;1") is None
    assert models.list_models(tenant) == []
    assert twins.get_twin(tenant, "a") is None
    assert twins.list_twins(tenant).items == []
    assert twins.get_relationship(tenant, "a", "x") is None
    assert twins.list_incoming(tenant, "b").items == []
    assert twins.resolve_external_id(tenant, "s", "1") is None
    assert events.list_events(tenant) == []


def test_inserting_an_existing_twin_id_is_a_conflict(database: Database, tenant: str) -> None:
    store = SqlTwinStore(database)
    with store.transaction() as tx:
        tx.insert_twin(twin(tenant, "a"))
    with pytest.raises(Conflict), store.transaction() as tx:
        tx.insert_twins([twin(tenant, "b"), twin(tenant, "a")])
    assert store.get_twin(tenant, "b") is None


# -- telemetry flags and retention -------------------------------------------------------------

T0 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z in µs
SECOND = 1_000_000


def points(
    twin_id: str, name: str, count: int, flags: PointFlag = PointFlag.NONE
) -> list[AcceptedPoint]:
    return [
        AcceptedPoint(twin_id, name, T0 + i * SECOND, float(i), "test", flags=flags)
        for i in range(count)
    ]


def test_history_keeps_each_points_flags_and_counts_very_late_ones(
    database: Database, tenant: str
) -> None:
    store = SqlStateStore(database)
    flagged = points("a", "x", 2, flags=PointFlag.VERY_LATE)
    result = store.apply(tenant, [*flagged, *points("a", "y", 1)], [], T0 + 7200 * SECOND)
    assert (result.accepted, result.very_late) == (3, 2)
    again = store.apply(tenant, flagged, [], T0 + 7200 * SECOND)
    assert (again.duplicates, again.very_late) == (2, 0)
    page = store.history(tenant, "a", "x", start=None, end=None, limit=10)
    assert [s.flags for s in page.items] == [PointFlag.VERY_LATE, PointFlag.VERY_LATE]
    (unflagged,) = store.history(tenant, "a", "y", start=None, end=None, limit=10).items
    assert unflagged.flags == PointFlag.NONE
    (quality,) = store.quality(tenant, "a")
    assert (quality.accepted, quality.duplicates, quality.very_late) == (3, 2, 2)


def audit_actions(database: Database, tenant: str) -> list[str]:
    return [r.action for r in SqlSecurityStore(database).list_audit(tenant)]


def test_retention_policies_replace_the_whole_list_audited_per_tenant(
    database: Database, tenant: str
) -> None:
    store, other = SqlRetentionStore(database), tenant + "-other"
    first = [RetentionPolicy("*", "*", 86400), RetentionPolicy("dtmi:x:A;1", "t", 3600)]
    store.replace_policies(
        tenant, first, 5, AuditEntry(tenant, "me", "RetentionPoliciesSet", "r", 5)
    )
    assert store.policies(tenant) == first
    second = [RetentionPolicy("dtmi:x:A;1", "*", 7200)]
    store.replace_policies(
        tenant, second, 6, AuditEntry(tenant, "me", "RetentionPoliciesSet", "r", 6)
    )
    assert store.policies(tenant) == second
    assert store.policies(other) == []
    assert tenant in store.policy_tenants() and other not in store.policy_tenants()
    assert audit_actions(database, tenant) == ["RetentionPoliciesSet", "RetentionPoliciesSet"]
    store.replace_policies(tenant, [], 7, AuditEntry(tenant, "me", "RetentionPoliciesSet", "r", 7))
    assert tenant not in store.policy_tenants()


def test_history_fields_page_with_their_twins_model(database: Database, tenant: str) -> None:
    twins_store, state = SqlTwinStore(database), SqlStateStore(database)
    with twins_store.transaction() as tx:
        tx.insert_twins([twin(tenant, "a", "dtmi:x:A;1"), twin(tenant, "b", "dtmi:x:B;1")])
    batch = [*points("a", "x", 1), *points("a", "y", 1), *points("b", "x", 1)]
    state.apply(tenant, [*batch, *points("gone", "x", 1)], [], T0)
    state.apply(tenant + "-other", points("a", "z", 1), [], T0)
    store = SqlRetentionStore(database)
    first = store.history_fields(tenant, after=None, limit=3)
    rest = store.history_fields(tenant, after=(first[-1].twin_id, first[-1].name), limit=3)
    assert [(f.twin_id, f.name, f.model) for f in first + rest] == [
        ("a", "x", "dtmi:x:A;1"),
        ("a", "y", "dtmi:x:A;1"),
        ("b", "x", "dtmi:x:B;1"),
        ("gone", "x", None),
    ]


def test_ancestors_include_the_model_itself(database: Database, tenant: str) -> None:
    with SqlModelStore(database).transaction() as tx:
        tx.add(model(tenant, "dtmi:x:Base;1"), frozenset({"dtmi:x:Base;1"}))
        tx.add(model(tenant, "dtmi:x:Sub;1"), frozenset({"dtmi:x:Sub;1", "dtmi:x:Base;1"}))
    found = SqlRetentionStore(database).ancestors(tenant, ["dtmi:x:Sub;1", "dtmi:x:Nope;1"])
    assert found == {"dtmi:x:Sub;1": frozenset({"dtmi:x:Sub;1", "dtmi:x:Base;1"})}
    assert SqlRetentionStore(database).ancestors(tenant + "-other", ["dtmi:x:Sub;1"]) == {}


def test_retention_deletes_in_bounded_chunks_and_never_the_current_value(
    database: Database, tenant: str
) -> None:
    state, store = SqlStateStore(database), SqlRetentionStore(database)
    state.apply(tenant, [*points("a", "x", 25), *points("a", "y", 3)], [], T0)
    state.apply(tenant + "-other", points("a", "x", 25), [], T0)
    everything = T0 + 3600 * SECOND
    cuts = [HistoryCut("a", "x", everything), HistoryCut("a", "y", T0 + 2 * SECOND)]
    deleted = store.delete_history(tenant, cuts, chunk_rows=4)
    assert deleted == {"x": 24, "y": 2}
    kept = state.history(tenant, "a", "x", start=None, end=None, limit=100).items
    assert [s.time for s in kept] == [T0 + 24 * SECOND]  # the current value stays in history
    assert state.current(tenant, "a")["x"].value == 24.0
    assert len(state.history(tenant, "a", "y", start=None, end=None, limit=100).items) == 1
    other = state.history(tenant + "-other", "a", "x", start=None, end=None, limit=100).items
    assert len(other) == 25
    assert store.delete_history(tenant, cuts, chunk_rows=4) == {}
