"""Create a pump fleet (default 100k twins, 200k relationships) through the twin service.

Ours: ``Platform.open`` on a fresh data folder, the pump-fleet models uploaded, then
``platform.twins.import_graph(tenant, twins, relationships)`` batch after batch (default
5,000 twins each, with their relationships). Only the ``import_graph`` calls are timed.

Raw engine, same run: the sqlite3 module (WAL, synchronous=NORMAL, as twinops sets them)
``executemany`` of the same rows (JSON encoded in the timed region) into tables with the same
columns, keys and indexes, one transaction per batch; once with twins and relationships only
and once also with the one event row per created twin/relationship the service appends.

With ``--pg-url`` the service run is repeated on PostgreSQL under a unique tenant (removed
afterwards unless ``--pg-keep``), beside psycopg ``executemany`` into scratch tables.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as b

_SQLITE_DDL = """
CREATE TABLE twins (
  tenant VARCHAR(64) NOT NULL, twin_id VARCHAR(128) NOT NULL, model VARCHAR(2048) NOT NULL,
  etag VARCHAR(64) NOT NULL, contents JSON NOT NULL, metadata JSON NOT NULL,
  created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, PRIMARY KEY (tenant, twin_id));
CREATE INDEX ix_twins_model ON twins (tenant, model);
CREATE TABLE relationships (
  tenant VARCHAR(64) NOT NULL, source_id VARCHAR(128) NOT NULL,
  relationship_id VARCHAR(128) NOT NULL, name VARCHAR(512) NOT NULL,
  target_id VARCHAR(128) NOT NULL, properties JSON NOT NULL, etag VARCHAR(64) NOT NULL,
  created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,
  PRIMARY KEY (tenant, source_id, relationship_id));
CREATE INDEX ix_relationships_source_name ON relationships (tenant, source_id, name);
CREATE INDEX ix_relationships_target ON relationships (tenant, target_id);
CREATE TABLE events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, tenant VARCHAR(64) NOT NULL, type VARCHAR(64) NOT NULL,
  subject VARCHAR(2048) NOT NULL, occurred_at BIGINT NOT NULL, data JSON NOT NULL);
CREATE INDEX ix_events_tenant_seq ON events (tenant, seq);
CREATE INDEX ix_events_subject ON events (tenant, subject, seq);
"""

_PG_DDL = _SQLITE_DDL.replace("JSON NOT NULL", "JSONB NOT NULL").replace(
    "seq INTEGER PRIMARY KEY AUTOINCREMENT", "seq BIGSERIAL PRIMARY KEY"
)
_INSERT_TWIN = "INSERT INTO twins VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
_INSERT_REL = "INSERT INTO relationships VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
_INSERT_EVENT = "INSERT INTO events (tenant, type, subject, occurred_at, data) VALUES (?,?,?,?,?)"
_SYSTEM = ("$dtId", "$metadata", "$etag")
_REL_SYSTEM = ("$relationshipId", "$sourceId", "$targetId", "$relationshipName", "$etag")


def _rows(
    tenant: str, twins: list[dict[str, Any]], rels: list[dict[str, Any]], events: bool
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The rows a raw application would write for a batch, JSON encoded like the service."""
    now = time.time_ns() // 1000
    etag = f'W/"{uuid.uuid4()}"'
    twin_rows = []
    event_rows = []
    for body in twins:
        contents = {k: v for k, v in body.items() if k not in _SYSTEM}
        contents_json = json.dumps(contents)
        twin_rows.append(
            (
                tenant,
                body["$dtId"],
                body["$metadata"]["$model"],
                etag,
                contents_json,
                json.dumps({k: {"lastUpdateTime": now} for k in contents}),
                now,
                now,
            )
        )
        if events:
            event_rows.append((tenant, "TwinCreated", body["$dtId"], now, contents_json))
    rel_rows = []
    for rel in rels:
        props = json.dumps({k: v for k, v in rel.items() if k not in _REL_SYSTEM})
        rel_rows.append(
            (
                tenant,
                rel["$sourceId"],
                rel["$relationshipId"],
                rel["$relationshipName"],
                rel["$targetId"],
                props,
                etag,
                now,
                now,
            )
        )
        if events:
            event_rows.append((tenant, "RelationshipCreated", rel["$sourceId"], now, props))
    return twin_rows, rel_rows, event_rows


