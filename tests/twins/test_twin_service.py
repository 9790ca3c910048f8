"""The twin service on both backends: checks against models, ETags, relationships, events."""

from __future__ import annotations

import pytest

from support import GEARBOX, MACHINE, PUMP, ROOM, THING, interface, prop, pump, room, sample_models
from twinops.errors import Conflict, InvalidInput, NotFound, PreconditionFailed
from twinops.models.dtdl import DtdlSource
from twinops.platform import Platform


@pytest.fixture
def graph(platform: Platform) -> Platform:
    tenant = platform.settings.default_tenant
    sources = [DtdlSource(name=f"body[{i}]", obj=d) for i, d in enumerate(sample_models())]
    platform.models.upload(tenant, sources)
    return platform


def rules(exc: pytest.ExceptionInfo[InvalidInput]) -> set[tuple[str, str]]:
    return {(v.field, v.rule) for v in exc.value.violations}


def test_created_twin_reads_back_with_inherited_properties(graph: Platform, tenant: str) -> None:
    body = pump(serial="P-1", status="running", ratedFlow=12.5, gearbox={"ratio": 3.0})
    twin, created = graph.twins.put(tenant, "p1", body)
    assert created
    stored = graph.twins.get(tenant, "p1")
    assert stored.model == PUMP
    assert stored.contents == {
        "serial": "P-1",
        "status": "running",
        "ratedFlow": 12.5,
        "gearbox": {"ratio": 3.0},
    }
    assert stored.etag == twin.etag


def test_point_read_and_batch_read_give_the_stored_twin(graph: Platform, tenant: str) -> None:
    nested = {"ratio": 3.0}
    graph.twins.put(tenant, "p1", pump(serial="P-1", gearbox=nested))
    graph.twins.put(tenant, "p2", pump(serial="P-2", ratedFlow=7.5))
    one = graph.twins.get(tenant, "p1")
    many = graph.twins.get_many(tenant, ["p2", "p1", "p1", "nowhere"])
    assert sorted(many) == ["p1", "p2"]
    assert many["p1"] == one
    assert one.contents["gearbox"] == nested and isinstance(one.created_at, int)
    assert many["p2"].contents == {"serial": "P-2", "ratedFlow": 7.5}
    with pytest.raises(NotFound):
        graph.twins.get(tenant, "nowhere")
    assert graph.twins.get_many(tenant, []) == {}


@pytest.mark.parametrize(
    ("values", "field", "rule"),
    [
        ({"ratedFlow": "fast"}, "/ratedFlow", "type"),
        ({"status": "exploded"}, "/status", "enum"),
        ({"settings": {"speed": "x"}}, "/settings/speed", "type"),
        ({"settings": {"colour": "red"}}, "/settings/colour", "unknownField"),
        ({"tags": {"site": 5}}, "/tags/site", "type"),
        ({"installed": 1.5}, "/installed", "type"),
        ({"nonsense": 1}, "/nonsense", "unknownProperty"),
        ({"flow": 3.0}, "/flow", "notAProperty"),
        ({"gearbox": {"ratio": "high"}}, "/gearbox/ratio", "type"),
    ],
)
def test_property_of_the_wrong_shape_is_rejected_and_nothing_written(
    graph: Platform, tenant: str, values: dict[str, object], field: str, rule: str
) -> None:
    with pytest.raises(InvalidInput) as exc:
        graph.twins.put(tenant, "p1", pump(**values))
    assert (field, rule) in rules(exc)
    with pytest.raises(NotFound):
        graph.twins.get(tenant, "p1")
    assert graph.events.list_events(tenant, subject="p1") == []


