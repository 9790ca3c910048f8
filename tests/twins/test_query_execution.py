"""The query language run for real against SQLite and PostgreSQL, through run_query."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twinops.errors import InvalidInput
from twinops.storage import Database, open_database
from twinops.storage.query import QueryResult, run_query
from twinops.storage.schema import model_ancestors, relationships, twins
from twinops.twins.query import parse_query
from twinops.twins.query.ast import (
    And,
    CompareOp,
    Comparison,
    Expr,
    InList,
    IsOfModel,
    Not,
    Or,
    PropertyPath,
    StringFunction,
    StringMatch,
    TypeCheck,
    TypeFunction,
)

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

ASSET = "dtmi:test:Asset;1"
PUMP = "dtmi:test:Pump;1"
CENTRIFUGAL = "dtmi:test:CentrifugalPump;1"
SITE = "dtmi:test:Site;1"
SENSOR = "dtmi:test:Sensor;1"
NODE = "dtmi:test:Node;1"


class Graph:
    """A tenant's twins and relationships, written straight into the tables."""

    def __init__(self, db: Database, tenant: str) -> None:
        self.db = db
        self.tenant = tenant
        self._twins: list[dict[str, Any]] = []
        self._relationships: list[dict[str, Any]] = []
        self._ancestors: list[dict[str, Any]] = []

    def twin(self, twin_id: str, model: str, **contents: Any) -> None:
        self._twins.append(
            {
                "tenant": self.tenant,
                "twin_id": twin_id,
                "model": model,
                "etag": f'W/"{twin_id}"',
                "contents": contents,
                "metadata": {},
                "created_at": 1_700_000_000_000_000,
                "updated_at": 1_700_000_000_000_000,
            }
        )

    def relate(
        self, source: str, name: str, target: str, rel_id: str | None = None, **props: Any
    ) -> None:
        self._relationships.append(
            {
                "tenant": self.tenant,
                "source_id": source,
                "relationship_id": rel_id or f"{source}-{name}-{target}",
                "name": name,
                "target_id": target,
                "properties": props,
                "etag": '"1"',
                "created_at": 1,
                "updated_at": 1,
            }
        )

    def model(self, dtmi: str, *ancestors: str) -> None:
        for ancestor in (dtmi, *ancestors):
            self._ancestors.append({"tenant": self.tenant, "dtmi": dtmi, "ancestor": ancestor})

    def flush(self) -> None:
        with self.db.write() as conn:
            for table, rows in (
                (twins, self._twins),
                (relationships, self._relationships),
                (model_ancestors, self._ancestors),
            ):
                if rows:
                    conn.execute(table.insert(), rows)
                rows.clear()
            if not self.db.is_sqlite:
                # As autovacuum soon would: without statistics PostgreSQL may plan deep
                # JOINs as nested scans of the whole tenant (see QueryLimits.timeout_ms).
                conn.exec_driver_sql("ANALYZE twins, relationships, model_ancestors")

    def run(self, text: str, **options: Any) -> QueryResult:
        self.flush()
        with self.db.read() as conn:
            return run_query(conn, self.tenant, text, **options)

    def items(self, text: str, **options: Any) -> list[dict[str, Any]]:
        return self.run(text, **options).items

    def ids(self, text: str) -> list[str]:
        return [item["$dtId"] for item in self.items(text)]

    def delete(self) -> None:
        with self.db.write() as conn:
            for table in (twins, relationships, model_ancestors):
                conn.execute(table.delete().where(table.c.tenant == self.tenant))


@pytest.fixture(scope="module")
def sqlite_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    path: Path = tmp_path_factory.mktemp("query") / "twinops.db"
    db = open_database(f"sqlite:///{path}")
    yield db
    db.dispose()


@pytest.fixture(scope="module")
def postgres_db() -> Iterator[Database]:
    db = open_database(POSTGRES_URL)
    yield db
    db.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> Database:
    db: Database = request.getfixturevalue(f"{request.param}_db")
    return db


def _graph(db: Database, prefix: str) -> Iterator[Graph]:
    # A fresh tenant per test keeps runs on the shared PostgreSQL database apart.
    graph = Graph(db, f"{prefix}-{uuid.uuid4().hex[:12]}")
    yield graph
    graph.delete()


@pytest.fixture
def graph(backend: Database) -> Iterator[Graph]:
    yield from _graph(backend, "q")


@pytest.fixture
def neighbour(backend: Database) -> Iterator[Graph]:
    yield from _graph(backend, "other")


@pytest.fixture
def fleet(graph: Graph) -> Graph:
    """Two sites, three pumps (one a subtype, one with badly typed values), one sensor."""
    return _load_fleet(graph)


