"""The registry store on SQL (both dialects)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from twinops.registry.entities import (
    Alias,
    AliasMove,
    Evidence,
    EvidenceKind,
    Expectation,
    ModelVersion,
    NewEvidence,
    RegisteredModel,
    Regression,
)
from twinops.registry.store import RegistryStore, StaleAlias
from twinops.security.entities import AuditEntry
from twinops.storage.audit import append_audit
from twinops.storage.database import Database
from twinops.storage.schema import alias_moves, model_aliases, model_evidence, model_versions

_NUMBERING_ATTEMPTS = 5  # concurrent registrations of one name race for the next number


def _regression(body: Any) -> Regression:
    return Regression(
        name=body["name"],
        spec=body["spec"],
        expect=tuple(
            Expectation(e["path"], e.get("min"), e.get("max")) for e in body.get("expect", [])
        ),
    )


def _version(row: Any) -> ModelVersion:
    return ModelVersion(
        tenant=row.tenant,
        name=row.name,
        version=row.version,
        model_ref=row.model_ref,
        code_sha256=row.code_sha256,
        parameters={k: float(v) for k, v in row.parameters.items()},
        intervals={k: (float(v[0]), float(v[1])) for k, v in row.intervals.items()},
        twin_parameters={
            twin: {k: float(v) for k, v in values.items()}
            for twin, values in row.twin_parameters.items()
        },
        twin_model=row.twin_model,
        default_scenario=row.default_scenario,
        thresholds=row.thresholds,
        regressions=tuple(_regression(r) for r in row.regressions),
        author=row.author,
        notes=row.notes,
        lineage=row.lineage,
        created_at=row.created_at,
    )


def _evidence(row: Any) -> Evidence:
    return Evidence(
        tenant=row.tenant,
        name=row.name,
        version=row.version,
        seq=row.seq,
        kind=EvidenceKind(row.kind),
        label=row.label,
        job_id=row.job_id,
        passed=bool(row.passed),
        metrics=row.metrics,
        reasons=tuple(row.reasons),
        attached_at=row.attached_at,
        attached_by=row.attached_by,
    )


def _move(row: Any) -> AliasMove:
    return AliasMove(
        tenant=row.tenant,
        name=row.name,
        alias=row.alias,
        seq=row.seq,
        previous=row.previous,
        version=row.version,
        moved_at=row.moved_at,
        moved_by=row.moved_by,
        reason=row.reason,
    )


class SqlRegistryStore(RegistryStore):
    """Versions, evidence and aliases in their own tables; writes carry their audit record."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add_version(self, version: ModelVersion, audit: AuditEntry) -> ModelVersion:
        for attempt in range(_NUMBERING_ATTEMPTS):
            try:
                with self._db.write() as conn:
                    number = self._next(conn, version.tenant, version.name, model_versions)
                    stored = ModelVersion(**{**version.__dict__, "version": number})
                    conn.execute(insert(model_versions).values(**self._row(stored)))
                    details = {**audit.details, "version": number}
                    append_audit(
                        conn,
                        AuditEntry(
                            audit.tenant,
                            audit.actor,
                            audit.action,
                            stored.key,
                            audit.occurred_at,
                            details,
                        ),
                    )
                    return stored
            except IntegrityError:
                if attempt == _NUMBERING_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    @staticmethod
    def _next(conn: Connection, tenant: str, name: str, table: Any) -> int:
        column = table.c.version if table is model_versions else table.c.seq
        latest = conn.execute(
            select(func.max(column)).where(table.c.tenant == tenant, table.c.name == name)
        ).scalar()
        return int(latest or 0) + 1

    @staticmethod
    def _row(v: ModelVersion) -> dict[str, Any]:
        return {
            "tenant": v.tenant,
            "name": v.name,
            "version": v.version,
            "model_ref": v.model_ref,
            "code_sha256": v.code_sha256,
            "parameters": dict(v.parameters),
            "intervals": {k: [lo, hi] for k, (lo, hi) in v.intervals.items()},
            "twin_parameters": {t: dict(values) for t, values in v.twin_parameters.items()},
            "twin_model": v.twin_model,
            "default_scenario": None if v.default_scenario is None else dict(v.default_scenario),
            "thresholds": {k: dict(b) for k, b in v.thresholds.items()},
            "regressions": [r.to_json() for r in v.regressions],
            "author": v.author,
            "notes": v.notes,
            "lineage": dict(v.lineage),
            "created_at": v.created_at,
        }

    def version(self, tenant: str, name: str, number: int) -> ModelVersion | None:
        stmt = select(model_versions).where(
            model_versions.c.tenant == tenant,
            model_versions.c.name == name,
            model_versions.c.version == number,
        )
        with self._db.read() as conn:
            row = conn.execute(stmt).first()
        return None if row is None else _version(row)

    def versions(self, tenant: str, name: str) -> list[ModelVersion]:
        stmt = (
            select(model_versions)
            .where(model_versions.c.tenant == tenant, model_versions.c.name == name)
            .order_by(model_versions.c.version)
        )
        with self._db.read() as conn:
            return [_version(row) for row in conn.execute(stmt)]

    def models(self, tenant: str) -> list[RegisteredModel]:
        heads = select(
            model_versions.c.name,
            model_versions.c.version,
            model_versions.c.twin_model,
            model_versions.c.model_ref,
        ).where(model_versions.c.tenant == tenant)
        with self._db.read() as conn:
            rows = conn.execute(heads.order_by(model_versions.c.name, model_versions.c.version))
            latest: dict[str, Any] = {}
            counts: dict[str, int] = {}
            for row in rows:
                latest[row.name] = row  # ordered by version: the last one wins
                counts[row.name] = counts.get(row.name, 0) + 1
            aliases: dict[str, dict[str, int]] = {}
            for alias in conn.execute(
                select(model_aliases).where(model_aliases.c.tenant == tenant)
            ):
                aliases.setdefault(alias.name, {})[alias.alias] = alias.version
        return [
            RegisteredModel(
                name=name,
                latest=int(row.version),
                versions=counts[name],
                aliases=aliases.get(name, {}),
                twin_model=row.twin_model,
                model_ref=row.model_ref,
            )
            for name, row in latest.items()
        ]

    def add_evidence(
        self,
        tenant: str,
        name: str,
        number: int,
        evidence: NewEvidence,
        at: int,
        by: str,
        audit: AuditEntry,
    ) -> Evidence:
        for attempt in range(_NUMBERING_ATTEMPTS):
            try:
                with self._db.write() as conn:
                    latest = conn.execute(
                        select(func.max(model_evidence.c.seq)).where(
                            model_evidence.c.tenant == tenant,
                            model_evidence.c.name == name,
                            model_evidence.c.version == number,
                        )
                    ).scalar()
                    seq = int(latest or 0) + 1
                    row = {
                        "tenant": tenant,
                        "name": name,
                        "version": number,
                        "seq": seq,
                        "kind": str(evidence.kind),
                        "label": evidence.label,
                        "job_id": evidence.job_id,
                        "passed": evidence.passed,
                        "metrics": dict(evidence.metrics),
                        "reasons": list(evidence.reasons),
                        "attached_at": at,
                        "attached_by": by,
                    }
                    conn.execute(insert(model_evidence).values(**row))
                    append_audit(conn, audit)
                    return Evidence(
                        tenant,
                        name,
                        number,
                        seq,
                        evidence.kind,
                        evidence.label,
                        evidence.job_id,
                        evidence.passed,
                        dict(evidence.metrics),
                        tuple(evidence.reasons),
                        at,
                        by,
                    )
            except IntegrityError:
                if attempt == _NUMBERING_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def evidence(self, tenant: str, name: str, number: int) -> list[Evidence]:
        stmt = (
            select(model_evidence)
            .where(
                model_evidence.c.tenant == tenant,
                model_evidence.c.name == name,
                model_evidence.c.version == number,
            )
            .order_by(model_evidence.c.seq)
        )
        with self._db.read() as conn:
            return [_evidence(row) for row in conn.execute(stmt)]

    def aliases(self, tenant: str, name: str) -> list[Alias]:
        stmt = (
            select(model_aliases)
            .where(model_aliases.c.tenant == tenant, model_aliases.c.name == name)
            .order_by(model_aliases.c.alias)
        )
        with self._db.read() as conn:
            return [
                Alias(r.tenant, r.name, r.alias, r.version, r.moved_at, r.moved_by)
                for r in conn.execute(stmt)
            ]

    def move_alias(
        self,
        tenant: str,
        name: str,
        alias: str,
        expected: int | None,
        version: int | None,
        at: int,
        by: str,
        reason: str,
        audit: AuditEntry,
    ) -> AliasMove:
        key = (
            model_aliases.c.tenant == tenant,
            model_aliases.c.name == name,
            model_aliases.c.alias == alias,
        )
        try:
            with self._db.write() as conn:
                current = conn.execute(
                    select(model_aliases.c.version).where(*key).with_for_update()
                ).scalar()
                if current != expected:
                    raise StaleAlias(f"{name}:{alias} now points at {current}")
                if version is None:
                    conn.execute(delete(model_aliases).where(*key))
                elif current is None:
                    conn.execute(
                        insert(model_aliases).values(
                            tenant=tenant,
                            name=name,
                            alias=alias,
                            version=version,
                            moved_at=at,
                            moved_by=by,
                        )
                    )
                else:
                    conn.execute(
                        update(model_aliases)
                        .where(*key)
                        .values(version=version, moved_at=at, moved_by=by)
                    )
                seq = self._next(conn, tenant, name, alias_moves)
                row = {
                    "tenant": tenant,
                    "name": name,
                    "seq": seq,
                    "alias": alias,
                    "previous": current,
                    "version": version,
                    "moved_at": at,
                    "moved_by": by,
                    "reason": reason,
                }
                conn.execute(insert(alias_moves).values(**row))
                append_audit(conn, audit)
                return AliasMove(tenant, name, alias, seq, current, version, at, by, reason)
        except IntegrityError as exc:
            # Two first moves of one alias raced to insert it (or to number the move).
            raise StaleAlias(f"{name}:{alias} moved concurrently") from exc

    def alias_history(self, tenant: str, name: str, alias: str | None = None) -> list[AliasMove]:
        stmt = select(alias_moves).where(alias_moves.c.tenant == tenant, alias_moves.c.name == name)
        if alias is not None:
            stmt = stmt.where(alias_moves.c.alias == alias)
        with self._db.read() as conn:
            return [_move(row) for row in conn.execute(stmt.order_by(alias_moves.c.seq))]
