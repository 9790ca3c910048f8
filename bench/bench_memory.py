"""Resident memory (RSS) of twinops holding N twins (default 100k; 1M opt-in), serving reads.

For each size in ``--sizes`` (default ``100000``; ``--sizes 100000,1000000`` adds 1M twins,
which takes several minutes to load and about 1.5 GiB of disk):

  1. a child process loads N twins and 2N relationships through ``import_graph`` into a
     fresh data folder (how long it took and the loader's peak RSS are reported);
  2. ``twinops serve`` starts on that folder: RSS after start-up, then after ``wrk`` (or a
     plain client when wrk is missing) has read random twins for ``--read-seconds``;
  3. a child process opens the platform in process: RSS after opening, then after
     ``--reads`` random ``platform.twins.get`` calls.

Raw baseline, same run: the RSS of an idle bare Python process with the same imports
(twinops's platform, API app and CLI modules, FastAPI, uvicorn, SQLAlchemy), and the RSS of
the bare FastAPI server (``bare_server.py``) after the same wrk load.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as b

TENANT = "default"
_IMPORTS = (
    "import fastapi, uvicorn, sqlalchemy, httpx; "
    "import twinops.platform, twinops.api, twinops.cli.main, twinops.twins.query"
)


def _child(args: list[str]) -> dict[str, Any]:
    argv = [sys.executable, str(Path(__file__).resolve()), *args]
    out = subprocess.run(argv, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"child {args} failed:\n{out.stderr[-4000:]}")
    sys.stderr.write(out.stderr)
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def child_load(data_dir: Path, n_twins: int) -> None:
    """(child) Load the fleet; print the load report and peak RSS."""
    started = time.perf_counter()
    info = b.prepare_data_dir(data_dir, n_twins)
    info["wall_seconds"] = round(time.perf_counter() - started, 1)
    info["loader_peak_rss_mib"] = b.self_peak_rss_mib()
    print(json.dumps(info))


def child_inprocess(data_dir: Path, n_twins: int, reads: int) -> None:
    """(child) Open the platform, read random twins; print RSS before and after."""
    before_open = b.rss_mib()
    platform = b.open_platform(data_dir)
    opened = b.rss_mib()
    ids = b.twin_ids(n_twins)
    with_ids = b.rss_mib()
    rng = random.Random(5)
    start = time.perf_counter()
    for _ in range(reads):
        platform.twins.get(TENANT, ids[rng.randrange(len(ids))])
    seconds = time.perf_counter() - start
    after = b.rss_mib()
    platform.close()
    print(
        json.dumps(
            {
                "rss_before_open_mib": before_open["rss_mib"],
                "rss_after_open_mib": opened["rss_mib"],
                "rss_with_id_list_mib": with_ids["rss_mib"],
                "reads": reads,
                "reads_per_s": round(reads / seconds, 1),
                "rss_after_reads_mib": after["rss_mib"],
                "peak_rss_mib": after["peak_rss_mib"],
                "note": "the id list used to pick random twins is part of this process's RSS",
            }
        )
    )


def child_idle() -> None:
    """(child) Import what twinops imports, do nothing; print RSS."""
    exec(_IMPORTS)
    print(json.dumps(b.rss_mib()))


def serve_and_read(server: b.Server, ids: list[str], seconds: int, workdir: Path) -> dict[str, Any]:
    """RSS of a server after start-up and after reading random twins."""
    try:
        time.sleep(1.0)
        idle = b.rss_mib(server.process.pid)
        if b.wrk_available():
            load: dict[str, Any] = b.run_wrk(
                server.url,
                "/v1/twins/",
                ids,
                seconds=seconds,
                connections=16,
                threads=1,
                workdir=workdir,
            )
        else:
            import httpx

            rng = random.Random(9)
            deadline = time.monotonic() + seconds
            count = 0
            with httpx.Client(base_url=server.url, headers=b.AUTH_HEADERS) as client:
                while time.monotonic() < deadline:
                    client.get(f"/v1/twins/{ids[rng.randrange(len(ids))]}")
                    count += 1
            load = {"requests": count, "requests_per_s": round(count / seconds, 1)}
        after = b.rss_mib(server.process.pid)
        return {
            "rss_after_start_mib": idle["rss_mib"],
            "rss_after_reads_mib": after["rss_mib"],
            "peak_rss_mib": after["peak_rss_mib"],
            "reads": {k: load[k] for k in ("requests", "requests_per_s") if k in load},
        }
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or one of its child steps) and print its JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", default="100000", help="comma-separated twin counts (default 100000)"
    )
    parser.add_argument("--reads", type=int, default=20_000, help="in-process reads (20000)")
    parser.add_argument("--read-seconds", type=int, default=15, help="wrk seconds (15)")
    parser.add_argument("--wrk-ids", type=int, default=50_000, help="random ids given to wrk")
    parser.add_argument(
        "--work-dir", type=Path, default=None, help="where data folders go (default: temp)"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke test")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        step, *rest = args.child
        if step == "load":
            child_load(Path(rest[0]), int(rest[1]))
        elif step == "inprocess":
            child_inprocess(Path(rest[0]), int(rest[1]), int(rest[2]))
        else:
            child_idle()
        return 0
    if args.quick:
        args.sizes, args.reads, args.read_seconds = "3000", 2000, 2
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]

    with tempfile.TemporaryDirectory(prefix="twinops-bench-memory-", dir=args.work_dir) as tmp:
        workdir = Path(tmp)
        started = time.perf_counter()
        b.log("baseline: idle bare Python process with the same imports ...")
        idle = _child(["--child", "idle"])
        result: dict[str, Any] = {
            "benchmark": "memory",
            "machine": b.machine(),
            "params": {"sizes": sizes, "reads": args.reads, "read_seconds": args.read_seconds},
            "baseline_idle_python_same_imports": idle,
            "sizes": {},
        }
        body_file = workdir / "twin.json"
        body_file.write_text(json.dumps({"$dtId": "pump-01-01-01", "ratedFlow": 120.0}))
        bare = None
        for n in sizes:
            data_dir = workdir / f"data-{n}"
            b.log(f"[{n}] loading through import_graph (child process) ...")
            load = _child(["--child", "load", str(data_dir), str(n)])
            b.log(f"[{n}] loaded in {load['wall_seconds']} s")
            ids = b.twin_ids(n)
            random.Random(4).shuffle(ids)
            ids = ids[: args.wrk_ids]
            body_file.write_text(json.dumps(_body(data_dir, ids[0])))
            server = serve_and_read(
                b.twinops_server(data_dir, b.free_port()), ids, args.read_seconds, workdir
            )
            b.log(f"[{n}] twinops serve RSS {server['rss_after_reads_mib']} MiB after reads")
            if bare is None:
                bare = serve_and_read(
                    b.bare_server(b.free_port(), body_file), ids, args.read_seconds, workdir
                )
            b.log(f"[{n}] in-process platform ...")
            inproc = _child(["--child", "inprocess", str(data_dir), str(n), str(args.reads)])
            db_bytes = sum(p.stat().st_size for p in data_dir.glob("twinops.db*"))
            result["sizes"][str(n)] = {
                "load": load,
                "db_mib": round(db_bytes / 2**20, 1),
                "twinops_serve": server,
                "in_process_platform": inproc,
                "serve_rss_over_idle_baseline_mib": round(
                    server["rss_after_reads_mib"] - idle["rss_mib"], 1
                ),
            }
        result["baseline_bare_fastapi_server"] = bare
        result["total_seconds"] = round(time.perf_counter() - started, 1)
    b.emit(result)
    return 0


def _body(data_dir: Path, twin_id: str) -> dict[str, Any]:
    platform = b.open_platform(data_dir)
    try:
        from twinops.twins.representation import twin_to_json

        return twin_to_json(platform.twins.get(TENANT, twin_id))
    finally:
        platform.close()


if __name__ == "__main__":
    sys.exit(main())