def _load_fleet(graph: Graph) -> Graph:
    graph.model(ASSET)
    graph.model(PUMP, ASSET)
    graph.model(CENTRIFUGAL, PUMP, ASSET)
    graph.model(SITE)
    graph.model(SENSOR)
    graph.twin("site-1", SITE, name="North", area=1200)
    graph.twin("site-2", SITE, name="South")
    graph.twin(
        "pump-1",
        PUMP,
        flow=12.5,
        running=True,
        serial="AB-100",
        status="ok",
        rated={"power": 5, "unit": "kW"},
        motor={"temperature": 65, "$metadata": {}},
    )
    graph.twin(
        "pump-2",
        CENTRIFUGAL,
        flow=30,
        running=False,
        serial="AB-200",
        motor={"temperature": 80, "$metadata": {}},
    )
    graph.twin("pump-3", PUMP, flow="15", running="yes", serial="CD-300", status=None)
    graph.twin("sensor-1", SENSOR, kind="pressure", tags=["a", "b"])
    graph.relate("site-1", "contains", "pump-1", since=2020, primary=True)
    graph.relate("site-1", "contains", "pump-2", since=2022, primary=False)
    graph.relate("site-2", "contains", "pump-3", since=2023)
    graph.relate("pump-1", "hasSensor", "sensor-1")
    return graph


PUMPS = ["pump-1", "pump-2", "pump-3"]
ALL = ["pump-1", "pump-2", "pump-3", "sensor-1", "site-1", "site-2"]


def where(condition: str) -> str:
    return f"SELECT * FROM DIGITALTWINS T WHERE {condition}"


# -- projection and shapes ---------------------------------------------------------------


def test_select_star_returns_each_twin_as_adt_json_in_id_order(fleet: Graph) -> None:
    items = fleet.items("select * from digitaltwins")
    assert [i["$dtId"] for i in items] == ALL
    pump = items[0]
    assert pump["$metadata"]["$model"] == PUMP
    assert pump["flow"] == 12.5
    assert pump["rated"] == {"power": 5, "unit": "kW"}
    assert pump["$etag"] == 'W/"pump-1"'


def test_select_alias_without_join_returns_the_twin_itself(fleet: Graph) -> None:
    items = fleet.items("SELECT T FROM DIGITALTWINS AS T WHERE T.$dtId = 'site-2'")
    assert items == [fleet.items(where("T.$dtId = 'site-2'"))[0]]
    assert items[0]["name"] == "South"


def test_property_projection_keys_by_name_or_as_and_omits_undefined(fleet: Graph) -> None:
    items = fleet.items(
        "SELECT T.$dtId, T.serial, T.motor.temperature AS temp, T.$metadata.$model "
        "FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:test:Pump;1')"
    )
    assert items == [
        {"$dtId": "pump-1", "serial": "AB-100", "temp": 65, "$model": PUMP},
        {"$dtId": "pump-2", "serial": "AB-200", "temp": 80, "$model": CENTRIFUGAL},
        {"$dtId": "pump-3", "serial": "CD-300", "$model": PUMP},
    ]


def test_projection_without_from_alias_reads_properties_of_the_twin(fleet: Graph) -> None:
    items = fleet.items("SELECT name FROM DIGITALTWINS WHERE IS_OF_MODEL('dtmi:test:Site;1')")
    assert items == [{"name": "North"}, {"name": "South"}]


def test_count_counts_every_match(fleet: Graph) -> None:
    assert fleet.items("SELECT COUNT() FROM DIGITALTWINS") == [{"COUNT": 6}]
    assert fleet.items(
        "SELECT COUNT() FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:test:Pump;1')"
    ) == [{"COUNT": 3}]
    assert fleet.items("SELECT COUNT() FROM DIGITALTWINS T WHERE T.nothing = 1") == [{"COUNT": 0}]


def test_count_with_join_counts_paths(fleet: Graph) -> None:
    text = "SELECT COUNT() FROM DIGITALTWINS T JOIN P RELATED T.contains"
    assert fleet.items(text) == [{"COUNT": 3}]


def test_top_limits_the_whole_result(fleet: Graph) -> None:
    assert fleet.ids("SELECT TOP(2) * FROM DIGITALTWINS") == ALL[:2]
    assert fleet.ids("SELECT TOP(100) T FROM DIGITALTWINS T") == ALL


def test_top_applies_across_pages(fleet: Graph) -> None:
    text = "SELECT TOP(5) T FROM DIGITALTWINS T"
    pages = _pages(fleet, text, page_size=2)
    assert [len(p.items) for p in pages] == [2, 2, 1]
    assert [i["$dtId"] for p in pages for i in p.items] == ALL[:5]
    assert pages[-1].continuation is None