def test_unknown_model_and_bad_id_are_named(graph: Platform, tenant: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        graph.twins.put(tenant, "p1", {"$metadata": {"$model": "dtmi:test:Nope;1"}})
    assert ("/$metadata/$model", "modelExists") in rules(exc)
    with pytest.raises(InvalidInput) as exc:
        graph.twins.put(tenant, "-bad id", pump())
    assert ("twinId", "idPattern") in rules(exc)


def test_stale_etag_is_refused_and_current_one_accepted(graph: Platform, tenant: str) -> None:
    first, _ = graph.twins.put(tenant, "p1", pump(ratedFlow=1.0))
    second, created = graph.twins.put(tenant, "p1", pump(ratedFlow=2.0), if_match=first.etag)
    assert not created and second.etag != first.etag
    with pytest.raises(PreconditionFailed):
        graph.twins.patch(
            tenant,
            "p1",
            [{"op": "replace", "path": "/ratedFlow", "value": 3.0}],
            if_match=first.etag,
        )
    assert graph.twins.get(tenant, "p1").contents["ratedFlow"] == 2.0
    with pytest.raises(PreconditionFailed):
        graph.twins.put(tenant, "p1", pump(), if_none_match="*")


def test_patch_is_checked_against_the_model(graph: Platform, tenant: str) -> None:
    graph.twins.put(tenant, "p1", pump(ratedFlow=1.0, settings={"speed": 1.0}))
    patched = graph.twins.patch(
        tenant,
        "p1",
        [
            {"op": "replace", "path": "/settings/speed", "value": 2.5},
            {"op": "add", "path": "/serial", "value": "S"},
            {"op": "remove", "path": "/ratedFlow"},
        ],
    )
    assert patched.contents == {"settings": {"speed": 2.5}, "serial": "S"}
    with pytest.raises(InvalidInput) as exc:
        graph.twins.patch(tenant, "p1", [{"op": "add", "path": "/serial", "value": 5}])
    assert ("/serial", "type") in rules(exc)
    with pytest.raises(InvalidInput) as exc:
        graph.twins.patch(tenant, "p1", [{"op": "remove", "path": "/missing"}])
    assert ("body", "jsonPatch") in rules(exc)
    assert graph.twins.get(tenant, "p1").contents["serial"] == "S"


def test_relationship_checks_name_target_model_and_multiplicity(
    graph: Platform, tenant: str
) -> None:
    graph.twins.put(tenant, "room", room(name="R"))
    graph.twins.put(tenant, "other-room", room())
    for i in range(4):
        graph.twins.put(tenant, f"p{i}", pump())
    rel, created = graph.twins.put_relationship(
        tenant,
        "room",
        "c0",
        {"$relationshipName": "contains", "$targetId": "p0", "since": "2024-01-02"},
    )
    assert created and rel.properties == {"since": "2024-01-02"}
    with pytest.raises(InvalidInput) as exc:
        graph.twins.put_relationship(
            tenant, "room", "x", {"$relationshipName": "contains", "$targetId": "other-room"}
        )
    assert ("/$targetId", "targetModel") in rules(exc)
    with pytest.raises(InvalidInput) as exc:
        graph.twins.put_relationship(
            tenant, "room", "x", {"$relationshipName": "owns", "$targetId": "p1"}
        )
    assert ("/$relationshipName", "relationshipDefined") in rules(exc)
    with pytest.raises(InvalidInput) as exc:
        graph.twins.put_relationship(
            tenant,
            "room",
            "x",
            {"$relationshipName": "contains", "$targetId": "p1", "since": "soon"},
        )
    assert ("/since", "format") in rules(exc) or ("/since", "type") in rules(exc)
    for i in (1, 2):
        graph.twins.put_relationship(
            tenant, "room", f"c{i}", {"$relationshipName": "contains", "$targetId": f"p{i}"}
        )
    with pytest.raises(Conflict):
        graph.twins.put_relationship(
            tenant, "room", "c3", {"$relationshipName": "contains", "$targetId": "p3"}
        )
    # Replacing one of the three is not a fourth.
    graph.twins.put_relationship(
        tenant, "room", "c2", {"$relationshipName": "contains", "$targetId": "p3"}
    )
    # An untargeted relationship accepts any twin.
    graph.twins.put_relationship(
        tenant, "room", "n", {"$relationshipName": "near", "$targetId": "other-room"}
    )
    names = [r.relationship_id for r in graph.twins.list_relationships(tenant, "room").items]
    assert names == ["c0", "c1", "c2", "n"]
    incoming = graph.twins.list_incoming(tenant, "p3").items
    assert [(r.source_id, r.relationship_id) for r in incoming] == [("room", "c2")]


def test_twin_with_relationships_cannot_be_deleted(graph: Platform, tenant: str) -> None:
    graph.twins.put(tenant, "room", room())
    graph.twins.put(tenant, "p1", pump())
    graph.twins.put_relationship(
        tenant, "room", "r", {"$relationshipName": "contains", "$targetId": "p1"}
    )
    with pytest.raises(Conflict):
        graph.twins.delete(tenant, "p1")
    graph.twins.delete_relationship(tenant, "room", "r")
    graph.twins.delete(tenant, "p1")
    with pytest.raises(NotFound):
        graph.twins.get(tenant, "p1")


def test_every_change_emits_a_past_tense_event_in_order(graph: Platform, tenant: str) -> None:
    graph.twins.put(tenant, "room", room())
    graph.twins.put(tenant, "p1", pump())
    graph.twins.patch(tenant, "p1", [{"op": "add", "path": "/serial", "value": "S"}])
    graph.twins.put(tenant, "p1", pump(serial="T"))
    graph.twins.put_relationship(
        tenant, "room", "r", {"$relationshipName": "contains", "$targetId": "p1"}
    )
    graph.twins.put_relationship(
        tenant, "room", "r", {"$relationshipName": "contains", "$targetId": "p1"}
    )
    graph.twins.delete_relationship(tenant, "room", "r")
    graph.twins.delete(tenant, "p1")
    events = [
        (e.type, e.subject)
        for e in graph.events.list_events(tenant, limit=1000)
        if e.type.startswith(("Twin", "Relationship"))
    ]
    assert events == [
        ("TwinCreated", "room"),
        ("TwinCreated", "p1"),
        ("TwinUpdated", "p1"),
        ("TwinReplaced", "p1"),
        ("RelationshipCreated", "room"),
        ("RelationshipReplaced", "room"),
        ("RelationshipDeleted", "room"),
        ("TwinDeleted", "p1"),
    ]


def test_external_ids_map_source_ids_onto_twins(graph: Platform, tenant: str) -> None:
    graph.twins.put(tenant, "p1", pump())
    graph.twins.map_external_id(tenant, "scada", "PUMP.001", "p1")
    assert graph.twins.resolve_external_id(tenant, "scada", "PUMP.001") == "p1"
    with pytest.raises(NotFound):
        graph.twins.map_external_id(tenant, "scada", "PUMP.002", "ghost")
    graph.twins.unmap_external_id(tenant, "scada", "PUMP.001")
    with pytest.raises(NotFound):
        graph.twins.resolve_external_id(tenant, "scada", "PUMP.001")


def test_import_creates_all_or_nothing(graph: Platform, tenant: str) -> None:
    twins = [room(**{"$dtId": "room"}), pump(**{"$dtId": "p1"}), pump(**{"$dtId": "p2"})]
    rels = [
        {
            "$relationshipId": "a",
            "$sourceId": "room",
            "$relationshipName": "contains",
            "$targetId": "p1",
        },
        {
            "$relationshipId": "b",
            "$sourceId": "room",
            "$relationshipName": "contains",
            "$targetId": "p2",
        },
    ]
    bad = [*twins[:2], pump(**{"$dtId": "p2", "ratedFlow": "no"})]
    with pytest.raises(InvalidInput):
        graph.twins.import_graph(tenant, bad, rels)
    assert graph.twins.list_twins(tenant).items == []
    result = graph.twins.import_graph(tenant, twins, rels)
    assert (result.twins, result.relationships) == (3, 2)
    with pytest.raises(Conflict):
        graph.twins.import_graph(tenant, twins[:1])


def test_model_in_use_cannot_be_deleted_and_decommissioned_blocks_new_twins(
    graph: Platform, tenant: str
) -> None:
    graph.twins.put(tenant, "p1", pump())
    with pytest.raises(Conflict):
        graph.models.delete(tenant, PUMP)
    with pytest.raises(Conflict):
        graph.models.delete(tenant, MACHINE)  # Pump extends it
    graph.models.decommission(tenant, PUMP)
    with pytest.raises(InvalidInput) as exc:
        graph.twins.put(tenant, "p2", pump())
    assert ("/$metadata/$model", "modelDecommissioned") in rules(exc)
    graph.twins.put(tenant, "p1", pump(serial="still fine"))
    graph.twins.delete(tenant, "p1")
    graph.models.delete(tenant, PUMP)
    with pytest.raises(NotFound):
        graph.models.get(tenant, PUMP)


def test_new_version_reports_changes_and_compatibility(graph: Platform, tenant: str) -> None:
    v2 = interface("dtmi:test:Gearbox;2", prop("ratio", "double"), prop("oilGrade", "string"))
    v3 = interface("dtmi:test:Gearbox;3", prop("ratio", "string"))
    first = graph.models.upload(tenant, [DtdlSource(name="v2", obj=v2)])
    (report,) = first.compatibility
    assert report.previous == GEARBOX and report.backward_compatible
    assert [(c.element, c.change) for c in report.changes] == [("oilGrade", "added")]
    second = graph.models.upload(tenant, [DtdlSource(name="v3", obj=v3)])
    (report,) = second.compatibility
    assert report.previous == "dtmi:test:Gearbox;2" and not report.backward_compatible
    assert {(c.element, c.change) for c in report.changes} == {
        ("oilGrade", "removed"),
        ("ratio", "changed"),
    }


def test_stored_version_is_immutable_but_identical_reupload_is_a_no_op(
    graph: Platform, tenant: str
) -> None:
    again = graph.models.upload(tenant, [DtdlSource(name="t", obj=sample_models()[3])])
    assert again.created == () and again.unchanged == (THING,)
    changed = interface(THING, prop("serial", "integer"))
    with pytest.raises(Conflict):
        graph.models.upload(tenant, [DtdlSource(name="t", obj=changed)])


def test_upload_resolves_references_to_stored_models(graph: Platform, tenant: str) -> None:
    extra = interface("dtmi:test:BigPump;1", prop("stages", "integer"), extends=PUMP)
    result = graph.models.upload(tenant, [DtdlSource(name="big", obj=extra)])
    assert [m.dtmi for m in result.created] == ["dtmi:test:BigPump;1"]
    graph.twins.put(tenant, "b1", {"$metadata": {"$model": "dtmi:test:BigPump;1"}, "stages": 2})
    graph.twins.put(tenant, "room", room())
    graph.twins.put_relationship(
        tenant, "room", "r", {"$relationshipName": "contains", "$targetId": "b1"}
    )
    assert ROOM in graph.models.resolve(tenant, ROOM).ancestors
