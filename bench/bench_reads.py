"""Point reads of random twins: in-process p50/p99, HTTP p50/p99, and REST reads/s under wrk.

Ours:
  * in process: ``platform.twins.get(tenant, id)`` on a fleet (default 100k twins);
  * over HTTP: GET /v1/twins/{id} against ``twinops serve`` (a subprocess on a free port on
    127.0.0.1, the prepared data folder), one keep-alive client in sequence (unloaded
    latency), then ``wrk`` with a Lua script spreading requests over random twin ids.

Raw engine, same run:
  * in process: the sqlite3 module on the same database file, the primary-key SELECT of
    the same row plus ``json.loads`` of its two JSON columns;
  * over HTTP: a bare FastAPI endpoint (``bare_server.py``) answering a constant twin JSON,
    served by uvicorn exactly as ``twinops serve`` does (``uvicorn.run(app, log_level=
    "info")``, sync route); also with 2 uvicorn workers unless ``--no-bare-two-workers``.

``twinops serve --workers 2`` is measured too, beside the bare server with 2 workers.

Goal (issue): >= 5,000 reads/s and p99 < 20 ms on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as b

TENANT = "default"
GOAL_RPS = 5000
GOAL_P99_MS = 20.0


def in_process(data_dir: Path, ids: list[str], count: int, seconds: float) -> dict[str, Any]:
    """platform.twins.get versus a bare sqlite3 primary-key read of the same rows."""
    rng = random.Random(11)
    platform = b.open_platform(data_dir)
    try:
        get = platform.twins.get

        def ours() -> None:
            get(TENANT, ids[rng.randrange(len(ids))])

        b.log(f"in-process platform.twins.get ({count} reads or {seconds} s) ...")
        ours_s = b.timed_loop(ours, max_count=count, max_seconds=seconds, warmup=200)
    finally:
        platform.close()

    conn = sqlite3.connect(data_dir / "twinops.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    sql = "SELECT * FROM twins WHERE tenant = ? AND twin_id = ?"

    def raw() -> None:
        row = conn.execute(sql, (TENANT, ids[rng.randrange(len(ids))])).fetchone()
        json.loads(row[4])
        json.loads(row[5])

    b.log("in-process bare sqlite3 primary-key read ...")
    raw_s = b.timed_loop(raw, max_count=count, max_seconds=seconds, warmup=200)
    conn.close()
    ours_sum, raw_sum = b.summary_ms(ours_s), b.summary_ms(raw_s)
    return {
        "twinops_get": dict(ours_sum, reads_per_s=round(len(ours_s) / sum(ours_s), 1)),
        "raw_sqlite_select": dict(raw_sum, reads_per_s=round(len(raw_s) / sum(raw_s), 1)),
        "slowdown_p50": b.ratio(float(ours_sum["p50_ms"]), float(raw_sum["p50_ms"])),
        "slowdown_p99": b.ratio(float(ours_sum["p99_ms"]), float(raw_sum["p99_ms"])),
    }


def sequential_http(url: str, ids: list[str], count: int, seconds: float) -> dict[str, Any]:
    """One keep-alive client, one request at a time: latency without queueing."""
    import httpx

    rng = random.Random(12)
    statuses: dict[int, int] = {}
    with httpx.Client(base_url=url, timeout=10, headers=b.AUTH_HEADERS) as client:

        def one() -> None:
            response = client.get(f"/v1/twins/{ids[rng.randrange(len(ids))]}")
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        samples = b.timed_loop(one, max_count=count, max_seconds=seconds, warmup=50)
    return dict(b.summary_ms(samples), statuses={str(k): v for k, v in statuses.items()})


def measure_server(
    server: b.Server, ids: list[str], args: argparse.Namespace, workdir: Path
) -> dict[str, Any]:
    """Sequential latency, then wrk, then the server's memory."""
    try:
        b.log(f"{server.name}: sequential GETs ...")
        seq = sequential_http(server.url, ids, args.http_samples, args.seconds)
        b.log(f"  p50 {seq.get('p50_ms')} ms, p99 {seq.get('p99_ms')} ms")
        load: dict[str, Any] | str
        if b.wrk_available():
            b.log(f"{server.name}: wrk -c{args.connections} for {args.wrk_seconds} s ...")
            load = b.run_wrk(
                server.url,
                "/v1/twins/",
                ids[: args.wrk_ids],
                seconds=args.wrk_seconds,
                connections=args.connections,
                threads=args.wrk_threads,
                workdir=workdir,
            )
            b.log(f"  {load['requests_per_s']} req/s, p99 {load['latency_ms']['p99']} ms")
        else:
            load = "wrk not installed (apt-get install -y wrk)"
        return {"sequential": seq, "wrk": load, "server_memory": b.tree_rss_mib(server.process.pid)}
    finally:
        server.stop()


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
    parser.add_argument("--samples", type=int, default=20_000, help="in-process reads (20000)")
    parser.add_argument("--http-samples", type=int, default=3000, help="sequential GETs (3000)")
    parser.add_argument("--seconds", type=float, default=20.0, help="cap per latency loop (20)")
    parser.add_argument("--wrk-seconds", type=int, default=15, help="wrk duration (15)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (16)")
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (1)")
    parser.add_argument("--wrk-ids", type=int, default=20_000, help="ids in the wrk script")
    parser.add_argument(
        "--no-bare-two-workers",
        action="store_true",
        help="skip the bare FastAPI baseline with 2 uvicorn workers",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke test")
    args = parser.parse_args(argv)
    if args.quick:
        args.twins, args.samples, args.http_samples = 1000, 1000, 300
        args.seconds, args.wrk_seconds, args.no_bare_two_workers = 2.0, 2, True

    with tempfile.TemporaryDirectory(prefix="twinops-bench-reads-") as tmp:
        workdir = Path(tmp)
        data_dir = args.data_dir or workdir / "data"
        started = time.perf_counter()
        prepared = b.prepare_data_dir(data_dir, args.twins)
        ids = b.twin_ids(args.twins)
        random.Random(3).shuffle(ids)
        result: dict[str, Any] = {
            "benchmark": "point_reads",
            "machine": b.machine(),
            "params": {
                "twins": args.twins,
                "tenant": TENANT,
                "wrk_connections": args.connections,
                "wrk_threads": args.wrk_threads,
                "wrk_seconds": args.wrk_seconds,
            },
            "prepare": prepared,
            "in_process": in_process(data_dir, ids, args.samples, args.seconds),
        }

        platform = b.open_platform(data_dir)
        from twinops.twins.representation import twin_to_json

        body = twin_to_json(platform.twins.get(TENANT, next(i for i in ids if "pump" in i)))
        platform.close()
        body_file = workdir / "twin.json"
        body_file.write_text(json.dumps(body))

        http: dict[str, Any] = {}
        http["twinops_1_worker"] = measure_server(
            b.twinops_server(data_dir, b.free_port()), ids, args, workdir
        )
        if not args.no_bare_two_workers:
            http["twinops_2_workers"] = measure_server(
                b.twinops_server(data_dir, b.free_port(), workers=2), ids, args, workdir
            )
        http["bare_fastapi_1_worker"] = measure_server(
            b.bare_server(b.free_port(), body_file), ids, args, workdir
        )
        if not args.no_bare_two_workers:
            http["bare_fastapi_2_workers"] = measure_server(
                b.bare_server(b.free_port(), body_file, workers=2), ids, args, workdir
            )
        ours, bare = http["twinops_1_worker"], http["bare_fastapi_1_worker"]
        http["slowdown_sequential_p50"] = b.ratio(
            ours["sequential"]["p50_ms"], bare["sequential"]["p50_ms"]
        )
        if isinstance(ours["wrk"], dict) and isinstance(bare["wrk"], dict):
            rps = ours["wrk"]["requests_per_s"]
            p99 = ours["wrk"]["latency_ms"]["p99"]
            http["throughput_fraction_of_bare"] = b.ratio(rps, bare["wrk"]["requests_per_s"])
            http["goal"] = {
                "reads_per_s": GOAL_RPS,
                "p99_ms": GOAL_P99_MS,
                "measured_reads_per_s": rps,
                "measured_p99_ms": p99,
                "met": rps >= GOAL_RPS and p99 < GOAL_P99_MS,
            }
        result["http"] = http
        result["total_seconds"] = round(time.perf_counter() - started, 1)
    b.emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