# -- model filters -----------------------------------------------------------------------


def test_is_of_model_includes_subtypes(fleet: Graph) -> None:
    assert fleet.ids(where(f"IS_OF_MODEL(T, '{PUMP}')")) == PUMPS
    assert fleet.ids(where(f"IS_OF_MODEL(T, '{ASSET}')")) == PUMPS
    assert fleet.ids(where(f"IS_OF_MODEL(T, '{CENTRIFUGAL}')")) == ["pump-2"]


def test_is_of_model_exact_excludes_subtypes(fleet: Graph) -> None:
    assert fleet.ids(where(f"IS_OF_MODEL(T, '{PUMP}', exact)")) == ["pump-1", "pump-3"]
    assert fleet.ids(where(f"IS_OF_MODEL(T, '{ASSET}', EXACT)")) == []


def test_is_of_model_single_argument_form(fleet: Graph) -> None:
    assert fleet.ids(f"SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('{PUMP}')") == PUMPS
    assert fleet.ids(where(f"IS_OF_MODEL('{SENSOR}')")) == ["sensor-1"]


def test_metadata_model_compares_the_model_column(fleet: Graph) -> None:
    assert fleet.ids(where(f"T.$metadata.$model = '{PUMP}'")) == ["pump-1", "pump-3"]


# -- property predicates -----------------------------------------------------------------


def test_number_comparisons_skip_values_of_other_types(fleet: Graph) -> None:
    # pump-3 stores flow as the string '15': never a number, never an error.
    assert fleet.ids(where("T.flow > 12")) == ["pump-1", "pump-2"]
    assert fleet.ids(where("T.flow >= 12.5")) == ["pump-1", "pump-2"]
    assert fleet.ids(where("T.flow < 13")) == ["pump-1"]
    assert fleet.ids(where("T.flow <= 30")) == ["pump-1", "pump-2"]
    assert fleet.ids(where("T.flow = 30.0")) == ["pump-2"]
    assert fleet.ids(where("T.flow != 12.5")) == ["pump-2"]
    assert fleet.ids(where("T.flow <> 12.5")) == ["pump-2"]
    assert fleet.ids(where("12 < T.flow")) == ["pump-1", "pump-2"]
    assert fleet.ids(where("T.area = 1200")) == ["site-1"]


def test_string_comparisons_skip_values_of_other_types(fleet: Graph) -> None:
    assert fleet.ids(where("T.flow = '15'")) == ["pump-3"]
    assert fleet.ids(where("T.flow > '1'")) == ["pump-3"]
    assert fleet.ids(where('T.serial = "AB-200"')) == ["pump-2"]
    assert fleet.ids(where("T.serial < 'AB-200'")) == ["pump-1"]
    assert fleet.ids(where("T.serial >= 'AB-200'")) == ["pump-2", "pump-3"]
    # Byte order on both backends: upper case sorts before lower case.
    assert fleet.ids(where("T.serial < 'a'")) == PUMPS
    assert fleet.ids(where("T.name != 'North'")) == ["site-2"]


def test_boolean_comparisons_skip_values_of_other_types(fleet: Graph) -> None:
    assert fleet.ids(where("T.running = true")) == ["pump-1"]
    assert fleet.ids(where("T.running = FALSE")) == ["pump-2"]
    assert fleet.ids(where("T.running != true")) == ["pump-2"]


def test_null_comparisons_and_is_null(fleet: Graph) -> None:
    assert fleet.ids(where("T.status = null")) == ["pump-3"]
    assert fleet.ids(where("T.status != null")) == ["pump-1"]
    assert fleet.ids(where("IS_NULL(T.status)")) == ["pump-3"]
    assert fleet.ids(where("NOT IS_NULL(T.status)")) == [i for i in ALL if i != "pump-3"]


def test_missing_properties_never_match_comparisons_even_under_not(fleet: Graph) -> None:
    assert fleet.ids(where("T.nothing = 1 OR T.nothing != 1")) == []
    assert fleet.ids(where("NOT (T.flow > 20)")) == ["pump-1"]
    assert fleet.ids(where("NOT (T.flow > 20) OR T.$dtId = 'site-1'")) == ["pump-1", "site-1"]


def test_comparing_the_id_with_a_number_matches_nothing(fleet: Graph) -> None:
    assert fleet.ids(where("T.$dtId = 1")) == []
    assert fleet.ids(where("T.$dtId = null")) == []
    assert fleet.ids(where("T.$dtId != null")) == ALL


