"""The twin-graph store on SQL (both dialects)."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from twinops.errors import Conflict
from twinops.security.entities import AuditEntry
from twinops.storage.audit import append_audit
from twinops.storage.bulk import select_where_in
from twinops.storage.cursor import decode_cursor, encode_cursor
from twinops.storage.database import Database
from twinops.storage.events import append_events
from twinops.storage.query import run_query
from twinops.storage.raw_select import RawSelect
from twinops.storage.schema import external_ids, models, relationships, twins
from twinops.twins.entities import ExternalId, NewEvent, Relationship, Twin
from twinops.twins.store import Page, TwinStore, TwinWriter

# Bulk inserts are chunked so one statement stays under SQLite's bound-parameter limit.
_CHUNK = 500
# After a bulk load this large the planner's statistics are refreshed, or it picks bad plans.
_ANALYZE_AFTER_ROWS = 5_000


def _to_twin(row: Any) -> Twin:
    return Twin(
        tenant=row.tenant,
        twin_id=row.twin_id,
        model=row.model,
        etag=row.etag,
        contents=row.contents,
        metadata=row.metadata,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _to_relationship(row: Any) -> Relationship:
    return Relationship(
        tenant=row.tenant,
        source_id=row.source_id,
        relationship_id=row.relationship_id,
        name=row.name,
        target_id=row.target_id,
        properties=row.properties,
        etag=row.etag,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _twin_row(twin: Twin) -> dict[str, Any]:
    return {
        "tenant": twin.tenant,
        "twin_id": twin.twin_id,
        "model": twin.model,
        "etag": twin.etag,
        "contents": dict(twin.contents),
        "metadata": dict(twin.metadata),
        "created_at": twin.created_at,
        "updated_at": twin.updated_at,
    }


def _relationship_row(rel: Relationship) -> dict[str, Any]:
    return {
        "tenant": rel.tenant,
        "source_id": rel.source_id,
        "relationship_id": rel.relationship_id,
        "name": rel.name,
        "target_id": rel.target_id,
        "properties": dict(rel.properties),
        "etag": rel.etag,
        "created_at": rel.created_at,
        "updated_at": rel.updated_at,
    }


# Point reads are the hottest path: built once, their cache keys are computed once.
_GET_TWIN = select(twins).where(
    twins.c.tenant == bindparam("tenant"), twins.c.twin_id == bindparam("twin_id")
)
_GET_TWIN_FOR_UPDATE = _GET_TWIN.with_for_update()


def _get_twin(conn: Connection, tenant: str, twin_id: str, lock: bool = False) -> Twin | None:
    stmt = _GET_TWIN_FOR_UPDATE if lock else _GET_TWIN
    row = conn.execute(stmt, {"tenant": tenant, "twin_id": twin_id}).first()
    return _to_twin(row) if row else None


def _get_twins(conn: Connection, tenant: str, twin_ids: Sequence[str]) -> dict[str, Twin]:
    found: dict[str, Twin] = {}
    for start in range(0, len(twin_ids), _CHUNK):
        chunk = twin_ids[start : start + _CHUNK]
        stmt = select(twins).where(twins.c.tenant == tenant, twins.c.twin_id.in_(chunk))
        found.update((row.twin_id, _to_twin(row)) for row in conn.execute(stmt))
    return found


def _get_relationship(
    conn: Connection, tenant: str, source_id: str, rel_id: str
) -> Relationship | None:
    row = conn.execute(
        select(relationships).where(
            relationships.c.tenant == tenant,
            relationships.c.source_id == source_id,
            relationships.c.relationship_id == rel_id,
        )
    ).first()
    return _to_relationship(row) if row else None


class _SqlTwinWriter(TwinWriter):
    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.bulk_rows = 0

    def get_twin(self, tenant: str, twin_id: str, *, lock: bool = False) -> Twin | None:
        return _get_twin(self._conn, tenant, twin_id, lock)

    def get_twins(self, tenant: str, twin_ids: list[str]) -> dict[str, Twin]:
        return _get_twins(self._conn, tenant, twin_ids)

    def insert_twin(self, twin: Twin) -> None:
        self.insert_twins([twin])

    def insert_twins(self, new_twins: list[Twin]) -> None:
        try:
            for start in range(0, len(new_twins), _CHUNK):
                self._conn.execute(
                    insert(twins), [_twin_row(t) for t in new_twins[start : start + _CHUNK]]
                )
        except IntegrityError as exc:
            # Two writers raced to create the same id, or a bulk load repeats an existing one.
            raise Conflict("a twin with this id already exists") from exc
        self.bulk_rows += len(new_twins)

    def update_twin(self, twin: Twin) -> None:
        row = _twin_row(twin)
        del row["created_at"]
        self._conn.execute(
            update(twins)
            .where(twins.c.tenant == twin.tenant, twins.c.twin_id == twin.twin_id)
            .values(**row)
        )

    def delete_twin(self, tenant: str, twin_id: str) -> None:
        self._conn.execute(
            delete(external_ids).where(
                external_ids.c.tenant == tenant, external_ids.c.twin_id == twin_id
            )
        )
        self._conn.execute(
            delete(twins).where(twins.c.tenant == tenant, twins.c.twin_id == twin_id)
        )

    def count_relationships(self, tenant: str, twin_id: str) -> int:
        stmt = select(func.count()).where(
            relationships.c.tenant == tenant,
            or_(relationships.c.source_id == twin_id, relationships.c.target_id == twin_id),
        )
        return int(self._conn.execute(stmt).scalar_one())

    def get_relationship(self, tenant: str, source_id: str, rel_id: str) -> Relationship | None:
        return _get_relationship(self._conn, tenant, source_id, rel_id)

    def count_named(self, tenant: str, source_id: str, name: str, excluding: str) -> int:
        stmt = select(func.count()).where(
            relationships.c.tenant == tenant,
            relationships.c.source_id == source_id,
            relationships.c.name == name,
            relationships.c.relationship_id != excluding,
        )
        return int(self._conn.execute(stmt).scalar_one())

    def upsert_relationship(self, rel: Relationship) -> None:
        self.delete_relationship(rel.tenant, rel.source_id, rel.relationship_id)
        self._conn.execute(insert(relationships).values(**_relationship_row(rel)))

    def upsert_relationships(self, rels: list[Relationship]) -> None:
        self.bulk_rows += len(rels)
        for start in range(0, len(rels), _CHUNK):
            self._conn.execute(
                insert(relationships),
                [_relationship_row(r) for r in rels[start : start + _CHUNK]],
            )

    def delete_relationship(self, tenant: str, source_id: str, rel_id: str) -> None:
        self._conn.execute(
            delete(relationships).where(
                relationships.c.tenant == tenant,
                relationships.c.source_id == source_id,
                relationships.c.relationship_id == rel_id,
            )
        )

    def model_state(self, tenant: str, dtmi: str) -> bool | None:
        row = self._conn.execute(
            select(models.c.decommissioned).where(models.c.tenant == tenant, models.c.dtmi == dtmi)
        ).first()
        return None if row is None else bool(row.decommissioned)

    def put_external_id(self, mapping: ExternalId) -> None:
        self.delete_external_id(mapping.tenant, mapping.source_system, mapping.source_id)
        self._conn.execute(
            insert(external_ids).values(
                tenant=mapping.tenant,
                source_system=mapping.source_system,
                source_id=mapping.source_id,
                twin_id=mapping.twin_id,
                created_at=mapping.created_at,
            )
        )

    def delete_external_id(self, tenant: str, source_system: str, source_id: str) -> str | None:
        removed: str | None = self._conn.execute(
            delete(external_ids)
            .where(
                external_ids.c.tenant == tenant,
                external_ids.c.source_system == source_system,
                external_ids.c.source_id == source_id,
            )
            .returning(external_ids.c.twin_id)
        ).scalar_one_or_none()
        return removed

    def append_event(self, event: NewEvent) -> None:
        append_events(self._conn, [event])

    def audit(self, entry: AuditEntry) -> None:
        append_audit(self._conn, entry)

    def append_events(self, new_events: list[NewEvent]) -> None:
        for start in range(0, len(new_events), _CHUNK):
            append_events(self._conn, new_events[start : start + _CHUNK])


class SqlTwinStore(TwinStore):
    """Twins, relationships and external ids in their tables."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._point_read = RawSelect(db, _GET_TWIN)

    def get_twin(self, tenant: str, twin_id: str) -> Twin | None:
        row = self._point_read.first(tenant=tenant, twin_id=twin_id)
        return None if row is None else Twin(**row)

    def get_twins(self, tenant: str, twin_ids: Collection[str]) -> dict[str, Twin]:
        with self._db.read() as conn:
            return _get_twins(conn, tenant, sorted(set(twin_ids)))

    def twin_models(self, tenant: str, twin_ids: Sequence[str]) -> dict[str, str]:
        unique = sorted(set(twin_ids))
        with self._db.read() as conn:
            # Ingest asks this for every batch's twins: straight on the DB-API cursor.
            rows = select_where_in(
                conn, twins, ("twin_id", "model"), tenant=tenant, column="twin_id", values=unique
            )
        return dict(rows)

    def list_twins(
        self, tenant: str, *, model: str | None = None, limit: int = 100, after: str | None = None
    ) -> Page[Twin]:
        stmt = select(twins).where(twins.c.tenant == tenant)
        if model is not None:
            stmt = stmt.where(twins.c.model == model)
        if after is not None:
            (last_id,) = decode_cursor(after, 1)
            stmt = stmt.where(twins.c.twin_id > last_id)
        stmt = stmt.order_by(twins.c.twin_id).limit(limit + 1)
        with self._db.read() as conn:
            items = [_to_twin(row) for row in conn.execute(stmt)]
        more = len(items) > limit
        items = items[:limit]
        return Page(items, encode_cursor(items[-1].twin_id) if more else None)

    def get_relationship(self, tenant: str, source_id: str, rel_id: str) -> Relationship | None:
        with self._db.read() as conn:
            return _get_relationship(conn, tenant, source_id, rel_id)

    def list_relationships(
        self,
        tenant: str,
        source_id: str,
        *,
        name: str | None = None,
        limit: int = 100,
        after: str | None = None,
    ) -> Page[Relationship]:
        stmt = select(relationships).where(
            relationships.c.tenant == tenant, relationships.c.source_id == source_id
        )
        if name is not None:
            stmt = stmt.where(relationships.c.name == name)
        if after is not None:
            (last_id,) = decode_cursor(after, 1)
            stmt = stmt.where(relationships.c.relationship_id > last_id)
        stmt = stmt.order_by(relationships.c.relationship_id).limit(limit + 1)
        with self._db.read() as conn:
            items = [_to_relationship(row) for row in conn.execute(stmt)]
        more = len(items) > limit
        items = items[:limit]
        return Page(items, encode_cursor(items[-1].relationship_id) if more else None)

    def list_incoming(
        self, tenant: str, target_id: str, *, limit: int = 100, after: str | None = None
    ) -> Page[Relationship]:
        stmt = select(relationships).where(
            relationships.c.tenant == tenant, relationships.c.target_id == target_id
        )
        if after is not None:
            last_source, last_rel = decode_cursor(after, 2)
            stmt = stmt.where(
                or_(
                    relationships.c.source_id > last_source,
                    and_(
                        relationships.c.source_id == last_source,
                        relationships.c.relationship_id > last_rel,
                    ),
                )
            )
        stmt = stmt.order_by(relationships.c.source_id, relationships.c.relationship_id)
        with self._db.read() as conn:
            items = [_to_relationship(row) for row in conn.execute(stmt.limit(limit + 1))]
        more = len(items) > limit
        items = items[:limit]
        cursor = encode_cursor(items[-1].source_id, items[-1].relationship_id) if more else None
        return Page(items, cursor)

    def resolve_external_id(self, tenant: str, source_system: str, source_id: str) -> str | None:
        stmt = select(external_ids.c.twin_id).where(
            external_ids.c.tenant == tenant,
            external_ids.c.source_system == source_system,
            external_ids.c.source_id == source_id,
        )
        with self._db.read() as conn:
            found: str | None = conn.execute(stmt).scalar_one_or_none()
            return found

    def list_external_ids(self, tenant: str, twin_id: str) -> list[ExternalId]:
        stmt = (
            select(external_ids)
            .where(external_ids.c.tenant == tenant, external_ids.c.twin_id == twin_id)
            .order_by(external_ids.c.source_system, external_ids.c.source_id)
        )
        with self._db.read() as conn:
            return [
                ExternalId(
                    tenant=row.tenant,
                    source_system=row.source_system,
                    source_id=row.source_id,
                    twin_id=row.twin_id,
                    created_at=row.created_at,
                )
                for row in conn.execute(stmt)
            ]

    def query(
        self,
        tenant: str,
        text: str,
        *,
        page_size: int,
        continuation: str | None,
        max_joins: int,
    ) -> Page[dict[str, object]]:
        with self._db.read() as conn:
            result = run_query(
                conn,
                tenant,
                text,
                page_size=page_size,
                continuation=continuation,
                max_joins=max_joins,
            )
        return Page(list(result.items), result.continuation)

    @contextmanager
    def transaction(self) -> Iterator[TwinWriter]:
        with self._db.write() as conn:
            writer = _SqlTwinWriter(conn)
            yield writer
        if writer.bulk_rows >= _ANALYZE_AFTER_ROWS:
            self._db.analyze("twins", "relationships")
