"""The model service: validate, upload, read, decommission and delete DTDL interfaces."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from twinops.errors import Conflict, InvalidInput, ModelInvalid, NotFound
from twinops.models.compat import diff_contents
from twinops.models.dtdl import (
    Component,
    Content,
    DtdlProblem,
    DtdlSource,
    ParseResult,
    Property,
    Telemetry,
    parse_documents,
)
from twinops.models.entities import CompatibilityReport, StoredModel, UploadResult, split_dtmi
from twinops.models.store import ModelStore
from twinops.security.entities import AuditEntry
from twinops.timeutil import Clock, system_clock
from twinops.twins.entities import EventType, NewEvent

MAX_DOCUMENTS_PER_UPLOAD = 1000


@dataclass(frozen=True)
class ResolvedModel:
    """An interface with everything it inherits: what the twin service checks instances against."""

    dtmi: str
    contents: Mapping[str, Content]
    ancestors: frozenset[str]
    components: Mapping[str, ResolvedModel]

    def field(self, name: str) -> Telemetry | Property | None:
        """The telemetry or property a point name addresses (``component.field`` for components)."""
        head, _, rest = name.partition(".")
        content = self.contents.get(head)
        if rest:
            if isinstance(content, Component) and head in self.components:
                return self.components[head].field(rest)
            return None
        return content if isinstance(content, Telemetry | Property) else None

    def field_names(self) -> frozenset[str]:
        """Every name a point may address: the fields, and ``component.field``."""
        names = {n for n, c in self.contents.items() if isinstance(c, Telemetry | Property)}
        for head, component in self.components.items():
            names.update(f"{head}.{rest}" for rest in component.field_names())
        return frozenset(names)


def content_hash(document: Any) -> str:
    """A stable sha256 of a JSON document (keys sorted, no whitespace)."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def problems_to_error(problems: Sequence[DtdlProblem]) -> ModelInvalid:
    """One error carrying every DTDL problem as a violation."""
    violations = [p.to_violation() for p in problems]
    first = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return ModelInvalid(f"{first.source} {first.element}: {first.message}{more}", violations)


def sources_from_body(body: Any) -> list[DtdlSource]:
    """An API body (one document or an array of them) as parser sources named ``body[i]``."""
    documents = body if isinstance(body, list) else [body]
    if not documents:
        raise InvalidInput.single("body", "minItems", "give at least one DTDL document")
    if len(documents) > MAX_DOCUMENTS_PER_UPLOAD:
        raise InvalidInput.single(
            "body", "maxItems", f"at most {MAX_DOCUMENTS_PER_UPLOAD} documents per request"
        )
    return [DtdlSource(name=f"body[{i}]", obj=doc) for i, doc in enumerate(documents)]