def test_nested_and_component_paths(fleet: Graph) -> None:
    assert fleet.ids(where("T.motor.temperature >= 70")) == ["pump-2"]
    assert fleet.ids(where("T.rated.unit = 'kW'")) == ["pump-1"]
    assert fleet.ids(where("T.rated.power = 5 AND T.rated.unit = 'kW'")) == ["pump-1"]
    assert fleet.ids(where("T.rated.missing.deeper = 5")) == []


def test_id_predicates(fleet: Graph) -> None:
    assert fleet.ids(where("T.$dtId = 'pump-2'")) == ["pump-2"]
    assert fleet.ids(where("T.$dtId > 'pump-2'")) == ["pump-3", "sensor-1", "site-1", "site-2"]
    assert fleet.ids(where("T.$dtId IN ['site-2', 'pump-1', 'nope']")) == ["pump-1", "site-2"]
    assert fleet.ids(where("T.$dtId NIN ['site-2', 'pump-1']")) == [
        "pump-2",
        "pump-3",
        "sensor-1",
        "site-1",
    ]
    assert fleet.ids(where("STARTSWITH(T.$dtId, 'site')")) == ["site-1", "site-2"]


def test_type_check_functions(fleet: Graph) -> None:
    assert fleet.ids(where("IS_DEFINED(T.flow)")) == PUMPS
    assert fleet.ids(where("NOT IS_DEFINED(T.flow)")) == ["sensor-1", "site-1", "site-2"]
    assert fleet.ids(where("IS_NUMBER(T.flow)")) == ["pump-1", "pump-2"]
    assert fleet.ids(where("IS_STRING(T.flow)")) == ["pump-3"]
    assert fleet.ids(where("IS_BOOL(T.running)")) == ["pump-1", "pump-2"]
    assert fleet.ids(where("IS_OBJECT(T.motor)")) == ["pump-1", "pump-2"]
    assert fleet.ids(where("IS_OBJECT(T.tags)")) == []
    assert fleet.ids(where("IS_PRIMITIVE(T.status)")) == ["pump-1", "pump-3"]
    assert fleet.ids(where("IS_PRIMITIVE(T.motor)")) == []
    assert fleet.ids(where("IS_DEFINED(T.$dtId) AND IS_STRING(T.$dtId)")) == ALL


def test_string_functions_are_case_sensitive_and_skip_non_strings(fleet: Graph) -> None:
    assert fleet.ids(where("STARTSWITH(T.serial, 'AB')")) == ["pump-1", "pump-2"]
    assert fleet.ids(where("STARTSWITH(T.serial, 'ab')")) == []
    assert fleet.ids(where("ENDSWITH(T.serial, '300')")) == ["pump-3"]
    assert fleet.ids(where("ENDSWITH(T.serial, 'XXXXXXXXXXAB-100')")) == []
    assert fleet.ids(where("CONTAINS(T.name, 'ort')")) == ["site-1"]
    assert fleet.ids(where("CONTAINS(T.name, 'ORT')")) == []
    assert fleet.ids(where("CONTAINS(T.flow, '1')")) == ["pump-3"]
    assert fleet.ids(where("STARTSWITH(T.serial, '%')")) == []
    assert fleet.ids(where("ENDSWITH(T.serial, '')")) == PUMPS


def test_in_and_nin_lists_match_by_type(fleet: Graph) -> None:
    assert fleet.ids(where("T.flow IN [12.5, '15']")) == ["pump-1", "pump-3"]
    assert fleet.ids(where("T.flow IN [30]")) == ["pump-2"]
    assert fleet.ids(where("T.running IN [true, 'yes']")) == ["pump-1", "pump-3"]
    assert fleet.ids(where("T.status IN [null]")) == ["pump-3"]
    assert fleet.ids(where("T.flow IN []")) == []
    # NIN matches defined values that are none of the listed ones.
    assert fleet.ids(where("T.serial NIN ['AB-100']")) == ["pump-2", "pump-3"]
    assert fleet.ids(where("T.flow NIN [15]")) == PUMPS


def test_and_or_not_and_parentheses(fleet: Graph) -> None:
    text = where("(T.flow > 20 OR T.name = 'South') AND NOT T.$dtId = 'site-1'")
    assert fleet.ids(text) == ["pump-2", "site-2"]
    text = where("T.flow > 20 OR T.name = 'South' AND T.$dtId = 'site-1'")
    assert fleet.ids(text) == ["pump-2"]


def test_keywords_are_case_insensitive(fleet: Graph) -> None:
    text = (
        "sElEcT tOp(1) t fRoM DigitalTwins t "
        "wHeRe is_of_model(t, 'dtmi:test:Pump;1') aNd t.flow > 20"
    )
    assert fleet.ids(text) == ["pump-2"]


