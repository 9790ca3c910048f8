"""Entry points: parse a set of DTDL documents into a validated model set, load files."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

from twinops.models.dtdl.build import EntityBuilder
from twinops.models.dtdl.checks import (
    ModelGraph,
    check_adjunct_rules,
    check_cycles,
    check_interfaces,
    check_references,
    check_schemas,
    find_missing,
)
from twinops.models.dtdl.elements import Interface
from twinops.models.dtdl.nodes import Node
from twinops.models.dtdl.problems import DtdlProblem, DtdlSource, ParseResult
from twinops.models.dtdl.walker import DocumentWalker, WalkState

Resolver = Callable[[str], Any | None]
_MAX_RESOLVE_ROUNDS = 32
# References into these namespaces name language elements, never user models.
_RESERVED_REFERENCE_PREFIXES = ("dtmi:dtdl:", "dtmi:standard:", "dtmi:iotcentral:")


def _decode(source: DtdlSource, problems: list[DtdlProblem]) -> Any:
    if source.text is None:
        return source.obj
    text = source.text.removeprefix("\ufeff")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as error:
        problems.append(DtdlProblem(source.name, "/", "invalidJson", f"not valid JSON: {error}"))
        return None


def parse_documents(
    sources: Sequence[DtdlSource],
    *,
    resolver: Resolver | None = None,
    allow_undefined_extensions: bool | None = True,
    max_dtdl_version: int = 3,
    tolerate_solecisms: bool = False,
) -> ParseResult:
    """Parse and validate DTDL documents as one model set; never raises on bad input.

    ``allow_undefined_extensions=None`` follows the spec's recommendation: undefined extension
    contexts are tolerated in DTDL v2 and rejected in v3. ``tolerate_solecisms`` accepts
    legal-but-discouraged forms (a reserved ``dtmi:dtdl:``/``dtmi:standard:`` prefix on the
    ``@id`` of a nested element), like the reference parser's TolerateSolecismsInParse quirk.
    """
    problems: list[DtdlProblem] = []

    def report(source: str, element: str, rule: str, message: str) -> None:
        problems.append(DtdlProblem(source, element, rule, message))

    state = WalkState(
        allow_undefined=allow_undefined_extensions,
        max_version=max_dtdl_version,
        tolerate_solecisms=tolerate_solecisms,
    )
    documents: dict[str, Any] = {}
    for source in sources:
        root = _decode(source, problems)
        if root is None and source.text is None and source.obj is None:
            report(source.name, "/", "invalidJson", "empty document")
            continue
        if root is None and source.text is not None:
            continue
        _walk(source.name, root, state, report, documents)
    graph = ModelGraph(state.nodes, report)
    find_missing(graph)
    if resolver is not None and graph.missing:
        _resolve_missing(graph, resolver, state, report)
    check_references(graph)
    for dtmi, nodes in graph.missing.items():
        reserved = dtmi.startswith(_RESERVED_REFERENCE_PREFIXES)
        for node in nodes:
            report(
                node.source,
                node.where,
                "undefinedReservedId" if reserved else "unresolvedReference",
                f"'{dtmi}' uses a reserved prefix but names nothing the language defines"
                if reserved
                else f"'{dtmi}' is referenced but not defined in the documents or the store",
            )
    if check_cycles(graph):
        check_interfaces(graph)
        check_schemas(graph)
        check_adjunct_rules(graph)
    interfaces: dict[str, Interface] = {}
    if not problems:
        builder = EntityBuilder(graph)
        for node in state.nodes:
            if node.cls == "Interface" and node.id is not None:
                interfaces[node.id] = builder.interface(node)
    return ParseResult(
        problems=tuple(problems),
        interfaces=MappingProxyType(interfaces),
        documents=MappingProxyType(documents),
        unsupported_extensions=frozenset(state.unsupported),
    )


def _walk(
    name: str,
    root: Any,
    state: WalkState,
    report: Callable[[str, str, str, str], None],
    documents: dict[str, Any],
) -> list[Node]:
    walker = DocumentWalker(name, state, report)
    try:
        tops = walker.walk(root)
    except RecursionError:
        report(name, "/", "excessiveDepthNarrow", "the document is nested too deeply")
        return []
    items = root if isinstance(root, list) else [root]
    for node in tops:
        for item in items:
            if isinstance(item, dict) and item.get("@id") == node.id and node.id:
                documents[node.id] = item
    return tops


def _resolve_missing(
    graph: ModelGraph,
    resolver: Resolver,
    state: WalkState,
    report: Callable[[str, str, str, str], None],
) -> None:
    asked: set[str] = set()
    for _round in range(_MAX_RESOLVE_ROUNDS):
        wanted = [dtmi for dtmi in graph.missing if dtmi not in asked]
        if not wanted:
            return
        for dtmi in wanted:
            asked.add(dtmi)
            try:
                found = resolver(dtmi)
            except Exception as error:  # a store failure must become a problem, not a crash
                report("resolver", dtmi, "resolverFailed", f"resolving '{dtmi}' failed: {error}")
                continue
            if found is None:
                continue
            before = len(state.nodes)
            payload = found if not isinstance(found, str) else json.loads(found)
            _walk(f"resolved:{dtmi}", payload, state, report, {})
            for node in state.nodes[before:]:
                if node.id is not None and node.id not in graph.by_id:
                    graph.by_id[node.id] = node
        graph.nodes = state.nodes
        find_missing(graph)


def load_paths(paths: Sequence[str | Path]) -> list[DtdlSource]:
    """Read DTDL files and folders (recursively, ``*.json``) as sources, tolerating a BOM."""
    sources: list[DtdlSource] = []
    for path in map(Path, paths):
        files = sorted(path.rglob("*.json")) if path.is_dir() else [path]
        for file in files:
            try:
                text = file.read_text(encoding="utf-8-sig")
            except (OSError, UnicodeDecodeError):
                # An unreadable file is reported by parse_documents as an empty document.
                sources.append(DtdlSource(str(file), obj=None))
                continue
            sources.append(DtdlSource(str(file), text=text))
    return sources
