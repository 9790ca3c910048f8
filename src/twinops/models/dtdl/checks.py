"""Rules that span elements: references, inheritance, uniqueness, depth limits, cycles."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from twinops.models.dtdl.extensions import OVERRIDABLE
from twinops.models.dtdl.metamodel import (
    GEOSPATIAL_SCHEMAS,
    NUMERIC_SCHEMAS,
    element_classes,
)
from twinops.models.dtdl.nodes import Node, Ref, Standard
from twinops.models.dtdl.units import semantic_unit_type

Report = Callable[[str, str, str, str], None]
MAX_SCHEMA_DEPTH = 5
MAX_EXTENDS_DEPTH = 10
MAX_EXTENDS_TOTAL = 1024


class ModelGraph:
    """The parsed elements with dependent references resolved."""

    def __init__(self, nodes: list[Node], report: Report) -> None:
        self.nodes = nodes
        self.report = report
        self.by_id: dict[str, Node] = {}
        self.missing: dict[str, list[Node]] = {}
        for node in nodes:
            if node.id is None:
                continue
            if node.id in self.by_id:
                report(
                    node.source,
                    node.where,
                    "duplicateDefinition",
                    f"'{node.id}' is defined more than once",
                )
                continue
            self.by_id[node.id] = node

    def problem(self, node: Node, rule: str, message: str) -> None:
        """Record a problem on an element."""
        self.report(node.source, node.where, rule, message)

    def target(self, value: Any) -> Node | None:
        """The element a member value stands for (itself, or what a reference names)."""
        if isinstance(value, Node):
            return value
        if isinstance(value, Ref):
            return self.by_id.get(value.dtmi)
        return None

    def edges(self, node: Node) -> Iterator[tuple[str, Node]]:
        """(member, child element) for every element-valued member, references resolved."""
        for member, values in node.members.items():
            for value in values:
                child = self.target(value)
                if child is not None:
                    yield member, child

    def children(self, node: Node, member: str) -> list[Node]:
        """The resolved elements of one member."""
        found = (self.target(v) for v in node.members.get(member, []))
        return [child for child in found if child is not None]


def find_missing(graph: ModelGraph) -> None:
    """Collect the DTMIs referenced but not defined, with the elements referring to them."""
    graph.missing.clear()
    for node in graph.nodes:
        for values in node.members.values():
            for value in values:
                if isinstance(value, Ref) and value.dtmi not in graph.by_id:
                    graph.missing.setdefault(value.dtmi, []).append(node)


def check_references(graph: ModelGraph) -> None:
    """Dependent references must be referenceable and name an allowed class."""
    for node in graph.nodes:
        spec = element_classes(node.version)[node.cls]
        for member, values in node.members.items():
            allowed = spec.members[member].classes
            for value in values:
                if isinstance(value, Ref):
                    target = graph.by_id.get(value.dtmi)
                    if target is None:
                        continue
                    if not (
                        target.top_level
                        or target.cls == "Interface"
                        or target.partition == node.partition
                    ):
                        graph.problem(
                            node,
                            "crossPartitionReference",
                            f"'{member}' refers to '{value.dtmi}', nested in another element",
                        )
                        continue
                else:
                    target = value if isinstance(value, Node) else None
                if target is None:
                    continue
                if target.cls not in allowed or _version_mismatch(node, member, target):
                    graph.problem(
                        node,
                        "badType",
                        f"'{member}' must be {' or '.join(allowed)}, not a {target.cls}",
                    )


_V2_EMBEDDABLE = frozenset({"contents", "extends", "schema", "elementSchema", "properties"})


def _version_mismatch(node: Node, member: str, target: Node) -> bool:
    if target.version == node.version:
        return False
    if node.version == 2:
        return True
    return member not in _V2_EMBEDDABLE or (member == "schema" and node.cls == "MapKey")


def check_cycles(graph: ModelGraph) -> bool:
    """No element may have a path to itself; returns False when a cycle was found."""
    state: dict[int, int] = {}
    ok = True

    def visit(node: Node) -> bool:
        key = id(node)
        if state.get(key) == 2:
            return True
        if state.get(key) == 1:
            return False
        state[key] = 1
        for _member, child in graph.edges(node):
            if not visit(child):
                if state.get(id(node)) != 3:
                    graph.problem(
                        node,
                        "recursiveStructureNarrow",
                        f"{node.cls} '{node.where}' has a path to itself",
                    )
                state[key] = 3
                return False
        state[key] = 2
        return True

    for node in graph.nodes:
        if state.get(id(node)) is None and not visit(node):
            ok = False
    return ok and all(v != 3 for v in state.values())


def _inherited(graph: ModelGraph, interface: Node) -> list[Node]:
    """The interface and everything it extends (each once)."""
    order: list[Node] = []
    seen: set[int] = set()
    stack = [interface]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        order.append(current)
        stack.extend(graph.children(current, "extends"))
    return order


def all_contents(graph: ModelGraph, interface: Node) -> list[Node]:
    """Contents of an interface including inherited ones, each element once."""
    found: list[Node] = []
    seen: set[int] = set()
    for current in _inherited(graph, interface):
        for child in graph.children(current, "contents"):
            if id(child) not in seen:
                seen.add(id(child))
                found.append(child)
    return found


def check_interfaces(graph: ModelGraph) -> None:
    """Inheritance limits, unique content names, and no components inside components."""
    depth_cache: dict[int, int] = {}

    def depth(node: Node) -> int:
        key = id(node)
        if key not in depth_cache:
            depth_cache[key] = 0
            parents = graph.children(node, "extends")
            depth_cache[key] = max((1 + depth(p) for p in parents), default=0)
        return depth_cache[key]

    for node in graph.nodes:
        if node.cls != "Interface":
            continue
        if depth(node) > MAX_EXTENDS_DEPTH:
            graph.problem(
                node,
                "excessiveDepthNarrow",
                f"'extends' is nested more than {MAX_EXTENDS_DEPTH} levels deep",
            )
        if node.version >= 3:
            total = sum(len(n.members.get("extends", [])) for n in _inherited(graph, node))
            if total > MAX_EXTENDS_TOTAL:
                graph.problem(
                    node,
                    "excessiveDepthWide",
                    f"more than {MAX_EXTENDS_TOTAL} interfaces in the 'extends' hierarchy",
                )
        names: dict[str, Node] = {}
        for content in all_contents(graph, node):
            name = content.literals.get("name")
            if not isinstance(name, str):
                continue
            if name in names:
                own = content in graph.children(node, "contents")
                rule = "nonUniquePropertyValue" if own else "nonUniqueImportedPropertyValue"
                graph.problem(node, rule, f"contents name '{name}' is used more than once")
                break
            names[name] = content
        _check_adjuncts(graph, node)
    for node in graph.nodes:
        if node.cls != "Component":
            continue
        for schema in graph.children(node, "schema"):
            if any(c.cls == "Component" for c in all_contents(graph, schema)):
                graph.problem(
                    node,
                    "recursiveStructureWide",
                    f"component '{node.literals.get('name')}' uses an interface with components",
                )


def _check_adjuncts(graph: ModelGraph, interface: Node) -> None:
    """Extension rules across contents: unique MQTT indexes, annotations name a value."""
    contents = all_contents(graph, interface)
    by_name = {c.literals.get("name"): c for c in contents}
    indexes: set[Any] = set()
    for content in contents:
        if "Indexed" in content.adjuncts:
            index = content.literals.get("index")
            if index in indexes:
                graph.problem(interface, "nonUniquePropertyValue", f"index {index} is used twice")
            indexes.add(index)
        if "ValueAnnotation" in content.adjuncts:
            target = by_name.get(content.literals.get("annotates"))
            if target is None:
                continue
            if target.cls not in ("Property", "Telemetry"):
                graph.problem(
                    content,
                    "notSiblingRequiredType",
                    f"'annotates' names a {target.cls}, not a Property or Telemetry",
                )
            elif "ValueAnnotation" in target.adjuncts:
                graph.problem(
                    content, "disallowedType", "an annotation cannot annotate an annotation"
                )
    _check_overrides(graph, interface, contents, by_name)


def _check_overrides(
    graph: ModelGraph, interface: Node, contents: list[Node], by_name: dict[Any, Node]
) -> None:
    """An Override names a supplemental property of the annotated element, once, by its type."""
    overridden: set[tuple[int, str]] = set()
    for content in contents:
        if "Override" not in content.adjuncts:
            continue
        target = by_name.get(content.literals.get("annotates"))
        if target is None or target.cls not in ("Property", "Telemetry"):
            continue
        raw = str(content.literals.get("overrides", ""))
        overridden_term = OVERRIDABLE.get(raw)
        if overridden_term is None:
            core = element_classes(target.version)[target.cls].members
            name = (
                raw.split(":")[-1].split(";")[0] if raw.startswith("dtmi:dtdl:property:") else raw
            )
            rule = (
                "matchingPropertyNotSupplemental"
                if name in core
                else "noMatchingSupplementalProperty"
            )
            graph.problem(
                content, rule, f"'overrides' value '{raw}' is not a supplemental property"
            )
            continue
        if target.unit is None:
            graph.problem(
                content,
                "noMatchingSupplementalProperty",
                f"'{target.literals.get('name')}' has no '{overridden_term}' to override",
            )
            continue
        key = (id(target), overridden_term)
        if key in overridden:
            graph.problem(
                interface,
                "multipleReference",
                f"'{overridden_term}' of '{target.literals.get('name')}' is overridden twice",
            )
            continue
        overridden.add(key)
        expected = (
            semantic_unit_type(target.version, target.semantic_types[0])
            if target.semantic_types
            else None
        )
        schemas = content.members.get("schema", [])
        actual = schemas[0].term if len(schemas) == 1 and isinstance(schemas[0], Standard) else None
        if expected is not None and actual != expected:
            graph.problem(
                content,
                "siblingPropertyMismatch",
                f"an Override of '{overridden_term}' needs schema {expected}, not {actual}",
            )


def _unique(graph: ModelGraph, node: Node, member: str, literal: str) -> None:
    seen: set[Any] = set()
    for child in graph.children(node, member):
        value = child.literals.get(literal)
        if value is None:
            continue
        key = (type(value), value)
        if key in seen:
            graph.problem(
                node,
                "nonUniquePropertyValue",
                f"'{literal}' value {value!r} is used more than once in '{member}'",
            )
            return
        seen.add(key)


def check_schemas(graph: ModelGraph) -> None:
    """Unique field/value names, enum value types, schema depth, v2 Property restrictions."""
    for node in graph.nodes:
        if node.cls == "Object":
            _unique(graph, node, "fields", "name")
        elif node.cls == "Relationship":
            _unique(graph, node, "properties", "name")
        elif node.cls == "Enum":
            _unique(graph, node, "enumValues", "name")
            _unique(graph, node, "enumValues", "enumValue")
            value_schema = node.literals.get("valueSchema")
            for value in graph.children(node, "enumValues"):
                literal = value.literals.get("enumValue")
                if literal is None:
                    continue
                is_int = isinstance(literal, int) and not isinstance(literal, bool)
                if value_schema == "integer" and not (is_int and -(2**31) <= literal < 2**31):
                    graph.problem(
                        value, "integerNotInteger", f"enumValue {literal!r} is not an integer"
                    )
                elif value_schema == "string" and not isinstance(literal, str):
                    graph.problem(
                        value, "stringNotString", f"enumValue {literal!r} is not a string"
                    )
    depth_cache: dict[int, int] = {}

    def depth(node: Node) -> int:
        key = id(node)
        if key not in depth_cache:
            depth_cache[key] = 0
            best = 0
            for member, values in node.members.items():
                step = 1 if member in ("schema", "elementSchema") else 0
                for value in values:
                    if isinstance(value, Standard):
                        best = max(best, step)
                        continue
                    child = graph.target(value)
                    if child is None or child.cls == "Interface":
                        continue
                    best = max(best, step + depth(child))
            depth_cache[key] = best
        return depth_cache[key]

    for node in graph.nodes:
        if node.cls in ("Array", "Map", "Object") and depth(node) > MAX_SCHEMA_DEPTH:
            graph.problem(
                node,
                "excessiveDepthWide",
                f"{node.cls} nests schemas more than {MAX_SCHEMA_DEPTH} levels deep",
            )
    for node in graph.nodes:
        if node.version == 2 and node.cls == "Property" and _holds_array(graph, node):
            graph.problem(
                node,
                "disallowedType",
                "a DTDL v2 Property cannot use an Array or geospatial schema",
            )
        if node.semantic_types:
            schemas = node.members.get("schema", [])
            if not (
                len(schemas) == 1
                and isinstance(schemas[0], Standard)
                and schemas[0].term in NUMERIC_SCHEMAS
            ):
                graph.problem(
                    node,
                    "notSiblingRequiredType",
                    f"semantic type {node.semantic_types[0]} needs a numeric schema",
                )


def check_adjunct_rules(graph: ModelGraph) -> None:
    """Extension co-types that restrict the schema, the parent, or the siblings of an element."""
    for node in graph.nodes:
        for spec in node.adjunct_specs:
            if spec.restricts_schema:
                _check_adjunct_schema(graph, node, spec)
            if spec.parent is not None and (
                node.parent is None or spec.parent not in node.parent.adjuncts
            ):
                graph.problem(
                    node,
                    "invalidCotype",
                    f"'{spec.term}' needs a parent element co-typed '{spec.parent}'",
                )
            if spec.children:
                for child in graph.children(node, "fields"):
                    if not spec.children & set(child.adjuncts):
                        graph.problem(
                            child,
                            "missingCocotype",
                            f"a field of a '{spec.term}' needs one of {sorted(spec.children)}",
                        )
        for member in node.members:
            seen: set[str] = set()
            for child in graph.children(node, member):
                for spec in child.adjunct_specs:
                    if not spec.single:
                        continue
                    if spec.term in seen:
                        graph.problem(
                            node,
                            "nonUniqueCotype",
                            f"more than one '{member}' value is co-typed '{spec.term}'",
                        )
                    seen.add(spec.term)


def _check_adjunct_schema(graph: ModelGraph, node: Node, spec: Any) -> None:
    for value in node.members.get("schema", []):
        if isinstance(value, Standard):
            if value.term in spec.schema_terms:
                continue
            found = value.term
        else:
            target = graph.target(value)
            if target is None or target.cls in spec.schema_classes:
                continue
            found = f"a {target.cls}"
        allowed = sorted(spec.schema_terms | spec.schema_classes)
        graph.problem(
            node,
            "notRequiredValue"
            if spec.schema_terms and not spec.schema_by_type
            else "notRequiredType",
            f"a '{spec.term}' element's schema must be {' or '.join(allowed)}, not {found}",
        )


def _holds_array(graph: ModelGraph, prop: Node) -> bool:
    seen: set[int] = set()
    stack = [prop]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for value in node.members.get("schema", []):
            if isinstance(value, Standard) and value.term in GEOSPATIAL_SCHEMAS:
                return True
            child = graph.target(value)
            if child is not None and child.cls == "Array":
                return True
        for _member, child in graph.edges(node):
            stack.append(child)
    return False