# -- traversal ---------------------------------------------------------------------------


def test_one_hop_join_returns_items_keyed_by_alias(fleet: Graph) -> None:
    items = fleet.items(
        "SELECT CT FROM DIGITALTWINS T JOIN CT RELATED T.contains WHERE T.$dtId = 'site-1'"
    )
    assert [i["CT"]["$dtId"] for i in items] == ["pump-1", "pump-2"]
    assert set(items[0]) == {"CT"}


def test_join_with_several_projected_aliases_and_relationship(fleet: Graph) -> None:
    items = fleet.items(
        "SELECT T, CT, R FROM DIGITALTWINS T JOIN CT RELATED T.contains R "
        "WHERE T.$dtId = 'site-1' AND R.since >= 2021"
    )
    assert len(items) == 1
    assert items[0]["T"]["$dtId"] == "site-1"
    assert items[0]["CT"]["$dtId"] == "pump-2"
    assert items[0]["R"] == {
        "$relationshipId": "site-1-contains-pump-2",
        "$etag": '"1"',
        "$sourceId": "site-1",
        "$relationshipName": "contains",
        "$targetId": "pump-2",
        "since": 2022,
        "primary": False,
    }


def test_select_star_with_join_keys_every_alias(fleet: Graph) -> None:
    items = fleet.items("SELECT * FROM DIGITALTWINS T JOIN P RELATED T.contains")
    assert [(i["T"]["$dtId"], i["P"]["$dtId"]) for i in items] == [
        ("site-1", "pump-1"),
        ("site-1", "pump-2"),
        ("site-2", "pump-3"),
    ]


def test_relationship_property_and_system_filters(fleet: Graph) -> None:
    base = "SELECT P FROM DIGITALTWINS T JOIN P RELATED T.contains R WHERE "
    assert [i["P"]["$dtId"] for i in fleet.items(base + "R.primary = true")] == ["pump-1"]
    assert [i["P"]["$dtId"] for i in fleet.items(base + "R.$targetId = 'pump-3'")] == ["pump-3"]
    assert [i["P"]["$dtId"] for i in fleet.items(base + "NOT IS_DEFINED(R.primary)")] == ["pump-3"]


def test_two_hop_join(fleet: Graph) -> None:
    items = fleet.items(
        "SELECT S, P.serial FROM DIGITALTWINS T JOIN P RELATED T.contains "
        "JOIN S RELATED P.hasSensor WHERE T.$dtId = 'site-1' AND IS_OF_MODEL(S, "
        f"'{SENSOR}')"
    )
    assert len(items) == 1
    assert items[0]["S"]["$dtId"] == "sensor-1"
    assert items[0]["serial"] == "AB-100"


def test_join_follows_only_the_named_relationship(fleet: Graph) -> None:
    text = "SELECT X FROM DIGITALTWINS T JOIN X RELATED T.hasSensor"
    assert [i["X"]["$dtId"] for i in fleet.items(text)] == ["sensor-1"]
    assert fleet.items("SELECT X FROM DIGITALTWINS T JOIN X RELATED T.unknown") == []


def _chain(graph: Graph, length: int, prefix: str = "n") -> None:
    graph.model(NODE)
    for i in range(length + 1):
        graph.twin(f"{prefix}{i:02d}", NODE, level=i)
    for i in range(length):
        graph.relate(f"{prefix}{i:02d}", "next", f"{prefix}{i + 1:02d}", weight=i)
        # A dead-end branch at every level, which a traversal must not follow to the end.
        graph.twin(f"{prefix}{i:02d}-leaf", NODE, level=-1)
        graph.relate(f"{prefix}{i:02d}", "next", f"{prefix}{i:02d}-leaf", weight=100)


def _hops(count: int) -> str:
    joins = " ".join(f"JOIN N{i + 1} RELATED N{i}.next R{i + 1}" for i in range(count))
    return f"FROM DIGITALTWINS N0 {joins}"


def test_seven_hop_join_with_relationship_filter(graph: Graph) -> None:
    _chain(graph, 8)
    text = f"SELECT N7 {_hops(7)} WHERE N0.$dtId = 'n00' AND R4.weight < 100"
    ids = [i["N7"]["$dtId"] for i in graph.items(text)]
    # With R4 kept on the chain, the seventh hop reaches n07 or the leaf hanging off n06.
    assert ids == ["n06-leaf", "n07"]
    text = f"SELECT N7.level AS level {_hops(7)} WHERE N0.$dtId = 'n00' AND " + " AND ".join(
        f"R{i}.weight < 100" for i in range(1, 8)
    )
    assert graph.items(text) == [{"level": 7}]


