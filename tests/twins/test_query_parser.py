"""Parsing the twin query language: each construct, errors, and render/parse round trips."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from twinops.errors import InvalidInput, MalformedInput
from twinops.storage.query import explain
from twinops.twins.query import QueryLimits, parse_query, render
from twinops.twins.query.ast import (
    And,
    CompareOp,
    Comparison,
    CountAll,
    Expr,
    InList,
    IsOfModel,
    Join,
    Literal,
    Not,
    Or,
    PropertyPath,
    Query,
    SelectItem,
    Star,
    StringFunction,
    StringMatch,
    TypeCheck,
    TypeFunction,
)
from twinops.twins.query.checks import RELATIONSHIP_SYSTEM_PATHS, TWIN_SYSTEM_PATHS
from twinops.twins.query.parser import RESERVED


def T(*segments: str) -> PropertyPath:
    return PropertyPath("T", segments)


def where(condition: str) -> Expr:
    expr = parse_query(f"SELECT * FROM DIGITALTWINS T WHERE {condition}").where
    assert expr is not None
    return expr


def rule_of(text: str, limits: QueryLimits | None = None) -> str:
    with pytest.raises(InvalidInput) as caught:
        parse_query(text, limits=limits)
    return caught.value.violations[0].rule


# -- constructs --------------------------------------------------------------------------


def test_select_star_without_alias() -> None:
    assert parse_query("SELECT * FROM DIGITALTWINS") == Query(Star())


def test_alias_with_and_without_as() -> None:
    assert parse_query("SELECT T FROM DIGITALTWINS T") == parse_query(
        "SELECT T FROM DIGITALTWINS AS T"
    )
    assert parse_query("SELECT T FROM DIGITALTWINS T").projection == (
        SelectItem(PropertyPath("T", ())),
    )


def test_projection_of_properties_and_system_properties() -> None:
    query = parse_query(
        "SELECT T.a, T.$dtId, T.comp.b AS x, CT FROM DIGITALTWINS T JOIN CT RELATED T.has"
    )
    assert query.projection == (
        SelectItem(T("a")),
        SelectItem(T("$dtId")),
        SelectItem(T("comp", "b"), "x"),
        SelectItem(PropertyPath("CT", ())),
    )
    assert isinstance(query.projection, tuple)
    assert [i.key for i in query.projection] == ["a", "$dtId", "x", "CT"]


def test_count_and_top() -> None:
    assert parse_query("SELECT COUNT() FROM DIGITALTWINS").projection == CountAll()
    query = parse_query("SELECT TOP(7) T FROM DIGITALTWINS T")
    assert query.top == 7
    assert parse_query("SELECT TOP (3) * FROM DIGITALTWINS").top == 3


def test_joins_chain_with_optional_relationship_alias() -> None:
    query = parse_query(
        "SELECT Q FROM DIGITALTWINS T JOIN P RELATED T.contains "
        "JOIN Q RELATED P.hasPump AS R WHERE T.$dtId = 'site-1'"
    )
    assert query.joins == (
        Join("P", "T", "contains"),
        Join("Q", "P", "hasPump", "R"),
    )


def test_any_number_of_joins_up_to_the_limit() -> None:
    joins = " ".join(f"JOIN N{i + 1} RELATED N{i}.next" for i in range(20))
    assert len(parse_query(f"SELECT N20 FROM DIGITALTWINS N0 {joins}").joins) == 20
    joins = " ".join(f"JOIN N{i + 1} RELATED N{i}.next" for i in range(50))
    query = parse_query(
        f"SELECT N50 FROM DIGITALTWINS N0 {joins}", limits=QueryLimits(max_joins=50)
    )
    assert len(query.joins) == 50


def test_comparisons_and_literals() -> None:
    assert where("T.a = 'x'") == Comparison(T("a"), CompareOp.EQ, Literal("x"))
    assert where('T.a = "x"') == Comparison(T("a"), CompareOp.EQ, Literal("x"))
    assert where("T.a <> 1") == Comparison(T("a"), CompareOp.NE, Literal(1))
    assert where("T.a != -1.5") == Comparison(T("a"), CompareOp.NE, Literal(-1.5))
    assert where("T.a >= 2e3") == Comparison(T("a"), CompareOp.GE, Literal(2000.0))
    assert where("T.a = TRUE") == Comparison(T("a"), CompareOp.EQ, Literal(True))
    assert where("T.a = false") == Comparison(T("a"), CompareOp.EQ, Literal(False))
    assert where("T.a = Null") == Comparison(T("a"), CompareOp.EQ, Literal(None))


def test_literal_first_is_normalised_to_property_first() -> None:
    assert where("5 < T.a") == Comparison(T("a"), CompareOp.GT, Literal(5))
    assert where("'x' = T.a") == Comparison(T("a"), CompareOp.EQ, Literal("x"))


def test_literal_types_are_distinct() -> None:
    assert Literal(1) != Literal(True)
    assert Literal(1) != Literal(1.0)
    assert Literal(0) != Literal(False)
    assert where("T.a = 1") != where("T.a = true")


def test_string_escapes() -> None:
    assert where(r"T.a = 'it\'s \\ \n \u00e9'") == Comparison(
        T("a"), CompareOp.EQ, Literal("it's \\ \n é")
    )
    assert where(r'T.a = "say \"hi\""') == Comparison(T("a"), CompareOp.EQ, Literal('say "hi"'))


def test_paths_address_nested_objects_and_system_properties() -> None:
    assert where("T.comp.sub.prop = 1") == Comparison(
        T("comp", "sub", "prop"), CompareOp.EQ, Literal(1)
    )
    assert where("T.$metadata.$model = 'm'") == Comparison(
        T("$metadata", "$model"), CompareOp.EQ, Literal("m")
    )


def test_paths_without_a_from_alias_are_properties() -> None:
    query = parse_query("SELECT * FROM DIGITALTWINS WHERE $dtId = 'a' AND room.size > 3")
    assert query.where == And(
        (
            Comparison(PropertyPath(None, ("$dtId",)), CompareOp.EQ, Literal("a")),
            Comparison(PropertyPath(None, ("room", "size")), CompareOp.GT, Literal(3)),
        )
    )


def test_in_and_nin() -> None:
    assert where("T.a IN ['x', 1, true, null]") == InList(
        T("a"), (Literal("x"), Literal(1), Literal(True), Literal(None))
    )
    assert where("T.a NIN []") == InList(T("a"), (), negated=True)


def test_is_of_model_forms() -> None:
    assert where("IS_OF_MODEL(T, 'dtmi:a:b;1')") == IsOfModel("T", "dtmi:a:b;1")
    assert where("IS_OF_MODEL(T, 'dtmi:a:b;1', exact)") == IsOfModel("T", "dtmi:a:b;1", True)
    assert where("IS_OF_MODEL('dtmi:a:b;1')") == IsOfModel(None, "dtmi:a:b;1")
    assert where("is_of_model('dtmi:a:b;1', EXACT)") == IsOfModel(None, "dtmi:a:b;1", True)


def test_type_and_string_functions() -> None:
    for function in TypeFunction:
        assert where(f"{function.value}(T.a.b)") == TypeCheck(function, T("a", "b"))
    for matcher in StringFunction:
        assert where(f"{matcher.value.lower()}(T.a, 'x')") == StringMatch(matcher, T("a"), "x")


def test_boolean_operators_precedence_and_parentheses() -> None:
    a, b, c = (Comparison(T(n), CompareOp.EQ, Literal(1)) for n in "abc")
    assert where("T.a = 1 OR T.b = 1 AND T.c = 1") == Or((a, And((b, c))))
    assert where("(T.a = 1 OR T.b = 1) AND T.c = 1") == And((Or((a, b)), c))
    assert where("NOT T.a = 1 AND T.b = 1") == And((Not(a), b))
    assert where("NOT (T.a = 1 AND T.b = 1)") == Not(And((a, b)))
    assert where("T.a = 1 AND T.b = 1 AND T.c = 1") == And((a, b, c))
    assert where("((T.a = 1))") == a


def test_keywords_are_case_insensitive() -> None:
    lower = parse_query(
        "select top(2) t from digitaltwins as t join c related t.has r "
        "where not is_of_model(t, 'dtmi:x;1', exact) and t.a in [1] or t.b nin [2] "
        "and is_defined(t.c) and startswith(t.d, 'x')"
    )
    upper = parse_query(
        "SELECT TOP(2) t FROM DIGITALTWINS AS t JOIN c RELATED t.has r "
        "WHERE NOT IS_OF_MODEL(t, 'dtmi:x;1', EXACT) AND t.a IN [1] OR t.b NIN [2] "
        "AND IS_DEFINED(t.c) AND STARTSWITH(t.d, 'x')"
    )
    assert lower == upper


def test_names_are_case_sensitive() -> None:
    assert rule_of("SELECT t FROM DIGITALTWINS T") == "unknownAlias"


def test_keywords_may_name_properties_and_relationships() -> None:
    query = parse_query(
        "SELECT T.select FROM DIGITALTWINS T JOIN C RELATED T.contains WHERE T.where.from = 1 "
        "AND CONTAINS(C.contains, 'x') AND T.selection = 2"
    )
    assert query.joins == (Join("C", "T", "contains"),)
    assert query.projection == (SelectItem(T("select")),)


# -- errors ------------------------------------------------------------------------------


def syntax_error(text: str) -> MalformedInput:
    with pytest.raises(MalformedInput) as caught:
        parse_query(text)
    return caught.value


def test_syntax_error_names_line_column_and_expectation() -> None:
    error = syntax_error("SELECT * FROM DIGITALTWINS T\nWHERE T.a = = 1")
    message = error.violations[0].message
    assert message.startswith("line 2, column 13: unexpected '='")
    assert "expected" in message and "a string" in message and "a number" in message
    assert error.violations[0].field == "query"
    assert error.violations[0].rule == "syntax"
    assert error.status == 400


def test_missing_from_is_reported_at_the_end() -> None:
    message = syntax_error("SELECT T").violations[0].message
    assert message.startswith("line 1, column 9: unexpected end of the query")
    assert "FROM" in message


@pytest.mark.parametrize(
    "text",
    [
        "SELECT FROM DIGITALTWINS",
        "SELECT * FROM DIGITALTWINS AS where",
        "SELECT * FROM DIGITALTWINS T JOIN Join RELATED T.x",
        "SELECT * FROM DIGITALTWINS T JOIN C RELATED T.x AS count",
        "SELECT * FROM DIGITALTWINS WHERE exact = 1",
    ],
)
def test_reserved_words_cannot_be_aliases_or_path_heads(text: str) -> None:
    error = syntax_error(text)
    assert error.violations[0].rule == "reservedWord"
    assert "line 1, column" in error.detail


def test_unknown_character_is_reported() -> None:
    message = syntax_error("SELECT * FROM DIGITALTWINS T WHERE T.a # 1").violations[0].message
    assert message.startswith("line 1, column 40: unexpected character '#'")


def test_unclosed_string_and_bad_escape() -> None:
    assert "column" in syntax_error("SELECT * FROM DIGITALTWINS T WHERE T.a = 'x").detail
    error = syntax_error(r"SELECT * FROM DIGITALTWINS T WHERE T.a = 'x\q'")
    assert error.violations[0].rule == "invalidEscape"
    assert "line 1, column 42" in error.detail


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("SELECT X FROM DIGITALTWINS T", "unknownAlias"),
        ("SELECT * FROM DIGITALTWINS T WHERE X.a = 1", "unknownAlias"),
        ("SELECT * FROM DIGITALTWINS T JOIN C RELATED X.has", "unknownAlias"),
        ("SELECT * FROM DIGITALTWINS JOIN C RELATED T.has", "unknownAlias"),
        ("SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL(X, 'dtmi:a;1')", "unknownAlias"),
        ("SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL(T, 'dtmi:a;1')", "unknownAlias"),
        (
            "SELECT * FROM DIGITALTWINS T JOIN C RELATED T.has R WHERE IS_OF_MODEL(R, 'dtmi:a;1')",
            "notATwinAlias",
        ),
        ("SELECT * FROM DIGITALTWINS T JOIN C RELATED T.has R JOIN D RELATED R.x", "notATwinAlias"),
        (
            "SELECT * FROM DIGITALTWINS T JOIN C RELATED T.has WHERE IS_OF_MODEL('dtmi:a;1')",
            "ambiguousAlias",
        ),
        ("SELECT * FROM DIGITALTWINS T JOIN T RELATED T.has", "duplicateAlias"),
        ("SELECT * FROM DIGITALTWINS T JOIN C RELATED T.has C", "duplicateAlias"),
        ("SELECT TOP(0) * FROM DIGITALTWINS", "topOutOfRange"),
        ("SELECT TOP(-3) * FROM DIGITALTWINS", "topOutOfRange"),
        ("SELECT TOP(1.5) * FROM DIGITALTWINS", "topOutOfRange"),
        ("SELECT TOP(2) COUNT() FROM DIGITALTWINS", "topWithCount"),
        ("SELECT T.a, C.a FROM DIGITALTWINS T JOIN C RELATED T.has", "duplicateProjection"),
        ("SELECT * FROM DIGITALTWINS T WHERE T.a = T.b", "unsupportedComparison"),
        ("SELECT * FROM DIGITALTWINS T WHERE 1 = 1", "unsupportedComparison"),
        ("SELECT * FROM DIGITALTWINS T WHERE T.a < true", "unsupportedComparison"),
        ("SELECT * FROM DIGITALTWINS T WHERE T.a >= null", "unsupportedComparison"),
        ("SELECT * FROM DIGITALTWINS T WHERE T = 1", "propertyRequired"),
        ("SELECT * FROM DIGITALTWINS T WHERE IS_DEFINED(T)", "propertyRequired"),
        ("SELECT * FROM DIGITALTWINS T WHERE T.$id = 'x'", "unknownSystemProperty"),
        ("SELECT * FROM DIGITALTWINS T WHERE T.a.$b = 'x'", "unknownSystemProperty"),
        (
            "SELECT * FROM DIGITALTWINS T JOIN C RELATED T.has R WHERE R.$dtId = 'x'",
            "unknownSystemProperty",
        ),
        ("SELECT * FROM DIGITALTWINS T WHERE T.a = 99999999999999999999", "numberOutOfRange"),
        ("SELECT * FROM DIGITALTWINS T WHERE T.a = 1e999", "numberOutOfRange"),
        (r"SELECT * FROM DIGITALTWINS T WHERE T.a = 'a\u0000'", "invalidString"),
    ],
)
def test_semantic_errors_name_the_rule(text: str, rule: str) -> None:
    assert rule_of(text) == rule


def test_semantic_errors_are_invalid_not_malformed() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_query("SELECT X FROM DIGITALTWINS T")
    assert not isinstance(caught.value, MalformedInput)
    assert caught.value.status == 422
    assert caught.value.violations[0].field == "query"
    assert caught.value.violations[0].value == "X"


def test_limits_are_enforced_and_named() -> None:
    assert rule_of("SELECT * FROM DIGITALTWINS " + " " * 8000) == "maxLength"
    joins = " ".join(f"JOIN N{i + 1} RELATED N{i}.next" for i in range(21))
    assert rule_of(f"SELECT * FROM DIGITALTWINS N0 {joins}") == "maxJoins"
    assert rule_of(f"SELECT * FROM DIGITALTWINS N0 {joins}", QueryLimits(max_joins=3)) == "maxJoins"
    values = ", ".join(str(i) for i in range(501))
    assert rule_of(f"SELECT * FROM DIGITALTWINS T WHERE T.a IN [{values}]") == "maxInValues"
    nested = "NOT (" * 40 + "T.a = 1" + ")" * 40
    assert rule_of(f"SELECT * FROM DIGITALTWINS T WHERE {nested}") == "maxDepth"
    many = " OR ".join(f"T.a = {i}" for i in range(201))
    assert rule_of(f"SELECT * FROM DIGITALTWINS T WHERE {many}") == "maxConditions"


def test_deep_parentheses_do_not_recurse() -> None:
    text = "SELECT * FROM DIGITALTWINS T WHERE " + "(" * 3000 + "T.a = 1" + ")" * 3000
    assert parse_query(text).where == Comparison(T("a"), CompareOp.EQ, Literal(1))
    deep_not = "SELECT * FROM DIGITALTWINS T WHERE " + "NOT " * 1900 + "T.a = 1"
    assert rule_of(deep_not) == "maxDepth"


def test_explain_shows_tenant_scoped_sql_for_both_dialects() -> None:
    text = "SELECT C FROM DIGITALTWINS T JOIN C RELATED T.has WHERE T.a.b > 1"
    sqlite = explain(text, tenant="acme")
    assert "json_type(t0.contents" in sqlite
    assert "t1.tenant = 'acme'" in sqlite
    postgres = explain(text, dialect="postgresql", tenant="acme")
    assert "jsonb_typeof(t0.contents #>" in postgres
    assert "r1.tenant = 'acme'" in postgres


# -- property-based ----------------------------------------------------------------------

names = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_]{0,6}\Z")
# Aliases and path heads must avoid keywords; names after a dot or AS need not.
identifiers = names.filter(lambda n: n.lower() not in RESERVED)
texts = st.text(st.characters(exclude_characters="\x00"), max_size=12)
literals = st.one_of(
    texts.map(Literal),
    st.integers(-(2**63), 2**63 - 1).map(Literal),
    st.floats(allow_nan=False, allow_infinity=False).map(Literal),
    st.booleans().map(Literal),
    st.just(Literal(None)),
)


@st.composite
def queries(draw: st.DrawFn) -> Query:
    alias = draw(st.none() | identifiers)
    twins: list[str | None] = [alias]
    relationships: list[str] = []
    joins: list[Join] = []
    if alias is not None:
        used = {alias}
        for _ in range(draw(st.integers(0, 4))):
            new = draw(identifiers.filter(lambda n: n not in used))
            used.add(new)
            rel_alias = draw(st.none() | identifiers.filter(lambda n: n not in used))
            if rel_alias is not None:
                used.add(rel_alias)
                relationships.append(rel_alias)
            source = draw(st.sampled_from(twins))
            assert source is not None
            joins.append(Join(new, source, draw(names), rel_alias))
            twins.append(new)

    def property_path(allow_empty: bool = False) -> st.SearchStrategy[PropertyPath]:
        @st.composite
        def build(d: st.DrawFn) -> PropertyPath:
            owner = d(st.sampled_from([*twins, *relationships]))
            system = TWIN_SYSTEM_PATHS if owner in twins else RELATIONSHIP_SYSTEM_PATHS
            head = identifiers if owner is None else names
            plain = st.builds(lambda h, t: (h, *t), head, st.lists(names, max_size=2))
            choices = [st.sampled_from(sorted(system)), plain]
            if allow_empty and owner is not None:
                choices.append(st.just(()))
            return PropertyPath(owner, d(st.one_of(*choices)))

        return build()

    def comparison(d: st.DrawFn) -> Comparison:
        value = d(literals)
        ops = list(CompareOp)
        if isinstance(value.value, bool) or value.value is None:
            ops = [CompareOp.EQ, CompareOp.NE]
        return Comparison(d(property_path()), d(st.sampled_from(ops)), value)

    single = len(twins) == 1
    model_aliases = [a for a in twins if a is not None] + ([None] if single else [])
    leaves = st.one_of(
        st.composite(comparison)(),
        st.builds(
            InList, property_path(), st.lists(literals, max_size=4).map(tuple), st.booleans()
        ),
        st.builds(IsOfModel, st.sampled_from(model_aliases), texts, st.booleans()),
        st.builds(TypeCheck, st.sampled_from(list(TypeFunction)), property_path()),
        st.builds(StringMatch, st.sampled_from(list(StringFunction)), property_path(), texts),
    )
    exprs = st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, min_size=2, max_size=3).map(lambda o: And(tuple(o))),
            st.lists(inner, min_size=2, max_size=3).map(lambda o: Or(tuple(o))),
            inner.map(Not),
        ),
        max_leaves=8,
    )
    items = st.lists(
        st.builds(SelectItem, property_path(allow_empty=True), st.none() | names),
        min_size=1,
        max_size=3,
    ).map(tuple)
    projection = draw(st.one_of(st.just(Star()), st.just(CountAll()), items))
    if isinstance(projection, tuple):
        keys = [item.key for item in projection]
        assume(len(set(keys)) == len(keys))
    top = None if isinstance(projection, CountAll) else draw(st.none() | st.integers(1, 10**6))
    where_ = draw(st.none() | exprs)
    return Query(projection, alias, tuple(joins), where_, top)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(queries())
def test_render_then_parse_gives_back_the_same_tree(query: Query) -> None:
    text = render(query)
    assert parse_query(text) == query
    assert render(parse_query(text)) == text


TOKENS = [
    "SELECT", "select", "*", "TOP", "(", ")", "3", "0", "-1", "COUNT", "FROM", "DIGITALTWINS",
    "T", "C", "R", "AS", "JOIN", "RELATED", "T.contains", "WHERE", "AND", "OR", "NOT",
    "T.a", "T.$dtId", "R.$sourceId", "C.b.c", "=", "!=", "<>", "<", ">=", "IN", "NIN", "[",
    "]", ",", "'x'", '"y"', "1.5", "1e999", "true", "null", "IS_OF_MODEL", "exact",
    "IS_DEFINED", "STARTSWITH", "'dtmi:a;1'", ".", "$metadata", "'\\u0000'", "\n",
]  # fmt: skip


@settings(max_examples=500)
@given(st.text(max_size=200))
def test_arbitrary_text_fails_only_with_input_errors(text: str) -> None:
    with contextlib.suppress(InvalidInput):
        parse_query(text)


@settings(max_examples=1000)
@given(st.lists(st.sampled_from(TOKENS), max_size=30).map(" ".join))
def test_token_soup_fails_only_with_input_errors(text: str) -> None:
    try:
        query = parse_query(text)
    except InvalidInput:
        return
    # Whatever parses also renders and compiles.
    assert parse_query(render(query)) == query
    explain(query)
    explain(query, dialect="postgresql")


def test_render_escapes_quotes_backslashes_and_control_characters() -> None:
    query = Query(Star(), "T", where=Comparison(T("a"), CompareOp.EQ, Literal("a'b\\c\n\x7f")))
    text = render(query)
    assert text.endswith(r"WHERE T.a = 'a\'b\\c\u000a\u007f'")
    assert parse_query(text) == query
