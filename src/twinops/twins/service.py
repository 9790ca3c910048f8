"""The twin service: twins, relationships, external ids, queries, and the events they emit."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import jsonpatch
import jsonpointer

from twinops.errors import (
    Conflict,
    InvalidInput,
    MalformedInput,
    NotFound,
    PreconditionFailed,
    Violation,
)
from twinops.models.dtdl import Relationship as RelationshipDefinition
from twinops.models.service import ModelService, ResolvedModel
from twinops.security.entities import AuditEntry
from twinops.timeutil import Clock, system_clock
from twinops.twins.entities import EventType, ExternalId, NewEvent, Relationship, Twin
from twinops.twins.store import Page, TwinStore, TwinWriter
from twinops.twins.validation import (
    RELATIONSHIP_SYSTEM_KEYS,
    SYSTEM_KEYS,
    check_contents,
    check_id,
    check_relationship_properties,
)

MAX_PATCH_OPERATIONS = 500


def new_etag() -> str:
    """A fresh weak ETag, as ADT issues them (random, so it never repeats across deletes)."""
    return f'W/"{os.urandom(12).hex()}"'


def etag_matches(if_match: str | None, etag: str) -> bool:
    """Whether an If-Match header (``*``, one tag or a list) admits ``etag``."""
    if if_match is None:
        return True
    tags = [t.strip() for t in if_match.split(",")]
    return "*" in tags or etag in tags or etag.removeprefix("W/") in tags


@dataclass(frozen=True)
class GraphImport:
    """What a bulk import created."""

    twins: int
    relationships: int


class TwinService:
    """Twin instances and the graph between them, each change checked against the models."""

    def __init__(self, store: TwinStore, models: ModelService, clock: Clock = system_clock) -> None:
        self._store = store
        self._models = models
        self._clock = clock

    # -- twins ---------------------------------------------------------------------------

    def get(self, tenant: str, twin_id: str) -> Twin:
        """A twin, or NotFound."""
        twin = self._store.get_twin(tenant, twin_id)
        if twin is None:
            raise NotFound(f"twin {twin_id} does not exist")
        return twin

    def get_many(self, tenant: str, twin_ids: Collection[str]) -> dict[str, Twin]:
        """The twins among ``twin_ids`` that exist, by id, in a few reads (others left out)."""
        return self._store.get_twins(tenant, twin_ids)

    def models_of(self, tenant: str, twin_ids: Sequence[str]) -> dict[str, str]:
        """The model of each of ``twin_ids`` that exists, in one read (ingest's hot path)."""
        return self._store.twin_models(tenant, twin_ids)

    def list_twins(
        self, tenant: str, *, model: str | None = None, limit: int = 100, after: str | None = None
    ) -> Page[Twin]:
        """Twins ordered by id, optionally of one exact model."""
        return self._store.list_twins(tenant, model=model, limit=limit, after=after)

    def put(
        self,
        tenant: str,
        twin_id: str,
        body: Any,
        *,
        if_match: str | None = None,
        if_none_match: str | None = None,
        actor: str = "system",
    ) -> tuple[Twin, bool]:
        """Create or replace a twin; answers the twin and whether it was created."""
        model_id, contents = self._parse_body(twin_id, body)
        model = self._resolve_model(tenant, model_id, "/$metadata/$model")
        _raise_if(check_contents(model, contents))
        now = self._clock()
        with self._store.transaction() as tx:
            current = tx.get_twin(tenant, twin_id, lock=True)
            # Twins already on a decommissioned model may still be replaced; new ones may not.
            if current is None or current.model != model_id:
                self._require_usable_model(tx, tenant, model_id)
            if current is None:
                if if_match is not None:
                    raise PreconditionFailed(f"twin {twin_id} does not exist (If-Match given)")
                twin = Twin(
                    tenant, twin_id, model_id, new_etag(), contents, _stamp(contents, now), now, now
                )
                tx.insert_twin(twin)
                tx.append_event(
                    NewEvent(tenant, EventType.TWIN_CREATED, twin_id, now, _event_body(twin))
                )
                tx.audit(_entry(tenant, actor, "TwinCreated", twin_id, now, model=model_id))
                return twin, True
            if if_none_match is not None and if_none_match.strip() == "*":
                raise PreconditionFailed(f"twin {twin_id} already exists (If-None-Match: *)")
            if not etag_matches(if_match, current.etag):
                raise PreconditionFailed(f"twin {twin_id} has changed: ETag {current.etag}")
            twin = replace(
                current,
                model=model_id,
                etag=new_etag(),
                contents=contents,
                metadata=_restamp(current, contents, now),
                updated_at=now,
            )
            tx.update_twin(twin)
            tx.append_event(
                NewEvent(tenant, EventType.TWIN_REPLACED, twin_id, now, _event_body(twin))
            )
            tx.audit(_entry(tenant, actor, "TwinReplaced", twin_id, now, model=model_id))
            return twin, False

    def patch(
        self,
        tenant: str,
        twin_id: str,
        operations: Any,
        *,
        if_match: str | None = None,
        actor: str = "system",
    ) -> Twin:
        """Apply an RFC 6902 JSON Patch to a twin's properties (and ``/$metadata/$model``)."""
        ops = _check_patch(operations)
        now = self._clock()
        with self._store.transaction() as tx:
            current = tx.get_twin(tenant, twin_id, lock=True)
            if current is None:
                raise NotFound(f"twin {twin_id} does not exist")
            if not etag_matches(if_match, current.etag):
                raise PreconditionFailed(f"twin {twin_id} has changed: ETag {current.etag}")
            document = {**current.contents, "$metadata": {"$model": current.model}}
            try:
                patched = jsonpatch.JsonPatch(ops).apply(document)
            except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
                raise InvalidInput.single("body", "jsonPatch", str(exc)) from exc
            model_id, contents = self._parse_body(twin_id, patched)
            if model_id != current.model:
                self._require_usable_model(tx, tenant, model_id)
            model = self._resolve_model(tenant, model_id, "/$metadata/$model")
            _raise_if(check_contents(model, contents))
            twin = replace(
                current,
                model=model_id,
                etag=new_etag(),
                contents=contents,
                metadata=_restamp(current, contents, now),
                updated_at=now,
            )
            tx.update_twin(twin)
            tx.append_event(
                NewEvent(
                    tenant, EventType.TWIN_UPDATED, twin_id, now, {"patch": ops, "etag": twin.etag}
                )
            )
            paths = sorted({str(op["path"]) for op in ops})[:50]
            tx.audit(_entry(tenant, actor, "TwinUpdated", twin_id, now, paths=paths))
            return twin

    def delete(
        self, tenant: str, twin_id: str, *, if_match: str | None = None, actor: str = "system"
    ) -> None:
        """Delete a twin that has no relationships left."""
        with self._store.transaction() as tx:
            current = tx.get_twin(tenant, twin_id, lock=True)
            if current is None:
                raise NotFound(f"twin {twin_id} does not exist")
            if not etag_matches(if_match, current.etag):
                raise PreconditionFailed(f"twin {twin_id} has changed: ETag {current.etag}")
            linked = tx.count_relationships(tenant, twin_id)
            if linked:
                raise Conflict(
                    f"twin {twin_id} still has {linked} relationship(s); delete them first"
                )
            tx.delete_twin(tenant, twin_id)
            now = self._clock()
            tx.append_event(NewEvent(tenant, EventType.TWIN_DELETED, twin_id, now, {}))
            tx.audit(_entry(tenant, actor, "TwinDeleted", twin_id, now, model=current.model))

    # -- relationships -------------------------------------------------------------------

    def put_relationship(
        self,
        tenant: str,
        source_id: str,
        rel_id: str,
        body: Any,
        *,
        if_match: str | None = None,
        if_none_match: str | None = None,
        actor: str = "system",
    ) -> tuple[Relationship, bool]:
        """Create or replace a relationship, checked against the source twin's model."""
        if not isinstance(body, dict):
            raise InvalidInput.single("body", "type", "a relationship is a JSON object")
        _raise_if(check_id(rel_id, "relationshipId"))
        name, target_id = body.get("$relationshipName"), body.get("$targetId")
        violations = []
        if not isinstance(name, str) or not name:
            violations.append(
                Violation("/$relationshipName", "required", "name the relationship", name)
            )
        if not isinstance(target_id, str):
            violations.append(Violation("/$targetId", "required", "name the target twin"))
        _raise_if(violations)
        properties = {k: v for k, v in body.items() if k not in RELATIONSHIP_SYSTEM_KEYS}
        now = self._clock()
        with self._store.transaction() as tx:
            source = tx.get_twin(tenant, source_id, lock=True)
            if source is None:
                raise NotFound(f"twin {source_id} does not exist")
            target = tx.get_twin(tenant, str(target_id))
            if target is None:
                raise InvalidInput.single(
                    "/$targetId", "targetExists", f"twin {target_id} does not exist", target_id
                )
            definition = self._relationship_definition(tenant, source, str(name))
            self._check_target(tenant, definition, target)
            _raise_if(check_relationship_properties(definition, properties))
            current = tx.get_relationship(tenant, source_id, rel_id)
            if current is None and if_match is not None:
                raise PreconditionFailed(f"relationship {rel_id} does not exist (If-Match given)")
            if current is not None:
                if if_none_match is not None and if_none_match.strip() == "*":
                    raise PreconditionFailed(f"relationship {rel_id} already exists")
                if not etag_matches(if_match, current.etag):
                    raise PreconditionFailed(
                        f"relationship {rel_id} has changed: ETag {current.etag}"
                    )
            limit = definition.max_multiplicity
            if limit is not None and tx.count_named(tenant, source_id, str(name), rel_id) >= limit:
                raise Conflict(
                    f"twin {source_id} already has {limit} '{name}' relationship(s),"
                    f" the model's maxMultiplicity"
                )
            rel = Relationship(
                tenant,
                source_id,
                rel_id,
                str(name),
                str(target_id),
                properties,
                new_etag(),
                current.created_at if current else now,
                now,
            )
            tx.upsert_relationship(rel)
            kind = (
                EventType.RELATIONSHIP_CREATED
                if current is None
                else EventType.RELATIONSHIP_REPLACED
            )
            tx.append_event(NewEvent(tenant, kind, source_id, now, _relationship_event(rel)))
            tx.audit(
                _entry(tenant, actor, str(kind), f"{source_id}/{rel_id}", now, to=rel.target_id)
            )
            return rel, current is None

    def get_relationship(self, tenant: str, source_id: str, rel_id: str) -> Relationship:
        """A relationship, or NotFound."""
        rel = self._store.get_relationship(tenant, source_id, rel_id)
        if rel is None:
            raise NotFound(f"relationship {rel_id} of twin {source_id} does not exist")
        return rel

    def list_relationships(
        self,
        tenant: str,
        source_id: str,
        *,
        name: str | None = None,
        limit: int = 100,
        after: str | None = None,
    ) -> Page[Relationship]:
        """Outgoing relationships of an existing twin."""
        self.get(tenant, source_id)
        return self._store.list_relationships(
            tenant, source_id, name=name, limit=limit, after=after
        )

    def list_incoming(
        self, tenant: str, target_id: str, *, limit: int = 100, after: str | None = None
    ) -> Page[Relationship]:
        """Relationships that point at an existing twin."""
        self.get(tenant, target_id)
        return self._store.list_incoming(tenant, target_id, limit=limit, after=after)

    def delete_relationship(
        self,
        tenant: str,
        source_id: str,
        rel_id: str,
        *,
        if_match: str | None = None,
        actor: str = "system",
    ) -> None:
        """Delete a relationship."""
        with self._store.transaction() as tx:
            current = tx.get_relationship(tenant, source_id, rel_id)
            if current is None:
                raise NotFound(f"relationship {rel_id} of twin {source_id} does not exist")
            if not etag_matches(if_match, current.etag):
                raise PreconditionFailed(f"relationship {rel_id} has changed: ETag {current.etag}")
            tx.delete_relationship(tenant, source_id, rel_id)
            now = self._clock()
            tx.append_event(
                NewEvent(
                    tenant,
                    EventType.RELATIONSHIP_DELETED,
                    source_id,
                    now,
                    {"relationshipId": rel_id, "name": current.name, "target": current.target_id},
                )
            )
            target = f"{source_id}/{rel_id}"
            tx.audit(_entry(tenant, actor, "RelationshipDeleted", target, now))

    # -- external ids --------------------------------------------------------------------

    def map_external_id(
        self,
        tenant: str,
        source_system: str,
        source_id: str,
        twin_id: str,
        *,
        actor: str = "system",
    ) -> ExternalId:
        """Map a source system's id (historian tag, device id) onto an existing twin."""
        violations = [
            Violation(field, "required", "must be a non-empty string of at most 256 characters")
            for field, value in (("sourceSystem", source_system), ("sourceId", source_id))
            if not value or len(value) > 256
        ]
        _raise_if(violations)
        now = self._clock()
        mapping = ExternalId(tenant, source_system, source_id, twin_id, now)
        with self._store.transaction() as tx:
            if tx.get_twin(tenant, twin_id) is None:
                raise NotFound(f"twin {twin_id} does not exist")
            tx.put_external_id(mapping)
            tx.append_event(
                NewEvent(
                    tenant,
                    EventType.EXTERNAL_ID_MAPPED,
                    twin_id,
                    now,
                    {"sourceSystem": source_system, "sourceId": source_id},
                )
            )
            tx.audit(
                _entry(
                    tenant,
                    actor,
                    "ExternalIdMapped",
                    f"{source_system}/{source_id}",
                    now,
                    twin=twin_id,
                )
            )
        return mapping

    def unmap_external_id(
        self, tenant: str, source_system: str, source_id: str, *, actor: str = "system"
    ) -> None:
        """Remove a mapping, or NotFound."""
        with self._store.transaction() as tx:
            twin_id = tx.delete_external_id(tenant, source_system, source_id)
            if twin_id is None:
                raise NotFound(f"no twin is mapped to {source_system}/{source_id}")
            now = self._clock()
            tx.append_event(
                NewEvent(
                    tenant,
                    EventType.EXTERNAL_ID_UNMAPPED,
                    twin_id,
                    now,
                    {"sourceSystem": source_system, "sourceId": source_id},
                )
            )
            tx.audit(
                _entry(tenant, actor, "ExternalIdUnmapped", f"{source_system}/{source_id}", now)
            )

    def resolve_external_id(self, tenant: str, source_system: str, source_id: str) -> str:
        """The twin id a source system's id maps to, or NotFound."""
        twin_id = self._store.resolve_external_id(tenant, source_system, source_id)
        if twin_id is None:
            raise NotFound(f"no twin is mapped to {source_system}/{source_id}")
        return twin_id

    def list_external_ids(self, tenant: str, twin_id: str) -> list[ExternalId]:
        """Every source-system id mapped onto an existing twin."""
        self.get(tenant, twin_id)
        return self._store.list_external_ids(tenant, twin_id)

    # -- queries and bulk ----------------------------------------------------------------

    def query(
        self,
        tenant: str,
        text: str,
        *,
        page_size: int = 1000,
        continuation: str | None = None,
        max_joins: int = 20,
    ) -> Page[dict[str, object]]:
        """Run a twin-graph query and return one page of results."""
        if not isinstance(text, str) or not text.strip():
            raise MalformedInput.single("query", "required", "give a query text")
        return self._store.query(
            tenant, text, page_size=page_size, continuation=continuation, max_joins=max_joins
        )

    def import_graph(
        self,
        tenant: str,
        twin_bodies: Sequence[Mapping[str, Any]],
        relationship_bodies: Sequence[Mapping[str, Any]] = (),
        *,
        actor: str = "system",
    ) -> GraphImport:
        """Create many new twins and relationships in one transaction, all checked first."""
        now = self._clock()
        new_twins: list[Twin] = []
        violations: list[Violation] = []
        models: dict[str, ResolvedModel] = {}
        for index, body in enumerate(twin_bodies):
            twin_id = body.get("$dtId") if isinstance(body, Mapping) else None
            if not isinstance(twin_id, str):
                violations.append(Violation(f"/twins/{index}/$dtId", "required", "give an id"))
                continue
            model_id, contents = self._parse_body(twin_id, body, pointer=f"/twins/{index}")
            if model_id not in models:
                models[model_id] = self._resolve_model(
                    tenant, model_id, f"/twins/{index}/$metadata/$model"
                )
            violations.extend(check_contents(models[model_id], contents, f"/twins/{index}"))
            new_twins.append(
                Twin(
                    tenant, twin_id, model_id, new_etag(), contents, _stamp(contents, now), now, now
                )
            )
        _raise_if(violations)
        by_id = {t.twin_id: t for t in new_twins}
        if len(by_id) != len(new_twins):
            raise InvalidInput.single("/twins", "uniqueIds", "twin ids repeat within the import")
        with self._store.transaction() as tx:
            for model_id in models:
                self._require_usable_model(tx, tenant, model_id)
            tx.insert_twins(new_twins)
            rels = self._check_import_relationships(tenant, relationship_bodies, by_id, tx, now)
            tx.upsert_relationships(rels)
            tx.append_events(
                [
                    NewEvent(tenant, EventType.TWIN_CREATED, t.twin_id, now, _event_body(t))
                    for t in new_twins
                ]
                + [
                    NewEvent(
                        tenant,
                        EventType.RELATIONSHIP_CREATED,
                        r.source_id,
                        now,
                        _relationship_event(r),
                    )
                    for r in rels
                ]
            )
            # One command, one audit record: the digest pins exactly which ids it created.
            digest = hashlib.sha256(
                "\n".join(
                    [*sorted(by_id), *sorted(f"{r.source_id}/{r.relationship_id}" for r in rels)]
                ).encode()
            ).hexdigest()
            tx.audit(
                _entry(
                    tenant,
                    actor,
                    "GraphImported",
                    f"{len(new_twins)} twins",
                    now,
                    twins=len(new_twins),
                    relationships=len(rels),
                    sha256=digest,
                )
            )
        return GraphImport(len(new_twins), len(rels))

    def _check_import_relationships(
        self,
        tenant: str,
        bodies: Sequence[Mapping[str, Any]],
        new_twins: Mapping[str, Twin],
        tx: TwinWriter,
        now: int,
    ) -> list[Relationship]:
        rels: list[Relationship] = []
        violations: list[Violation] = []
        referenced = {
            str(b.get(k))
            for b in bodies
            for k in ("$sourceId", "$targetId")
            if b.get(k) is not None
        }
        known = dict(new_twins)
        missing = [tid for tid in referenced if tid not in known]
        known.update(tx.get_twins(tenant, missing))
        counts: dict[tuple[str, str], int] = {}
        seen: set[tuple[str, str]] = set()
        for index, body in enumerate(bodies):
            pointer = f"/relationships/{index}"
            source, target = (
                known.get(str(body.get("$sourceId"))),
                known.get(str(body.get("$targetId"))),
            )
            rel_id, name = body.get("$relationshipId"), body.get("$relationshipName")
            if source is None or target is None or not isinstance(name, str):
                violations.append(
                    Violation(pointer, "relationshipEnds", "source, target and name must exist")
                )
                continue
            if not isinstance(rel_id, str) or check_id(rel_id, pointer):
                violations.extend(check_id(str(rel_id), f"{pointer}/$relationshipId"))
                continue
            if (source.twin_id, rel_id) in seen:
                violations.append(Violation(pointer, "uniqueIds", f"{rel_id} repeats"))
                continue
            seen.add((source.twin_id, rel_id))
            definition = self._relationship_definition(tenant, source, name)
            self._check_target(tenant, definition, target)
            properties = {k: v for k, v in body.items() if k not in RELATIONSHIP_SYSTEM_KEYS}
            violations.extend(check_relationship_properties(definition, properties, pointer))
            key = (source.twin_id, name)
            counts[key] = counts.get(key, 0) + 1
            if (
                definition.max_multiplicity is not None
                and counts[key] > definition.max_multiplicity
            ):
                violations.append(
                    Violation(
                        pointer, "maxMultiplicity", f"more than {definition.max_multiplicity}"
                    )
                )
            rels.append(
                Relationship(
                    tenant,
                    source.twin_id,
                    rel_id,
                    name,
                    target.twin_id,
                    properties,
                    new_etag(),
                    now,
                    now,
                )
            )
        _raise_if(violations)
        return rels

    # -- helpers -------------------------------------------------------------------------

    def _parse_body(self, twin_id: str, body: Any, pointer: str = "") -> tuple[str, dict[str, Any]]:
        _raise_if(check_id(twin_id, f"{pointer}/$dtId" if pointer else "twinId"))
        if not isinstance(body, Mapping):
            raise InvalidInput.single(pointer or "body", "type", "a twin is a JSON object")
        metadata = body.get("$metadata")
        model_id = metadata.get("$model") if isinstance(metadata, Mapping) else None
        if not isinstance(model_id, str) or not model_id:
            raise InvalidInput.single(
                f"{pointer}/$metadata/$model", "required", "name the twin's model (a DTMI)"
            )
        declared = body.get("$dtId")
        if declared is not None and declared != twin_id:
            raise InvalidInput.single(
                f"{pointer}/$dtId", "idMatch", f"the body says {declared!r}, the path {twin_id!r}"
            )
        contents = {k: v for k, v in body.items() if k not in SYSTEM_KEYS}
        return model_id, contents

    def _resolve_model(self, tenant: str, model_id: str, field: str) -> ResolvedModel:
        try:
            return self._models.resolve(tenant, model_id)
        except NotFound as exc:
            raise InvalidInput.single(
                field, "modelExists", f"model {model_id} is not uploaded", model_id
            ) from exc

    @staticmethod
    def _require_usable_model(tx: TwinWriter, tenant: str, model_id: str) -> None:
        state = tx.model_state(tenant, model_id)
        if state is None:
            raise InvalidInput.single(
                "/$metadata/$model", "modelExists", f"model {model_id} is not uploaded", model_id
            )
        if state:
            raise InvalidInput.single(
                "/$metadata/$model",
                "modelDecommissioned",
                f"model {model_id} is decommissioned; new twins cannot use it",
                model_id,
            )

    def _relationship_definition(
        self, tenant: str, source: Twin, name: str
    ) -> RelationshipDefinition:
        model = self._models.resolve(tenant, source.model)
        definition = model.contents.get(name)
        if not isinstance(definition, RelationshipDefinition):
            raise InvalidInput.single(
                "/$relationshipName",
                "relationshipDefined",
                f"model {source.model} defines no relationship '{name}'",
                name,
            )
        return definition

    def _check_target(self, tenant: str, definition: RelationshipDefinition, target: Twin) -> None:
        wanted = definition.target
        if wanted is None:
            return
        if wanted not in self._models.resolve(tenant, target.model).ancestors:
            raise InvalidInput.single(
                "/$targetId",
                "targetModel",
                f"'{definition.name}' must point at a {wanted} (or a subtype);"
                f" twin {target.twin_id} is a {target.model}",
                target.twin_id,
            )


def _entry(
    tenant: str, actor: str, action: str, target: str, now: int, **details: Any
) -> AuditEntry:
    return AuditEntry(tenant, actor, action, target, now, details)


def _raise_if(violations: Sequence[Violation]) -> None:
    if violations:
        raise InvalidInput.of(violations)


def _check_patch(operations: Any) -> list[dict[str, Any]]:
    if not isinstance(operations, list) or not all(isinstance(op, dict) for op in operations):
        raise InvalidInput.single("body", "jsonPatch", "a JSON Patch is an array of operations")
    if len(operations) > MAX_PATCH_OPERATIONS:
        raise InvalidInput.single(
            "body", "maxItems", f"at most {MAX_PATCH_OPERATIONS} patch operations per request"
        )
    for index, op in enumerate(operations):
        path = op.get("path")
        if not isinstance(path, str) or path.startswith(("/$dtId", "/$etag")):
            raise InvalidInput.single(
                f"/{index}/path", "jsonPatch", "path must be a JSON pointer to a property", path
            )
        if path.startswith("/$metadata") and path != "/$metadata/$model":
            raise InvalidInput.single(
                f"/{index}/path", "jsonPatch", "only /$metadata/$model may be patched", path
            )
    return operations


def _stamp(contents: Mapping[str, Any], now: int) -> dict[str, Any]:
    return {name: {"lastUpdateTime": now} for name in contents}


def _restamp(current: Twin, contents: Mapping[str, Any], now: int) -> dict[str, Any]:
    metadata: dict[str, Any] = {}
    for name, value in contents.items():
        unchanged = name in current.contents and current.contents[name] == value
        previous = current.metadata.get(name)
        metadata[name] = previous if unchanged and previous else {"lastUpdateTime": now}
    return metadata


def _event_body(twin: Twin) -> dict[str, Any]:
    return {"model": twin.model, "etag": twin.etag, "twin": dict(twin.contents)}


def _relationship_event(rel: Relationship) -> dict[str, Any]:
    return {
        "relationshipId": rel.relationship_id,
        "name": rel.name,
        "target": rel.target_id,
        "properties": dict(rel.properties),
    }