def test_more_joins_than_adt_allows_with_a_raised_limit(graph: Graph) -> None:
    _chain(graph, 21)
    text = f"SELECT N21 {_hops(21)} WHERE N0.$dtId = 'n00' AND IS_OF_MODEL(N21, '{NODE}')"
    with pytest.raises(InvalidInput) as caught:
        graph.items(text)
    assert caught.value.violations[0].rule == "maxJoins"
    assert [i["N21"]["$dtId"] for i in graph.items(text, max_joins=25)] == ["n20-leaf", "n21"]


# -- pagination --------------------------------------------------------------------------


def _pages(graph: Graph, text: str, page_size: int) -> list[QueryResult]:
    pages = [graph.run(text, page_size=page_size)]
    while pages[-1].continuation is not None:
        assert len(pages) < 10_000
        pages.append(graph.run(text, page_size=page_size, continuation=pages[-1].continuation))
    return pages


def test_pagination_returns_every_row_exactly_once_in_order(graph: Graph) -> None:
    graph.model(NODE)
    expected = sorted(f"tw-{i:04d}" for i in range(1, 500))
    for twin_id in expected:
        graph.twin(twin_id, NODE, n=int(twin_id[3:]))
    text = "SELECT T FROM DIGITALTWINS T WHERE T.n > 0"
    pages = _pages(graph, text, page_size=37)
    seen = [i["$dtId"] for p in pages for i in p.items]
    assert seen == expected
    assert all(len(p.items) == 37 for p in pages[:-1])


def test_pagination_through_a_join_with_many_paths(graph: Graph) -> None:
    graph.model(NODE)
    for hub in ("h1", "h2"):
        graph.twin(hub, NODE)
        for i in range(40):
            graph.twin(f"{hub}-c{i:02d}", NODE)
            # Two relationships to the same child give two distinct paths.
            graph.relate(hub, "feeds", f"{hub}-c{i:02d}", rel_id=f"a{i}")
            graph.relate(hub, "feeds", f"{hub}-c{i:02d}", rel_id=f"b{i}")
    pages = _pages(graph, "SELECT H, C, R FROM DIGITALTWINS H JOIN C RELATED H.feeds R", 9)
    seen = [(i["H"]["$dtId"], i["R"]["$relationshipId"]) for p in pages for i in p.items]
    assert len(seen) == 160
    assert len(set(seen)) == 160


def test_a_tampered_or_foreign_continuation_is_rejected(fleet: Graph) -> None:
    first = fleet.run("SELECT T FROM DIGITALTWINS T", page_size=2)
    assert first.continuation is not None
    with pytest.raises(InvalidInput) as caught:
        fleet.run("SELECT T FROM DIGITALTWINS T", page_size=2, continuation="not-a-token")
    assert caught.value.violations[0].rule == "invalidContinuation"
    with pytest.raises(InvalidInput) as caught:
        fleet.run("SELECT * FROM DIGITALTWINS", page_size=2, continuation=first.continuation)
    assert caught.value.violations[0].rule == "continuationMismatch"


def test_a_syntax_tree_runs_like_its_text(fleet: Graph) -> None:
    text = where("T.flow > 12")
    fleet.flush()
    with fleet.db.read() as conn:
        result = run_query(conn, fleet.tenant, parse_query(text))
    assert [i["$dtId"] for i in result.items] == ["pump-1", "pump-2"]


# -- isolation and limits ----------------------------------------------------------------


def test_tenants_never_see_each_others_twins_relationships_or_models(
    fleet: Graph, neighbour: Graph
) -> None:
    # The neighbour reuses our ids, links our site to an id we own, and says Sensor is a Pump.
    neighbour.model(SENSOR, PUMP)
    neighbour.twin("site-1", SITE, name="Elsewhere")
    neighbour.twin("pump-9", PUMP, flow=99)
    neighbour.relate("site-1", "contains", "pump-9")
    neighbour.relate("site-1", "contains", "pump-3")
    neighbour.relate("site-2", "contains", "sensor-1")
    neighbour.flush()
    assert fleet.ids("SELECT * FROM DIGITALTWINS") == ALL
    assert fleet.ids(where(f"IS_OF_MODEL(T, '{PUMP}')")) == PUMPS
    assert fleet.ids(where("T.flow > 50")) == []
    items = fleet.items("SELECT T, P FROM DIGITALTWINS T JOIN P RELATED T.contains")
    assert [(i["T"]["$dtId"], i["P"]["$dtId"]) for i in items] == [
        ("site-1", "pump-1"),
        ("site-1", "pump-2"),
        ("site-2", "pump-3"),
    ]
    assert [i["name"] for i in fleet.items(where("T.$dtId = 'site-1'"))] == ["North"]
    assert neighbour.ids("SELECT * FROM DIGITALTWINS") == ["pump-9", "site-1"]
    assert neighbour.items("SELECT COUNT() FROM DIGITALTWINS") == [{"COUNT": 2}]


