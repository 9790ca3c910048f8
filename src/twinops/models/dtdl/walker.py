"""The element walk: decodes one JSON document into nodes, checking each element locally."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from twinops.models.dtdl import extensions
from twinops.models.dtdl.dtmi import is_reserved_id, is_user_dtmi, parse_dtmi, versionless
from twinops.models.dtdl.literals import localizable, representational
from twinops.models.dtdl.metamodel import (
    DTDL_CONTEXT_PREFIX,
    SUPPORTED_VERSIONS,
    ElementClass,
    Kind,
    Member,
    class_dtmi,
    element_classes,
    property_dtmi,
    reserved_terms,
    semantic_type_dtmis,
    standard_schema_values,
    unit_dtmis,
)
from twinops.models.dtdl.nodes import ActiveContext, Node, Ref, Standard
from twinops.models.dtdl.units import semantic_units, unit_types

Report = Callable[[str, str, str], None]
_partitions = itertools.count(1)


def pointer_join(pointer: str, token: str | int) -> str:
    """Append one reference token to a JSON pointer (RFC 6901 escaping)."""
    text = str(token).replace("~", "~0").replace("/", "~1")
    return f"{pointer}/{text}"


@dataclass
class WalkState:
    """Everything one parse collects across documents."""

    allow_undefined: bool | None
    max_version: int = 3
    nodes: list[Node] = field(default_factory=list)
    unsupported: set[str] = field(default_factory=set)
    tolerate_solecisms: bool = False


class DocumentWalker:
    """Walks the top-level elements of one source into nodes."""

    def __init__(self, source: str, state: WalkState, report: Callable[[str, str, str, str], None]):
        self.source = source
        self.state = state
        self._report = report

    def problem(self, where: str, rule: str, message: str) -> None:
        """Record a problem found in this source."""
        self._report(self.source, where or "/", rule, message)

    # --- documents and contexts -------------------------------------------------------------

    def walk(self, root: Any) -> list[Node]:
        """Walk a document root (an object or an array of objects)."""
        if isinstance(root, dict):
            items: list[tuple[Any, str]] = [(root, "")]
        elif isinstance(root, list):
            items = [(item, pointer_join("", i)) for i, item in enumerate(root)]
        else:
            self.problem("/", "notObjectOrArray", "a DTDL document must be an object or an array")
            return []
        tops: list[Node] = []
        for item, pointer in items:
            if not isinstance(item, dict):
                self.problem(pointer, "notObject", "a top-level value must be a JSON object")
                continue
            if "@graph" in item:
                self.problem(pointer, "topLevelGraphDisallowed", "'@graph' is not allowed")
                continue
            if "@context" not in item:
                self.problem(pointer, "missingContext", "a top-level element needs '@context'")
                continue
            node = self.element(item, pointer, None, ("Interface",), None, None, None, top=True)
            if node is not None:
                tops.append(node)
        return tops

    def context(self, value: Any, parent: ActiveContext | None, where: str) -> ActiveContext | None:
        """Combine an '@context' value with the parent's active context."""
        values = value if isinstance(value, list) else [value]
        if isinstance(value, list) and not value:
            if parent is None:
                self.problem(where, "emptyContext", "'@context' is empty")
            return parent
        version = parent.version if parent else None
        exts = {versionless(e): e for e in parent.extensions} if parent else {}
        undefined = parent.undefined if parent else False
        seen_extension = False
        dtdl_seen = False
        for index, spec in enumerate(values):
            if not isinstance(spec, str):
                self.problem(where, "disallowedLocalContext", "'@context' values must be strings")
                return None
            dtmi = parse_dtmi(spec)
            if dtmi is None or dtmi.fragment:
                self.problem(where, "nonDtmiContextSpecifier", f"'{spec}' is not a DTMI")
                return None
            if ";" not in spec:
                self.problem(where, "missingContextVersion", f"'{spec}' has no version")
                return None
            if spec.startswith(DTDL_CONTEXT_PREFIX):
                major = dtmi.major_version
                if dtmi.minor_version or major not in SUPPORTED_VERSIONS:
                    self.problem(
                        where, "unrecognizedContextVersion", f"unknown DTDL context '{spec}'"
                    )
                    return None
                if major > self.state.max_version:
                    self.problem(where, "disallowedContextVersion", f"'{spec}' is not allowed")
                    return None
                # DTDL v2 lets the IoT Central affiliate context precede the DTDL context.
                affiliate_first = major == 2 and all(
                    v == extensions.IOTCENTRAL for v in values[:index]
                )
                if seen_extension and not affiliate_first:
                    self.problem(
                        where,
                        "dtdlContextFollowsAffiliate",
                        f"'{spec}' must precede extension contexts",
                    )
                    return None
                if parent is not None and parent.version == 2 and major == 3:
                    self.problem(
                        where,
                        "invalidContextSpecifierForVersion",
                        "a DTDL v2 element cannot contain DTDL v3 elements",
                    )
                    return None
                version = major
                dtdl_seen = True
                continue
            seen_extension = True
            exts[versionless(spec)] = spec
        if parent is None and not dtdl_seen:
            self.problem(
                where, "missingDtdlContext", "top-level '@context' must include the DTDL context"
            )
            return None
        if version is None:
            return None
        active: set[str] = set()
        for spec in exts.values():
            status = extensions.status(spec, version)
            if status == extensions.IMPLEMENTED:
                active.add(spec)
            elif status == extensions.KNOWN:
                self.state.unsupported.add(spec)
                active.add(spec)
                undefined = True
            elif status == extensions.WRONG_VERSION:
                self.problem(
                    where,
                    "invalidContextSpecifierForVersion",
                    f"extension '{spec}' is not usable in DTDL v{version}",
                )
                return None
            elif self.state.allow_undefined or (
                self.state.allow_undefined is None and version == 2
            ):
                undefined = True
            else:
                self.problem(
                    where, "unresolvableContextSpecifier", f"extension '{spec}' is not defined"
                )
                return None
        return ActiveContext(version, frozenset(active), undefined)

    # --- elements ---------------------------------------------------------------------------

    def element(
        self,
        obj: dict[str, Any],
        pointer: str,
        parent_ctx: ActiveContext | None,
        allowed: tuple[str, ...],
        inferred: str | None,
        parent: Node | None,
        via: str | None,
        *,
        top: bool = False,
        in_schemas: bool = False,
    ) -> Node | None:
        """Decode one element object; None when it is too broken to keep."""
        ctx = parent_ctx
        if "@context" in obj:
            ctx = self.context(obj["@context"], parent_ctx, pointer)
        if ctx is None:
            return None
        version = ctx.version
        classes = element_classes(version)
        raw_id = obj.get("@id")
        where = raw_id if isinstance(raw_id, str) else pointer
        cls, semantic, informal, _ = self._types(obj, ctx, classes, allowed, inferred, where, top)
        if cls is None:
            return None
        adjuncts: list[extensions.AdjunctType] = []
        raw_types = obj.get("@type")
        for term in raw_types if isinstance(raw_types, list) else [raw_types]:
            adjunct = extensions.adjunct_type(term, ctx) if isinstance(term, str) else None
            if adjunct is None:
                continue
            if cls not in adjunct.classes:
                self.problem(where, "invalidCotype", f"'{term}' cannot co-type a {cls}")
                return None
            adjuncts.append(adjunct)
        terms = {a.term for a in adjuncts}
        for adjunct in adjuncts:
            if adjunct.requires is not None and adjunct.requires not in terms:
                self.problem(
                    where,
                    "missingCocotype",
                    f"'{adjunct.term}' needs the co-type '{adjunct.requires}'",
                )
                return None
        spec = classes[cls]
        node = Node(
            cls=cls,
            version=version,
            source=self.source,
            pointer=pointer,
            partition=next(_partitions)
            if top or cls == "Interface"
            else parent.partition
            if parent
            else 0,
            top_level=top,
            parent=parent,
            via=via,
            informal=informal,
            semantic_types=semantic,
            adjuncts=[a.term for a in adjuncts],
            adjunct_specs=list(adjuncts),
        )
        self._id(obj, node, spec, in_schemas, where)
        self.state.nodes.append(node)
        self._members(obj, node, spec, ctx, where, adjuncts)
        return node

    def _types(
        self,
        obj: dict[str, Any],
        ctx: ActiveContext,
        classes: Any,
        allowed: tuple[str, ...],
        inferred: str | None,
        where: str,
        top: bool,
    ) -> tuple[str | None, list[str], bool, bool]:
        version = ctx.version
        raw = obj.get("@type")
        if raw is None:
            if "@type" in obj:
                self.problem(where, "badType", "'@type' must not be null")
                return None, [], False, False
            if inferred is not None:
                return inferred, [], False, True
            self.problem(where, "missingObjectProperty", "element has no '@type'")
            return None, [], False, False
        types = raw if isinstance(raw, list) else [raw]
        if not types or not all(isinstance(t, str) for t in types):
            self.problem(where, "badType", "'@type' must be a string or an array of strings")
            return None, [], False, False
        material: list[str] = []
        semantic: list[str] = []
        irrelevant: list[str] = []
        undefined: list[str] = []
        informal = False
        semantic_terms = self._semantic_terms(ctx)
        semantic_dtmis = semantic_type_dtmis(version) if semantic_terms else {}
        reserved = reserved_terms(version)
        for t in types:
            if t in classes:
                material.append(t)
            elif t.startswith("dtmi:dtdl:class:") and any(
                t == class_dtmi(c, version) for c in classes
            ):
                material.append(t.split(":")[3].split(";")[0])
            elif t in semantic_terms:
                semantic.append(t)
            elif t in semantic_dtmis:
                semantic.append(semantic_dtmis[t])
            elif extensions.defines_type(t, ctx):
                continue
            elif t.startswith("dtmi:"):
                if parse_dtmi(t) is None or not is_user_dtmi(t, 3):
                    self.problem(
                        where, "typeInvalidDtmi", f"'@type' value '{t}' is not a valid DTMI"
                    )
                    return None, [], False, False
                irrelevant.append(t)
            elif ":" in t:
                if version >= 3:
                    self.problem(
                        where, "badDtmiOrTerm", f"'@type' value '{t}' is neither DTMI nor term"
                    )
                    return None, [], False, False
                informal = True
            elif t in reserved:
                irrelevant.append(t)
            else:
                undefined.append(t)
        distinct = sorted(set(material))
        if not distinct:
            if top:
                self.problem(where, "typeNotRootable", "a top-level element must be an Interface")
            else:
                self.problem(
                    where, "noTypeThatAllows", f"'@type' {types} names no class allowed here"
                )
            return None, [], False, False
        if len(distinct) > 1:
            self.problem(
                where, "multipleMaterialTypes", f"'@type' names several classes {distinct}"
            )
            return None, [], False, False
        cls = distinct[0]
        if cls not in allowed:
            rule = "typeNotRootable" if top else "badType"
            self.problem(
                where, rule, f"a {cls} is not allowed here (expected {' or '.join(allowed)})"
            )
            return None, [], False, False
        incomplete = ctx.undefined
        for t in irrelevant:
            if not incomplete:
                self.problem(where, "invalidCotype", f"'{t}' cannot co-type a {cls}")
                return None, [], False, False
            informal = True
        for t in undefined:
            if version == 2 or incomplete:
                informal = True
            else:
                self.problem(where, "typeUndefinedTerm", f"'@type' value '{t}' is not defined")
                return None, [], False, False
        if semantic:
            if not classes[cls].semantic:
                self.problem(
                    where, "invalidCotype", f"semantic type {semantic[0]} cannot co-type a {cls}"
                )
                return None, [], False, False
            if len(set(semantic)) > 1:
                self.problem(
                    where, "conflictingSupplementalTypes", f"several semantic types {semantic}"
                )
                return None, [], False, False
        return cls, sorted(set(semantic)), informal, True

    def _semantic_terms(self, ctx: ActiveContext) -> frozenset[str]:
        if ctx.version == 2 or any(
            e.startswith("dtmi:dtdl:extension:quantitativeTypes;") for e in ctx.extensions
        ):
            return frozenset(semantic_units(ctx.version))
        return frozenset()

    def _id(
        self, obj: dict[str, Any], node: Node, spec: ElementClass, in_schemas: bool, where: str
    ) -> None:
        if "@id" not in obj:
            if spec.id_required or in_schemas:
                rule = "missingTopLevelId" if node.top_level else "missingRequiredId"
                self.problem(where, rule, f"a {node.cls} here needs an '@id'")
            return
        raw = obj["@id"]
        if not isinstance(raw, str):
            self.problem(where, "idNotString", "'@id' must be a string")
            return
        if not is_user_dtmi(raw, node.version):
            rule = "disallowedIdFragment" if "#" in raw and parse_dtmi(raw) else "invalidId"
            self.problem(where, rule, f"'@id' '{raw}' is not a valid DTMI for DTDL v{node.version}")
            return
        if is_reserved_id(raw) and not (self.state.tolerate_solecisms and not node.top_level):
            self.problem(where, "reservedId", f"'@id' '{raw}' uses a reserved prefix")
            return
        if spec.id_max_length is not None and len(raw) > spec.id_max_length:
            self.problem(
                where, "idTooLong", f"'@id' is longer than {spec.id_max_length} characters"
            )
            return
        node.id = raw

    # --- members ----------------------------------------------------------------------------

    def _members(
        self,
        obj: dict[str, Any],
        node: Node,
        spec: ElementClass,
        ctx: ActiveContext,
        where: str,
        adjuncts: list[extensions.AdjunctType],
    ) -> None:
        version = node.version
        seen: dict[str, str] = {}
        reserved = reserved_terms(version)
        semantic_ok = spec.semantic and bool(self._semantic_terms(ctx))
        for key, value in obj.items():
            if key in ("@context", "@id", "@type"):
                continue
            member_pointer = pointer_join(node.pointer, key)
            if key.startswith("@"):
                if version >= 3 or key == "@graph":
                    rule = "graphDisallowed" if key == "@graph" else "keywordDisallowed"
                    self.problem(where, rule, f"keyword '{key}' is not allowed in a {node.cls}")
                continue
            name = self._member_name(key, spec, version, semantic_ok)
            if name is not None:
                if name in seen:
                    self.problem(
                        where,
                        "duplicatePropertyName",
                        f"'{name}' is given both as '{seen[name]}' and '{key}'",
                    )
                    continue
                seen[name] = key
                member = spec.members.get(name) or spec.extra_members[name]
                self._value(node, member, value, member_pointer, ctx, where)
                continue
            extra = next((a.members[key] for a in adjuncts if key in a.members), None)
            if extra is not None:
                seen[key] = key
                self._value(node, extra, value, member_pointer, ctx, where)
                continue
            rule = self._undefined_member_rule(key, reserved, version)
            if rule is None or node.informal:
                if rule in ("propertyInvalidDtmi", "propertyNotDtmiNorTerm") and version >= 3:
                    self.problem(where, rule, f"member name '{key}' is not allowed")
                continue
            self.problem(where, rule, f"member '{key}' is not allowed in a {node.cls}")
        required = list(spec.members.items())
        required += [(n, m) for a in adjuncts for n, m in a.members.items()]
        for name, member in required:
            if member.required and name not in seen:
                self.problem(
                    where,
                    "missingObjectProperty"
                    if member.kind is Kind.ELEMENT
                    else "missingLiteralProperty",
                    f"a {node.cls} needs '{name}'",
                )
        for adjunct in adjuncts:
            allowed_units = unit_types(version).get(adjunct.unit_type or "")
            if (
                allowed_units is not None
                and node.unit is not None
                and node.unit not in allowed_units
            ):
                self.problem(
                    where,
                    "notRequiredType",
                    f"unit '{node.unit}' is not a {adjunct.unit_type} ({adjunct.term})",
                )
        if node.semantic_types and "unit" not in seen:
            self.problem(
                where,
                "missingSupplementalLiteralProperty",
                f"a {node.cls} with semantic type {node.semantic_types[0]} needs 'unit'",
            )

    def _member_name(
        self, key: str, spec: ElementClass, version: int, semantic_ok: bool
    ) -> str | None:
        if key in spec.members:
            return key
        if key.startswith("dtmi:dtdl:property:"):
            for name in spec.members:
                if key == property_dtmi(name, version):
                    return name
            if semantic_ok and key == property_dtmi("unit", version):
                return "unit"
        if semantic_ok and key == "unit":
            return "unit"
        return None

    @staticmethod
    def _undefined_member_rule(key: str, reserved: frozenset[str], version: int) -> str:
        if key.startswith("dtmi:"):
            if parse_dtmi(key) is None or not is_user_dtmi(key, 3):
                return "propertyInvalidDtmi"
            return "propertyIrrelevantDtmiOrTerm"
        if ":" in key:
            return "propertyNotDtmiNorTerm"
        if key in reserved:
            return "propertyIrrelevantDtmiOrTerm"
        return "propertyUndefinedTerm"

    def _value(
        self, node: Node, member: Member, value: Any, pointer: str, ctx: ActiveContext, where: str
    ) -> None:
        name = member.name
        version = node.version
        if value is None:
            self.problem(where, "propertyValueNull", f"'{name}' must not be null")
            return
        if member.kind is Kind.ELEMENT:
            self._element_values(node, member, value, pointer, ctx, where)
            return
        if member.kind is Kind.LANGSTRING:
            decoded, error = localizable(value, version)
            if error:
                self.problem(where, error.rule, f"'{name}': {error.message}")
                return
            for text in decoded.values():
                if member.max_length is not None and len(text) > member.max_length:
                    self.problem(
                        where,
                        "langStringValueTooLong",
                        f"'{name}' is longer than {member.max_length} characters",
                    )
                    return
            node.literals[name] = decoded
            return
        values = value if isinstance(value, list) else [value]
        if len(values) > 1:
            self.problem(
                where,
                "objectMultipleValues"
                if member.kind is Kind.DTMI
                else f"{self._datatype(member)}MultipleValues",
                f"'{name}' takes a single value",
            )
            return
        if not values:
            if member.required or (name == "unit" and node.semantic_types):
                self.problem(where, "stringCountBelowMin", f"'{name}' needs a value")
            return
        item = values[0]
        if member.kind is Kind.DTMI:
            if not isinstance(item, str) or not is_user_dtmi(item, version):
                self.problem(where, "identifierNotDtmi", f"'{name}' value {item!r} is not a DTMI")
                return
            node.literals[name] = item
            return
        if member.kind is Kind.CHOICE:
            self._choice(node, member, item, where)
            return
        if member.kind is Kind.ENUM_VALUE:
            if not isinstance(item, (dict, int, str)) or isinstance(item, bool):
                self.problem(
                    where, "literalNotValid", f"'{name}' value {item!r} is not an integer or string"
                )
                return
            if isinstance(item, dict):
                datatype = "integer" if _is_intish(item.get("@value")) else "string"
                decoded, error = representational(item, version, datatype)
                if error:
                    self.problem(where, error.rule, f"'{name}': {error.message}")
                    return
                node.literals[name] = decoded
            else:
                node.literals[name] = item
            return
        datatype = self._datatype(member)
        decoded, error = representational(item, version, datatype)
        if error:
            self.problem(where, error.rule, f"'{name}': {error.message}")
            return
        if name == "unit":
            self._unit(node, decoded, where)
            return
        if isinstance(decoded, str):
            if member.max_length is not None and len(decoded) > member.max_length:
                self.problem(
                    where,
                    "stringTooLong",
                    f"'{name}' is longer than {member.max_length} characters",
                )
                return
            if member.pattern is not None and not member.pattern.match(decoded):
                self.problem(
                    where, "stringInvalid", f"'{name}' value '{decoded}' has invalid characters"
                )
                return
        if isinstance(decoded, int) and not isinstance(decoded, bool):
            if member.min_value is not None and decoded < member.min_value:
                self.problem(
                    where, "valueBelowMin", f"'{name}' must be at least {member.min_value}"
                )
                return
            if member.exact_value is not None and decoded != member.exact_value:
                self.problem(where, "notRequiredValue", f"'{name}' must be {member.exact_value}")
                return
        node.literals[name] = decoded

    @staticmethod
    def _datatype(member: Member) -> str:
        return {Kind.INTEGER: "integer", Kind.BOOLEAN: "boolean"}.get(member.kind, "string")

    def _unit(self, node: Node, unit: Any, where: str) -> None:
        version = node.version
        units_by_dtmi = unit_dtmis(version)
        term = units_by_dtmi.get(unit, unit)
        table = semantic_units(version)
        if node.semantic_types:
            allowed = table.get(node.semantic_types[0], frozenset())
            if term not in allowed:
                self.problem(
                    where,
                    "notSiblingRequiredType",
                    f"unit '{unit}' does not fit semantic type {node.semantic_types[0]}",
                )
                return
        else:
            known = set(units_by_dtmi.values())
            if term not in known:
                self.problem(where, "badDtmiOrTerm", f"unit '{unit}' is not a unit")
                return
        node.unit = term

    def _choice(self, node: Node, member: Member, item: Any, where: str) -> None:
        version = node.version
        accepted: dict[str, str] = {}
        for choice in member.choices:
            accepted[choice] = choice
            if member.name == "commandType":
                accepted[f"dtmi:dtdl:instance:CommandType:{choice};{version}"] = choice
            else:
                accepted[f"dtmi:dtdl:instance:Schema:{choice};{version}"] = choice
                if version == 3:
                    accepted[f"dtmi:dtdl:instance:Schema:{choice};2"] = choice
        if not isinstance(item, str) or item not in accepted:
            self.problem(
                where,
                "notRequiredValue",
                f"'{member.name}' must be one of {', '.join(member.choices)}, not {item!r}",
            )
            return
        node.literals[member.name] = accepted[item]

    def _element_values(
        self, node: Node, member: Member, value: Any, pointer: str, ctx: ActiveContext, where: str
    ) -> None:
        items: list[tuple[Any, str]]
        if isinstance(value, list):
            items = [(item, pointer_join(pointer, i)) for i, item in enumerate(value)]
        else:
            items = [(value, pointer)]
        name = member.name
        if not member.plural and len(items) != 1:
            if len(items) > 1:
                self.problem(where, "objectMultipleValues", f"'{name}' takes a single value")
            elif member.required:
                self.problem(where, "objectCountBelowMin", f"'{name}' needs a value")
            return
        if len(items) < member.min_count:
            self.problem(
                where, "objectCountBelowMin", f"'{name}' needs at least {member.min_count} values"
            )
            return
        if member.max_count is not None and len(items) > member.max_count:
            self.problem(
                where, "objectCountAboveMax", f"'{name}' takes at most {member.max_count} values"
            )
            return
        standard = standard_schema_values(node.version)
        only = member.classes[0] if len(member.classes) == 1 else None
        typeless = only is not None and not element_classes(node.version)[only].type_required
        inferred = only if typeless else None
        out: list[Any] = []
        for item, item_pointer in items:
            if isinstance(item, dict):
                child = self.element(
                    item,
                    item_pointer,
                    ctx,
                    member.classes,
                    inferred,
                    node,
                    name,
                    in_schemas=node.cls == "Interface" and name == "schemas",
                )
                if child is not None:
                    out.append(child)
            elif isinstance(item, str):
                if member.standard_schemas and item in standard:
                    out.append(Standard(standard[item]))
                elif member.standard_schemas and extensions.defines_schema(item, ctx):
                    out.append(Standard(extensions.schema_term(item, ctx) or item))
                elif parse_dtmi(item) is not None and is_user_dtmi(item, node.version):
                    out.append(Ref(item, item_pointer))
                else:
                    self.problem(
                        where,
                        "idRefBadDtmiOrTerm",
                        f"'{name}' value '{item}' is neither an element nor a DTMI",
                    )
            else:
                self.problem(
                    where, "refNotStringOrObject", f"'{name}' value {item!r} is not an element"
                )
        node.members[name] = out


def _is_intish(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
