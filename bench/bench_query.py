"""Twin-graph query latency (p50/p99) on a fleet of 100k twins, beside hand-written SQL.

Ours: ``platform.twins.query(tenant, text, page_size=..., continuation=..., max_joins=20)``
in process on SQLite, for

  * ``filter_page``: the first page (page size 100) of
    ``SELECT T FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:twinops:example:Pump;1')
    AND T.ratedFlow > 200``;
  * ``filter_top``: the same with ``TOP(100)``;
  * ``filter_all_pages``: every page of that query (page size 1000, continuation tokens);
  * ``filter_count``: ``SELECT COUNT() FROM ...`` with the same condition;
  * ``two_hop_join``: ``SELECT P FROM DIGITALTWINS S JOIN T RELATED S.contains
    JOIN P RELATED T.hasPump WHERE S.$dtId = 'site-01'`` (40 pumps).

Raw engine, same run: the equivalent hand-written SQL through the sqlite3 module on the
same database file (model filter through ``model_ancestors``, ``json_extract`` for the
property, keyset pages ordered by twin id), rows fetched and their JSON columns decoded.
The JSON also carries SQLite's ``EXPLAIN QUERY PLAN`` for each compiled query.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as b

TENANT = "default"
PUMP_FILTER = (
    "FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:twinops:example:Pump;1') AND T.ratedFlow > 200"
)
JOIN_QUERY = (
    "SELECT P FROM DIGITALTWINS S JOIN T RELATED S.contains JOIN P RELATED T.hasPump "
    "WHERE S.$dtId = 'site-01'"
)
_RAW_FILTER = (
    "FROM twins WHERE tenant = ?1 AND model IN "
    "(SELECT dtmi FROM model_ancestors WHERE tenant = ?1 AND ancestor = ?2) "
    "AND json_extract(contents, '$.ratedFlow') > 200"
)
_RAW_JOIN = (
    "SELECT p.* FROM relationships r1 "
    "JOIN relationships r2 ON r2.tenant = r1.tenant AND r2.source_id = r1.target_id "
    "AND r2.name = 'hasPump' "
    "JOIN twins p ON p.tenant = r2.tenant AND p.twin_id = r2.target_id "
    "WHERE r1.tenant = ?1 AND r1.source_id = 'site-01' AND r1.name = 'contains' "
    "ORDER BY p.twin_id"
)


def _decode(rows: list[Any]) -> int:
    for row in rows:
        json.loads(row[4])
        json.loads(row[5])
    return len(rows)


def _measure(
    name: str,
    ours: Callable[[], int],
    raw: Callable[[], int],
    count: int,
    seconds: float,
) -> dict[str, Any]:
    rows = {"ours": ours(), "raw": raw()}
    b.log(f"{name}: twinops ({rows['ours']} rows) ...")
    ours_s = b.timed_loop(ours, max_count=count, max_seconds=seconds, warmup=2)
    b.log(f"{name}: hand-written SQL ({rows['raw']} rows) ...")
    raw_s = b.timed_loop(raw, max_count=count, max_seconds=seconds, warmup=2)
    ours_sum, raw_sum = b.summary_ms(ours_s), b.summary_ms(raw_s)
    b.log(f"  p50 {ours_sum['p50_ms']} ms vs {raw_sum['p50_ms']} ms")
    return {
        "rows": rows["ours"],
        "raw_rows": rows["raw"],
        "twinops": ours_sum,
        "raw_sql": raw_sum,
        "slowdown_p50": b.ratio(float(ours_sum["p50_ms"]), float(raw_sum["p50_ms"])),
        "slowdown_p99": b.ratio(float(ours_sum["p99_ms"]), float(raw_sum["p99_ms"])),
    }


def _plans(conn: sqlite3.Connection, texts: dict[str, str]) -> dict[str, Any]:
    from twinops.storage.query import explain

    plans: dict[str, Any] = {}
    for name, text in texts.items():
        sql = explain(text, dialect="sqlite", tenant=TENANT)
        rows = conn.execute("EXPLAIN QUERY PLAN " + sql).fetchall()
        plans[name] = [row[3] for row in rows]
    return plans


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--twins", type=int, default=100_000, help="fleet size (100000)")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="prepared data folder to reuse (or an empty one to prepare); default: a temp folder",
    )
    parser.add_argument("--count", type=int, default=200, help="runs per query (200)")
    parser.add_argument("--seconds", type=float, default=20.0, help="cap per query loop (20)")
    parser.add_argument("--page-size", type=int, default=100, help="first-page size (100)")
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke test")
    args = parser.parse_args(argv)
    if args.quick:
        args.twins, args.count, args.seconds = 2000, 20, 2.0

    with tempfile.TemporaryDirectory(prefix="twinops-bench-query-") as tmp:
        data_dir = args.data_dir or Path(tmp) / "data"
        started = time.perf_counter()
        prepared = b.prepare_data_dir(data_dir, args.twins)
        platform = b.open_platform(data_dir)
        conn = sqlite3.connect(data_dir / "twinops.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        query = platform.twins.query
        page = args.page_size
        pump = "dtmi:twinops:example:Pump;1"
        filter_text = f"SELECT T {PUMP_FILTER}"
        top_text = f"SELECT TOP({page}) T {PUMP_FILTER}"
        count_text = f"SELECT COUNT() {PUMP_FILTER}"

        def ours_page(text: str = filter_text) -> int:
            return len(query(TENANT, text, page_size=page, continuation=None, max_joins=20).items)

        def raw_page() -> int:
            sql = f"SELECT * {_RAW_FILTER} ORDER BY twin_id LIMIT {page + 1}"
            return min(page, _decode(conn.execute(sql, (TENANT, pump)).fetchall()))

        def ours_all() -> int:
            total, token = 0, None
            while True:
                result = query(TENANT, filter_text, page_size=1000, continuation=token)
                total += len(result.items)
                token = result.next
                if token is None:
                    return total

        def raw_all() -> int:
            total, last = 0, ""
            while True:
                sql = f"SELECT * {_RAW_FILTER} AND twin_id > ?3 ORDER BY twin_id LIMIT 1001"
                rows = conn.execute(sql, (TENANT, pump, last)).fetchall()
                total += _decode(rows[:1000])
                if len(rows) <= 1000:
                    return total
                last = rows[999][1]

        def ours_count() -> int:
            items = query(TENANT, count_text).items
            return int(items[0]["COUNT"])  # type: ignore[call-overload]

        def raw_count() -> int:
            return int(conn.execute(f"SELECT COUNT(*) {_RAW_FILTER}", (TENANT, pump)).fetchone()[0])

        def ours_join() -> int:
            return len(query(TENANT, JOIN_QUERY, page_size=1000, max_joins=20).items)

        def raw_join() -> int:
            return _decode(conn.execute(_RAW_JOIN, (TENANT,)).fetchall())

        n, s = args.count, args.seconds
        results: dict[str, Any] = {
            "filter_page": _measure("filter_page", ours_page, raw_page, n, s),
            "filter_top": _measure("filter_top", lambda: ours_page(top_text), raw_page, n, s),
            "filter_all_pages": _measure(
                "filter_all_pages", ours_all, raw_all, max(3, n // 20), s * 2
            ),
            "filter_count": _measure("filter_count", ours_count, raw_count, n, s),
            "two_hop_join": _measure("two_hop_join", ours_join, raw_join, n, s),
        }
        plans = _plans(
            conn,
            {"filter": filter_text, "count": count_text, "two_hop_join": JOIN_QUERY},
        )
        raw_plans = {
            name: [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()]
            for name, sql, params in (
                ("filter", f"SELECT * {_RAW_FILTER} ORDER BY twin_id", (TENANT, pump)),
                ("two_hop_join", _RAW_JOIN, (TENANT,)),
            )
        }
        conn.close()
        platform.close()
        result = {
            "benchmark": "query",
            "machine": b.machine(),
            "params": {
                "twins": args.twins,
                "page_size": page,
                "all_pages_page_size": 1000,
                "queries": {
                    "filter": filter_text,
                    "top": top_text,
                    "count": count_text,
                    "two_hop_join": JOIN_QUERY,
                },
            },
            "prepare": prepared,
            "results": results,
            "sqlite_query_plans": plans,
            "raw_sql_query_plans": raw_plans,
            "total_seconds": round(time.perf_counter() - started, 1),
        }
    b.emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