def test_the_largest_allowed_filter_and_in_list_run(fleet: Graph) -> None:
    conditions = " AND ".join(f"T.flow != {i + 1000}" for i in range(200))
    assert fleet.ids(where(conditions)) == ["pump-1", "pump-2"]
    values = ", ".join(str(i) for i in range(499)) + ", 30"
    assert fleet.ids(where(f"T.flow IN [{values}]")) == ["pump-2"]


def test_page_size_must_be_positive(fleet: Graph) -> None:
    with pytest.raises(InvalidInput) as caught:
        fleet.run("SELECT * FROM DIGITALTWINS", page_size=0)
    assert caught.value.violations[0].field == "page_size"


def test_time_limit_turns_a_runaway_statement_into_invalid_input(backend: Database) -> None:
    from twinops.storage.query.dialect import dialect_for

    runaway = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000000) "
        "SELECT count(*) FROM n"
    )
    with backend.read() as conn:
        dialect = dialect_for(backend.dialect)
        with pytest.raises(InvalidInput) as caught, dialect.time_limit(conn, 100):
            conn.exec_driver_sql(runaway).scalar()
    assert caught.value.violations[0].rule == "queryTimeout"
    with backend.read() as conn:
        with dialect.time_limit(conn, 5_000):
            assert conn.exec_driver_sql("SELECT 1").scalar() == 1
        # The limit does not outlive the block.
        if not backend.is_sqlite:
            timeout = conn.exec_driver_sql("SHOW statement_timeout").scalar()
            assert timeout != "5s"


def test_statement_reads_every_table_by_tenant(backend: Database) -> None:
    from twinops.storage.query.compiler import compile_query

    query = parse_query(
        "SELECT T FROM DIGITALTWINS T JOIN P RELATED T.contains R JOIN Q RELATED P.has "
        "WHERE IS_OF_MODEL(Q, 'dtmi:x;1')"
    )
    plan = compile_query(query, "tenant-x", backend.dialect)
    sql = str(plan.rows().compile(backend.engine, compile_kwargs={"literal_binds": True}))
    for table in ("t0", "t1", "t2", "r1", "r2", "model_ancestors_1"):
        assert f"{table}.tenant = 'tenant-x'" in sql


# -- both backends agree -----------------------------------------------------------------


@pytest.fixture
def both_fleets(sqlite_db: Database, postgres_db: Database) -> Iterator[tuple[Graph, Graph]]:
    for lite in _graph(sqlite_db, "q"):
        for pg in _graph(postgres_db, "q"):
            _load_fleet(lite).flush()
            _load_fleet(pg).flush()
            yield lite, pg


PATHS = [
    "T.flow", "T.running", "T.serial", "T.status", "T.rated.power", "T.rated",
    "T.motor.temperature", "T.name", "T.area", "T.tags", "T.nothing", "T.$dtId",
    "T.$metadata.$model",
]  # fmt: skip
VALUES = [
    "12.5", "30", "30.0", "-1", "0", "1200", "'15'", "'AB-100'", "'AB-2'", "'North'", "'a'",
    "'pump-2'", "''", "true", "false", "null",
]  # fmt: skip
ORDERABLE = [v for v in VALUES if v not in ("true", "false", "null")]


def _leaf() -> st.SearchStrategy[str]:
    path = st.sampled_from(PATHS)
    return st.one_of(
        st.builds(
            "{} {} {}".format, path, st.sampled_from(["=", "!=", "<>"]), st.sampled_from(VALUES)
        ),
        st.builds(
            "{} {} {}".format,
            path,
            st.sampled_from(["<", "<=", ">", ">="]),
            st.sampled_from(ORDERABLE),
        ),
        st.builds(
            "{} {} [{}]".format,
            path,
            st.sampled_from(["IN", "NIN"]),
            st.lists(st.sampled_from(VALUES), max_size=3).map(", ".join),
        ),
        st.builds(
            "{}({})".format,
            st.sampled_from(
                [
                    "IS_DEFINED",
                    "IS_NULL",
                    "IS_BOOL",
                    "IS_NUMBER",
                    "IS_STRING",
                    "IS_OBJECT",
                    "IS_PRIMITIVE",
                ]
            ),
            path,
        ),
        st.builds(
            "{}({}, {})".format,
            st.sampled_from(["STARTSWITH", "ENDSWITH", "CONTAINS"]),
            path,
            st.sampled_from(["'AB'", "'00'", "'o'", "'pump'", "''", "'North'"]),
        ),
        st.builds(
            "IS_OF_MODEL(T, '{}'{})".format,
            st.sampled_from([ASSET, PUMP, CENTRIFUGAL, SITE]),
            st.sampled_from(["", ", exact"]),
        ),
    )