def bare_sqlite(
    path: Path, batches: list[tuple[list[Any], list[Any]]], tenant: str, events: bool
) -> dict[str, Any]:
    """sqlite3 executemany of the same rows, one transaction per batch."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.executescript(_SQLITE_DDL)
    durations = []
    twins = rels = 0
    for twin_bodies, rel_bodies in batches:
        start = time.perf_counter()
        twin_rows, rel_rows, event_rows = _rows(tenant, twin_bodies, rel_bodies, events)
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(_INSERT_TWIN, twin_rows)
        conn.executemany(_INSERT_REL, rel_rows)
        if events:
            conn.executemany(_INSERT_EVENT, event_rows)
        conn.execute("COMMIT")
        durations.append(time.perf_counter() - start)
        twins += len(twin_rows)
        rels += len(rel_rows)
    conn.close()
    return _rate(twins, rels, durations)


def bare_postgres(
    url: str, batches: list[tuple[list[Any], list[Any]]], tenant: str, events: bool
) -> dict[str, Any]:
    """psycopg executemany of the same rows into scratch tables, one transaction per batch."""
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    durations = []
    twins = rels = 0
    with psycopg.connect(dsn) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(f"SET search_path TO {schema}")
        for statement in _PG_DDL.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.commit()
        try:
            for twin_bodies, rel_bodies in batches:
                start = time.perf_counter()
                twin_rows, rel_rows, event_rows = _rows(tenant, twin_bodies, rel_bodies, events)
                with conn.cursor() as cur:
                    cur.executemany(_INSERT_TWIN.replace("?", "%s"), twin_rows)
                    cur.executemany(_INSERT_REL.replace("?", "%s"), rel_rows)
                    if events:
                        cur.executemany(_INSERT_EVENT.replace("?", "%s"), event_rows)
                conn.commit()
                durations.append(time.perf_counter() - start)
                twins += len(twin_rows)
                rels += len(rel_rows)
        finally:
            conn.rollback()
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
            conn.commit()
    return _rate(twins, rels, durations)


def _rate(twins: int, rels: int, durations: list[float]) -> dict[str, Any]:
    total = sum(durations)
    return {
        "twins": twins,
        "relationships": rels,
        "seconds": round(total, 3),
        "twins_per_s": round(twins / total, 1),
        "rows_per_s": round((twins + rels) / total, 1),
        "batch": b.summary_ms(durations),
    }


def service(
    database_url: str, data_dir: Path, batches: list[tuple[list[Any], list[Any]]], tenant: str
) -> dict[str, Any]:
    """The twin service's import_graph, batch after batch."""
    platform = b.open_platform(data_dir, database_url)
    try:
        b.upload_models(platform, tenant)
        durations = []
        twins = rels = 0
        last = time.perf_counter()
        for twin_bodies, rel_bodies in batches:
            start = time.perf_counter()
            result = platform.twins.import_graph(tenant, twin_bodies, rel_bodies)
            durations.append(time.perf_counter() - start)
            twins += result.twins
            rels += result.relationships
            if time.perf_counter() - last > 15:
                last = time.perf_counter()
                b.log(f"  {twins} twins, {rels} relationships ({twins / sum(durations):.0f}/s)")
    finally:
        platform.close()
    return _rate(twins, rels, durations)


def _pg_cleanup(url: str, tenant: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        for table in ("events", "relationships", "twins", "model_ancestors", "models"):
            conn.execute(text(f"DELETE FROM {table} WHERE tenant = :t"), {"t": tenant})
    engine.dispose()


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--twins", type=int, default=100_000, help="twins (default 100000)")
    parser.add_argument(
        "--rels-per-twin", type=float, default=2.0, help="relationships per twin (default 2)"
    )
    parser.add_argument("--batch", type=int, default=5000, help="twins per import (5000)")
    parser.add_argument("--pg-url", default=None, help="also run on this PostgreSQL URL")
    parser.add_argument("--pg-keep", action="store_true", help="keep the PostgreSQL tenant")
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke test")
    args = parser.parse_args(argv)
    if args.quick:
        args.twins, args.batch = 5000, 1000
    n_rels = round(args.twins * args.rels_per_twin)

    b.log(f"generating {args.twins} twins, {n_rels} relationships in batches of {args.batch}")
    start = time.perf_counter()
    batches = list(b.FleetBatches(args.twins, n_rels, batch_size=args.batch))
    generate_s = time.perf_counter() - start
    result: dict[str, Any] = {
        "benchmark": "create_fleet",
        "machine": b.machine(),
        "params": {
            "twins": args.twins,
            "relationships": n_rels,
            "batch_twins": args.batch,
            "batches": len(batches),
            "generate_seconds": round(generate_s, 2),
        },
    }
    with tempfile.TemporaryDirectory(prefix="twinops-bench-create-") as tmp:
        root = Path(tmp)
        b.log("raw sqlite3 executemany (twins + relationships) ...")
        raw = bare_sqlite(root / "raw.db", batches, "default", events=False)
        b.log(f"  {raw['twins_per_s']} twins/s")
        b.log("raw sqlite3 executemany (twins + relationships + events) ...")
        raw_events = bare_sqlite(root / "raw-events.db", batches, "default", events=True)
        b.log(f"  {raw_events['twins_per_s']} twins/s")
        b.log("twinops import_graph on SQLite ...")
        ours = service("", root / "data", batches, "default")
        b.log(f"  {ours['twins_per_s']} twins/s")
        result["sqlite"] = {
            "twinops_import_graph": ours,
            "raw_sqlite_executemany": raw,
            "raw_sqlite_executemany_with_events": raw_events,
            "slowdown_vs_raw": b.ratio(ours["seconds"], raw["seconds"]),
            "slowdown_vs_raw_with_events": b.ratio(ours["seconds"], raw_events["seconds"]),
            "db_file_mib": round((root / "data" / "twinops.db").stat().st_size / 2**20, 1),
        }
        if args.pg_url:
            tenant = f"bench-{uuid.uuid4().hex[:10]}"
            b.log(f"raw psycopg executemany (with events) on {args.pg_url} ...")
            pg_raw = bare_postgres(args.pg_url, batches, tenant, events=True)
            b.log(f"  {pg_raw['twins_per_s']} twins/s")
            b.log(f"twinops import_graph on PostgreSQL, tenant {tenant} ...")
            try:
                pg_ours = service(args.pg_url, root / "pg-data", batches, tenant)
            finally:
                if not args.pg_keep:
                    _pg_cleanup(args.pg_url, tenant)
            b.log(f"  {pg_ours['twins_per_s']} twins/s")
            result["postgresql"] = {
                "tenant": tenant,
                "twinops_import_graph": pg_ours,
                "raw_psycopg_executemany_with_events": pg_raw,
                "slowdown_vs_raw_with_events": b.ratio(pg_ours["seconds"], pg_raw["seconds"]),
            }
    result["peak_rss_mib"] = b.self_peak_rss_mib()
    b.emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
