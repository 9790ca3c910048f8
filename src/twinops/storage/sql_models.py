"""The model store on SQL (both dialects)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from twinops.models.entities import StoredModel
from twinops.models.store import ModelStore, ModelWriter
from twinops.security.entities import AuditEntry
from twinops.storage.audit import append_audit
from twinops.storage.database import Database
from twinops.storage.events import append_events
from twinops.storage.schema import model_ancestors, models, twins
from twinops.twins.entities import NewEvent


def _to_model(row: Any) -> StoredModel:
    return StoredModel(
        tenant=row.tenant,
        dtmi=row.dtmi,
        base_dtmi=row.base_dtmi,
        version=row.version,
        document=row.document,
        content_hash=row.content_hash,
        uploaded_at=row.uploaded_at,
        decommissioned=bool(row.decommissioned),
    )


def _get(conn: Connection, tenant: str, dtmi: str) -> StoredModel | None:
    row = conn.execute(
        select(models).where(models.c.tenant == tenant, models.c.dtmi == dtmi)
    ).first()
    return _to_model(row) if row else None


class _SqlModelWriter(ModelWriter):
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get(self, tenant: str, dtmi: str) -> StoredModel | None:
        return _get(self._conn, tenant, dtmi)

    def add(self, model: StoredModel, ancestors: frozenset[str]) -> None:
        self._conn.execute(
            insert(models).values(
                tenant=model.tenant,
                dtmi=model.dtmi,
                base_dtmi=model.base_dtmi,
                version=model.version,
                document=dict(model.document),
                content_hash=model.content_hash,
                uploaded_at=model.uploaded_at,
                decommissioned=model.decommissioned,
            )
        )
        self._conn.execute(
            insert(model_ancestors),
            [
                {"tenant": model.tenant, "dtmi": model.dtmi, "ancestor": a}
                for a in sorted(ancestors | {model.dtmi})
            ],
        )

    def set_decommissioned(self, tenant: str, dtmi: str, decommissioned: bool) -> None:
        self._conn.execute(
            update(models)
            .where(models.c.tenant == tenant, models.c.dtmi == dtmi)
            .values(decommissioned=decommissioned)
        )

    def delete(self, tenant: str, dtmi: str) -> None:
        self._conn.execute(
            delete(model_ancestors).where(
                model_ancestors.c.tenant == tenant, model_ancestors.c.dtmi == dtmi
            )
        )
        self._conn.execute(delete(models).where(models.c.tenant == tenant, models.c.dtmi == dtmi))

    def count_twins_using(self, tenant: str, dtmi: str) -> int:
        stmt = select(func.count()).where(twins.c.tenant == tenant, twins.c.model == dtmi)
        return int(self._conn.execute(stmt).scalar_one())

    def dependents(self, tenant: str, dtmi: str) -> list[str]:
        stmt = (
            select(model_ancestors.c.dtmi)
            .where(
                model_ancestors.c.tenant == tenant,
                model_ancestors.c.ancestor == dtmi,
                model_ancestors.c.dtmi != dtmi,
            )
            .order_by(model_ancestors.c.dtmi)
        )
        return list(self._conn.execute(stmt).scalars())

    def append_event(self, event: NewEvent) -> None:
        append_events(self._conn, [event])

    def audit(self, entry: AuditEntry) -> None:
        append_audit(self._conn, entry)


class SqlModelStore(ModelStore):
    """Stored DTDL interfaces in the ``models`` and ``model_ancestors`` tables."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, tenant: str, dtmi: str) -> StoredModel | None:
        with self._db.read() as conn:
            return _get(conn, tenant, dtmi)

    def get_many(self, tenant: str, dtmis: Sequence[str]) -> Mapping[str, StoredModel]:
        if not dtmis:
            return {}
        stmt = select(models).where(models.c.tenant == tenant, models.c.dtmi.in_(list(dtmis)))
        with self._db.read() as conn:
            return {row.dtmi: _to_model(row) for row in conn.execute(stmt)}

    def list_models(
        self,
        tenant: str,
        *,
        base_dtmi: str | None = None,
        limit: int = 1000,
        after: str | None = None,
    ) -> list[StoredModel]:
        stmt = select(models).where(models.c.tenant == tenant)
        if base_dtmi is not None:
            stmt = stmt.where(models.c.base_dtmi == base_dtmi)
        if after is not None:
            stmt = stmt.where(models.c.dtmi > after)
        stmt = stmt.order_by(models.c.dtmi).limit(limit)
        with self._db.read() as conn:
            return [_to_model(row) for row in conn.execute(stmt)]

    def latest_before(self, tenant: str, base_dtmi: str, version: int) -> StoredModel | None:
        stmt = (
            select(models)
            .where(
                models.c.tenant == tenant,
                models.c.base_dtmi == base_dtmi,
                models.c.version < version,
            )
            .order_by(models.c.version.desc())
            .limit(1)
        )
        with self._db.read() as conn:
            row = conn.execute(stmt).first()
            return _to_model(row) if row else None

    @contextmanager
    def transaction(self) -> Iterator[ModelWriter]:
        with self._db.write() as conn:
            yield _SqlModelWriter(conn)