class ModelService:
    """DTDL interfaces per tenant: immutable versions, compatibility reports, resolution."""

    def __init__(self, store: ModelStore, clock: Clock = system_clock) -> None:
        self._store = store
        self._clock = clock
        # Stored versions are immutable, so a resolved model never goes stale while it exists.
        self._resolved: dict[tuple[str, str], ResolvedModel] = {}
        self._lock = threading.Lock()

    def validate(self, tenant: str, sources: Sequence[DtdlSource]) -> ParseResult:
        """Parse and validate documents, resolving references to this tenant's stored models."""
        return parse_documents(sources, resolver=self._resolver(tenant))

    def upload(
        self, tenant: str, sources: Sequence[DtdlSource], *, actor: str = "system"
    ) -> UploadResult:
        """Validate and store new interface versions; identical re-uploads are no-ops."""
        result = self.validate(tenant, sources)
        if not result.ok:
            raise problems_to_error(result.problems)
        now = self._clock()
        created: list[StoredModel] = []
        unchanged: list[str] = []
        reports: list[CompatibilityReport] = []
        with self._store.transaction() as tx:
            for dtmi, document in sorted(result.documents.items()):
                base, version = split_dtmi(dtmi)
                digest = content_hash(document)
                existing = tx.get(tenant, dtmi)
                if existing is not None:
                    if existing.content_hash != digest:
                        raise Conflict(
                            f"{dtmi} is already stored with other content; versions are immutable,"
                            " upload a new version instead",
                        )
                    unchanged.append(dtmi)
                    continue
                model = StoredModel(tenant, dtmi, base, version, document, digest, now)
                tx.add(model, frozenset(result.model_set.ancestors(dtmi)))
                tx.append_event(
                    NewEvent(tenant, EventType.MODEL_UPLOADED, dtmi, now, {"hash": digest})
                )
                tx.audit(AuditEntry(tenant, actor, "ModelUploaded", dtmi, now, {"sha256": digest}))
                created.append(model)
        for model in created:
            reports.append(self._compatibility(tenant, model, result))
        return UploadResult(tuple(created), tuple(unchanged), tuple(reports))

    def _compatibility(
        self, tenant: str, model: StoredModel, result: ParseResult
    ) -> CompatibilityReport:
        previous = self._store.latest_before(tenant, model.base_dtmi, model.version)
        if previous is None:
            return CompatibilityReport(model.dtmi, None, ())
        old = self.resolve(tenant, previous.dtmi).contents
        new = result.model_set.all_contents(model.dtmi)
        return CompatibilityReport(model.dtmi, previous.dtmi, diff_contents(old, new))

    def get(self, tenant: str, dtmi: str) -> StoredModel:
        """A stored model, or NotFound."""
        model = self._store.get(tenant, dtmi)
        if model is None:
            raise NotFound(f"model {dtmi} does not exist")
        return model

    def list_models(
        self,
        tenant: str,
        *,
        base_dtmi: str | None = None,
        limit: int = 100,
        after: str | None = None,
    ) -> list[StoredModel]:
        """Stored models ordered by DTMI."""
        return self._store.list_models(tenant, base_dtmi=base_dtmi, limit=limit, after=after)

    def decommission(
        self, tenant: str, dtmi: str, decommissioned: bool = True, *, actor: str = "system"
    ) -> StoredModel:
        """Stop (or resume) new twins of this model; existing twins stay valid."""
        with self._store.transaction() as tx:
            model = tx.get(tenant, dtmi)
            if model is None:
                raise NotFound(f"model {dtmi} does not exist")
            if model.decommissioned != decommissioned:
                tx.set_decommissioned(tenant, dtmi, decommissioned)
                now = self._clock()
                change = {"decommissioned": decommissioned}
                tx.append_event(NewEvent(tenant, EventType.MODEL_DECOMMISSIONED, dtmi, now, change))
                tx.audit(AuditEntry(tenant, actor, "ModelDecommissioned", dtmi, now, change))
        return self.get(tenant, dtmi)

    def delete(self, tenant: str, dtmi: str, *, actor: str = "system") -> None:
        """Delete a model no twin uses and no other model extends."""
        with self._store.transaction() as tx:
            if tx.get(tenant, dtmi) is None:
                raise NotFound(f"model {dtmi} does not exist")
            in_use = tx.count_twins_using(tenant, dtmi)
            if in_use:
                raise Conflict(f"model {dtmi} is used by {in_use} twin(s); delete them first")
            dependents = tx.dependents(tenant, dtmi)
            if dependents:
                raise Conflict(
                    f"model {dtmi} is extended by {', '.join(dependents[:5])}; delete those first"
                )
            tx.delete(tenant, dtmi)
            now = self._clock()
            tx.append_event(NewEvent(tenant, EventType.MODEL_DELETED, dtmi, now, {}))
            tx.audit(AuditEntry(tenant, actor, "ModelDeleted", dtmi, now, {}))
        with self._lock:
            self._resolved.pop((tenant, dtmi), None)

    def resolve(self, tenant: str, dtmi: str) -> ResolvedModel:
        """The model with its inherited contents and component interfaces, cached."""
        key = (tenant, dtmi)
        cached = self._resolved.get(key)
        if cached is not None:
            return cached
        stored = self._store.get(tenant, dtmi)
        if stored is None:
            raise NotFound(f"model {dtmi} does not exist")
        result = parse_documents(
            [DtdlSource(name=dtmi, obj=stored.document)], resolver=self._resolver(tenant)
        )
        if not result.ok:
            raise problems_to_error(result.problems)
        resolved = self._build(result, dtmi)
        with self._lock:
            self._resolved[key] = resolved
        return resolved

    def _build(self, result: ParseResult, dtmi: str) -> ResolvedModel:
        contents = result.model_set.all_contents(dtmi)
        components = {
            name: self._build(result, content.schema)
            for name, content in contents.items()
            if isinstance(content, Component)
        }
        return ResolvedModel(
            dtmi=dtmi,
            contents=contents,
            ancestors=frozenset(result.model_set.ancestors(dtmi)),
            components=components,
        )

    def _resolver(self, tenant: str) -> Any:
        def resolve(dtmi: str) -> Any | None:
            stored = self._store.get(tenant, dtmi)
            return None if stored is None else stored.document

        return resolve
