"""Behaviour of the DTDL loader: sources, cross-file references, problems, inheritance."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from twinops.models.dtdl import (
    DtdlSource,
    ObjectSchema,
    Property,
    Telemetry,
    load_paths,
    parse_documents,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = Path(os.environ.get("TWINOPS_DATA_DIR", REPO_ROOT.parent / "shared" / "data"))
SMART_CITIES = DATA_DIR / "dtdl" / "ontologies" / "smartcities"


def interface(
    dtmi: str, *contents: dict[str, Any], version: int = 3, **extra: Any
) -> dict[str, Any]:
    return {
        "@context": f"dtmi:dtdl:context;{version}",
        "@id": dtmi,
        "@type": "Interface",
        "contents": list(contents),
        **extra,
    }


def prop(name: str, schema: Any = "double", **extra: Any) -> dict[str, Any]:
    return {"@type": "Property", "name": name, "schema": schema, **extra}


def source(name: str, doc: Any) -> DtdlSource:
    return DtdlSource(name, text=json.dumps(doc))


def test_single_interface_parses_into_entities() -> None:
    result = parse_documents(
        [source("pump.json", interface("dtmi:ex:Pump;1", prop("speed", writable=True)))]
    )
    assert result.ok
    pump = result.interfaces["dtmi:ex:Pump;1"]
    assert pump.dtdl_version == 3
    assert pump.contents["speed"] == Property("speed", pump.contents["speed"].schema, writable=True)


def test_reference_to_interface_in_later_file_resolves() -> None:
    child = interface("dtmi:ex:Pump;1", prop("speed"), extends="dtmi:ex:Asset;1")
    base = interface("dtmi:ex:Asset;1", prop("serial", "string"))
    result = parse_documents([source("a.json", child), source("b.json", base)])
    assert result.ok, result.problems
    assert set(result.model_set.all_contents("dtmi:ex:Pump;1")) == {"speed", "serial"}
    assert result.model_set.ancestors("dtmi:ex:Pump;1") == {"dtmi:ex:Pump;1", "dtmi:ex:Asset;1"}


def test_unresolved_reference_names_the_missing_dtmi() -> None:
    child = interface("dtmi:ex:Pump;1", extends="dtmi:ex:Missing;1")
    result = parse_documents([source("a.json", child)])
    assert not result.ok
    [problem] = result.problems
    assert problem.rule == "unresolvedReference"
    assert "dtmi:ex:Missing;1" in problem.message


def test_resolver_supplies_stored_interfaces() -> None:
    stored = {"dtmi:ex:Asset;1": interface("dtmi:ex:Asset;1", prop("serial", "string"))}
    child = interface("dtmi:ex:Pump;1", extends="dtmi:ex:Asset;1")
    result = parse_documents([source("a.json", child)], resolver=stored.get)
    assert result.ok, result.problems
    assert "serial" in result.model_set.all_contents("dtmi:ex:Pump;1")
    assert set(result.documents) == {"dtmi:ex:Pump;1"}


def test_error_names_file_element_and_rule() -> None:
    doc = interface("dtmi:ex:Pump;1", prop("speed"), prop("bad name"))
    [problem] = parse_documents([source("pump.json", doc)]).problems
    assert problem.source == "pump.json"
    assert problem.element == "/contents/1"
    assert problem.rule == "stringInvalid"
    assert "bad name" in problem.message
    violation = problem.to_violation()
    assert violation.field == "pump.json#/contents/1"


def test_element_with_id_is_named_by_id() -> None:
    doc = interface(
        "dtmi:ex:Pump;1", {"@id": "dtmi:ex:Pump:speed;1", "@type": "Property", "name": "s"}
    )
    [problem] = parse_documents([source("pump.json", doc)]).problems
    assert problem.element == "dtmi:ex:Pump:speed;1"
    assert problem.rule == "missingObjectProperty"


def test_invalid_json_is_a_problem_not_an_exception() -> None:
    [problem] = parse_documents([DtdlSource("broken.json", text="{")]).problems
    assert (problem.source, problem.rule) == ("broken.json", "invalidJson")


def test_duplicate_names_across_extends_are_rejected() -> None:
    base = interface("dtmi:ex:Asset;1", prop("speed"))
    child = interface("dtmi:ex:Pump;1", prop("speed"), extends="dtmi:ex:Asset;1")
    result = parse_documents([source("a.json", child), source("b.json", base)])
    assert [p.rule for p in result.problems] == ["nonUniqueImportedPropertyValue"]


def test_v2_semantic_type_and_unit_are_kept() -> None:
    telemetry = {
        "@type": ["Telemetry", "Temperature"],
        "name": "t",
        "schema": "double",
        "unit": "degreeCelsius",
    }
    result = parse_documents([source("s.json", interface("dtmi:ex:S;1", telemetry, version=2))])
    assert result.ok, result.problems
    content = result.interfaces["dtmi:ex:S;1"].contents["t"]
    assert isinstance(content, Telemetry)
    assert (content.semantic_types, content.unit) == (("Temperature",), "degreeCelsius")


def test_v3_units_need_the_quantitative_types_extension() -> None:
    telemetry = {
        "@type": ["Telemetry", "Temperature"],
        "name": "t",
        "schema": "double",
        "unit": "kelvin",
    }
    doc = interface("dtmi:ex:S;1", telemetry)
    assert not parse_documents([source("s.json", doc)]).ok
    doc["@context"] = ["dtmi:dtdl:context;3", "dtmi:dtdl:extension:quantitativeTypes;1"]
    assert parse_documents([source("s.json", doc)]).ok


def test_interface_level_schema_reference_becomes_the_schema_object() -> None:
    schemas = [
        {
            "@id": "dtmi:ex:Config;1",
            "@type": "Object",
            "fields": [{"name": "rpm", "schema": "long"}],
        }
    ]
    doc = interface("dtmi:ex:Pump;1", prop("config", "dtmi:ex:Config;1"), schemas=schemas)
    result = parse_documents([source("p.json", doc)])
    assert result.ok, result.problems
    config = result.interfaces["dtmi:ex:Pump;1"].contents["config"]
    assert isinstance(config, Property) and isinstance(config.schema, ObjectSchema)
    assert config.schema.fields[0].name == "rpm"


def test_load_paths_reads_folders_and_tolerates_bom(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    text = json.dumps(interface("dtmi:ex:A;1"))
    (tmp_path / "sub" / "a.json").write_text("\ufeff" + text, encoding="utf-8")
    sources = load_paths([tmp_path])
    assert [Path(s.name).name for s in sources] == ["a.json"]
    assert parse_documents(sources).ok


def test_smart_cities_ontology_loads_whole_in_any_order() -> None:
    if not SMART_CITIES.is_dir():
        return
    sources = load_paths([SMART_CITIES])
    assert len(sources) == 63
    for seed in range(3):
        random.Random(seed).shuffle(sources)
        result = parse_documents(sources)
        assert result.ok, result.problems[:5]
        assert len(result.interfaces) == 63


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                ["@context", "@id", "@type", "contents", "name", "schema", "extends", "x"]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_arbitrary_json_never_raises(value: Any) -> None:
    result = parse_documents([DtdlSource("fuzz.json", obj=value)])
    assert isinstance(result.problems, tuple)


names = st.from_regex(r"[a-z][a-zA-Z0-9]{0,10}", fullmatch=True)
schemas = st.sampled_from(["double", "integer", "string", "boolean", "dateTime"])


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(names, schemas, min_size=1, max_size=8), st.sampled_from([2, 3]))
def test_generated_valid_interfaces_parse(properties: dict[str, str], version: int) -> None:
    doc = interface("dtmi:ex:Gen;1", *(prop(n, s) for n, s in properties.items()), version=version)
    result = parse_documents([source("gen.json", doc)])
    assert result.ok, result.problems
    assert set(result.interfaces["dtmi:ex:Gen;1"].contents) == set(properties)
