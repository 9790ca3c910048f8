"""Backward compatibility between interface versions, as judged for existing twins."""

from __future__ import annotations

from typing import Any

from support import interface, prop
from twinops.models.compat import diff_contents
from twinops.models.dtdl import DtdlSource, parse_documents


def contents(*items: dict[str, Any]) -> Any:
    result = parse_documents([DtdlSource(name="m", obj=interface("dtmi:test:M;1", *items))])
    assert result.ok, result.problems
    return result.model_set.all_contents("dtmi:test:M;1")


def enum(*values: str) -> dict[str, Any]:
    return {
        "@type": "Enum",
        "valueSchema": "string",
        "enumValues": [{"name": v, "enumValue": v} for v in values],
    }


def obj(*fields: tuple[str, str]) -> dict[str, Any]:
    return {"@type": "Object", "fields": [{"name": n, "schema": s} for n, s in fields]}


def test_adding_a_property_is_compatible() -> None:
    changes = diff_contents(
        contents(prop("a", "double")), contents(prop("a", "double"), prop("b", "string"))
    )
    assert [(c.element, c.change, c.breaking) for c in changes] == [("b", "added", False)]


def test_removing_a_property_breaks_twins_that_set_it() -> None:
    changes = diff_contents(
        contents(prop("a", "double"), prop("b", "string")), contents(prop("a", "double"))
    )
    assert [(c.element, c.change, c.breaking) for c in changes] == [("b", "removed", True)]


def test_removing_telemetry_does_not_break_stored_twins() -> None:
    telemetry = {"@type": "Telemetry", "name": "t", "schema": "double"}
    changes = diff_contents(contents(telemetry), contents())
    assert [c.breaking for c in changes] == [False]


def test_widening_an_enum_or_object_is_compatible_narrowing_is_not() -> None:
    widened = diff_contents(
        contents(prop("s", enum("a", "b"))), contents(prop("s", enum("a", "b", "c")))
    )
    assert [c.breaking for c in widened] == [False]
    narrowed = diff_contents(contents(prop("s", enum("a", "b"))), contents(prop("s", enum("a"))))
    assert [c.breaking for c in narrowed] == [True]
    more_fields = diff_contents(
        contents(prop("o", obj(("x", "double")))),
        contents(prop("o", obj(("x", "double"), ("y", "string")))),
    )
    assert [c.breaking for c in more_fields] == [False]
    retyped = diff_contents(
        contents(prop("o", obj(("x", "double")))), contents(prop("o", obj(("x", "string"))))
    )
    assert [c.breaking for c in retyped] == [True]


def test_relabelling_is_not_a_change() -> None:
    old = contents(prop("a", "double", displayName="A"))
    new = contents(prop("a", "double", displayName="Flow A", description="renamed label"))
    assert diff_contents(old, new) == ()


def test_lowering_max_multiplicity_breaks() -> None:
    def rel(limit: int) -> dict[str, Any]:
        return {"@type": "Relationship", "name": "r", "maxMultiplicity": limit}

    changes = diff_contents(contents(rel(5)), contents(rel(2)))
    assert [(c.element, c.breaking) for c in changes] == [("r", True)]
    assert all(not c.breaking for c in diff_contents(contents(rel(2)), contents(rel(5))))