conditions = st.recursive(
    _leaf(),
    lambda inner: st.one_of(
        st.builds("({} AND {})".format, inner, inner),
        st.builds("({} OR {})".format, inner, inner),
        st.builds("NOT {}".format, inner),
    ),
    max_leaves=6,
)


FLEET_ANCESTORS = {
    ASSET: {ASSET},
    PUMP: {PUMP, ASSET},
    CENTRIFUGAL: {CENTRIFUGAL, PUMP, ASSET},
    SITE: {SITE},
    SENSOR: {SENSOR},
}
_ABSENT = object()


def _lookup(twin: dict[str, Any], path: PropertyPath) -> Any:
    value: Any = twin
    for name in path.segments:
        if not isinstance(value, dict) or name not in value:
            return _ABSENT
        value = value[name]
    return value


def _same_type(stored: Any, constant: Any) -> bool:
    if isinstance(constant, bool) or isinstance(stored, bool):
        return isinstance(constant, bool) and isinstance(stored, bool)
    if isinstance(constant, int | float):
        return isinstance(stored, int | float)
    return isinstance(constant, str) and isinstance(stored, str)


def oracle(expr: Expr, twin: dict[str, Any]) -> bool | None:
    """ADT's semantics in plain Python; None is 'undefined'."""
    match expr:
        case And(operands):
            results = [oracle(o, twin) for o in operands]
            return False if False in results else None if None in results else True
        case Or(operands):
            results = [oracle(o, twin) for o in operands]
            return True if True in results else None if None in results else False
        case Not(operand):
            result = oracle(operand, twin)
            return None if result is None else not result
        case Comparison(path, op, literal):
            stored, constant = _lookup(twin, path), literal.value
            if stored is _ABSENT:
                return None
            if constant is None:
                return (stored is None) == (op is CompareOp.EQ)
            if not _same_type(stored, constant):
                return None
            outcome: bool = {
                CompareOp.EQ: stored == constant,
                CompareOp.NE: stored != constant,
                CompareOp.LT: stored < constant,
                CompareOp.LE: stored <= constant,
                CompareOp.GT: stored > constant,
                CompareOp.GE: stored >= constant,
            }[op]
            return outcome
        case InList(path, values, negated):
            stored = _lookup(twin, path)
            if stored is _ABSENT:
                return None
            found = any(
                (v.value is None and stored is None)
                or (v.value is not None and _same_type(stored, v.value) and stored == v.value)
                for v in values
            )
            return found != negated
        case IsOfModel(_, model, exact):
            actual = twin["$metadata"]["$model"]
            return actual == model if exact else model in FLEET_ANCESTORS[actual]
        case TypeCheck(function, path):
            stored = _lookup(twin, path)
            if function is TypeFunction.IS_DEFINED:
                return stored is not _ABSENT
            return {
                TypeFunction.IS_NULL: stored is None,
                TypeFunction.IS_BOOL: isinstance(stored, bool),
                TypeFunction.IS_NUMBER: _same_type(stored, 0) and stored is not _ABSENT,
                TypeFunction.IS_STRING: isinstance(stored, str),
                TypeFunction.IS_OBJECT: isinstance(stored, dict),
                TypeFunction.IS_PRIMITIVE: stored is None or isinstance(stored, str | int | float),
            }[function]
        case StringMatch(function, path, text):
            stored = _lookup(twin, path)
            if not isinstance(stored, str):
                return None
            return {
                StringFunction.STARTSWITH: stored.startswith(text),
                StringFunction.ENDSWITH: stored.endswith(text),
                StringFunction.CONTAINS: text in stored,
            }[function]
    raise AssertionError(expr)


@pytest.mark.postgres
@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(conditions)
def test_both_backends_match_a_python_model_of_adt_semantics(
    both_fleets: tuple[Graph, Graph], condition: str
) -> None:
    lite, pg = both_fleets
    text = where(condition)
    parsed = parse_query(text).where
    assert parsed is not None
    everything = lite.items("SELECT * FROM DIGITALTWINS")
    expected = [t["$dtId"] for t in everything if oracle(parsed, t) is True]
    assert lite.ids(text) == expected
    assert pg.ids(text) == expected
