"""The job system: submit latency over HTTP, and the per-job overhead of a sweep of jobs.

(a) Submit latency: ``twinops serve`` (a subprocess on a free port, the test kinds on) gets
``--submits`` sequential ``POST /v1/jobs`` of a trivial ``test.echo`` spec from one
keep-alive client; p50/p99 (the server runs those jobs meanwhile). Raw figures in the same
run: ``GET /healthz`` of the same server with the same client (the HTTP floor), an
authenticated ``GET /v1/jobs?limit=1`` (floor plus authentication and one read), and a bare
``sqlite3`` insert of a job-shaped row into a table made from our ``jobs`` DDL (one
transaction per row, our PRAGMAs).

(b) Sweep overhead: ``--jobs`` jobs of the trivial kind (10 seeded rows, one table, a summary)
through the job system in process, on SQLite, on the local executor and on Ray
(``--executors``): all submitted (``platform.jobs.submit``: validate, snapshot, store inputs,
queue, audit; timed on its own), then run by the runner with ``--workers`` attempts at once
(claim, dispatch, encode outputs in the worker, store artifacts, record, audit), from the
first sweep job's start to the last one's finish; high-priority warm-up jobs go first, so
worker start-up is not counted. Raw figure in the same run: the same kind's ``run`` plus the
output encoding, called directly ``--jobs`` times in this process. Overhead per job =
(run time - direct time) / jobs; also reported with the submit time added, and the server
process's CPU time per job while they ran (the runner's own cost, less sensitive than wall
time to whatever else the machine runs). Goal (issue #5): < 20 ms per job.

    .venv/bin/python bench/bench_jobs.py > bench/results/jobs.json
    .venv/bin/python bench/bench_jobs.py --quick      # smoke test, < 1 min
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as b

GOAL_OVERHEAD_MS = 20.0
TRIVIAL = {"kind": "test.echo", "rows": 10}


# -- (a) submit latency ---------------------------------------------------------------------


def _bare_insert_ms(folder: Path, samples: int) -> dict[str, Any]:
    """A job-shaped row inserted with sqlite3 into our jobs table's DDL, one commit each."""
    source = folder / "data" / "twinops.db"
    conn = b.bare_sqlite_connect(folder / "bare-jobs.db")
    for statement in b.twinops_ddl(source, ["jobs"]):
        conn.execute(statement)
    sql = (
        "INSERT INTO jobs (tenant, job_id, kind, status, priority, spec_sha256, snapshot_sha256,"
        " created_at, submitted_by, timeout_seconds, max_attempts, attempts, progress,"
        " progress_message) VALUES (?, ?, 'test.echo', 'queued', 0, ?, ?, ?, 'bench', 3600, 3,"
        " 0, 0, '')"
    )
    counter = iter(range(10**9))

    def insert() -> None:
        n = next(counter)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(sql, ("default", f"job-{n}", "a" * 64, "b" * 64, time.time_ns() // 1000))
        conn.execute("COMMIT")

    durations = b.timed_loop(insert, max_count=samples, max_seconds=30, warmup=10)
    conn.close()
    return b.summary_ms(durations)


def submit_latency(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """p50/p99 of POST /v1/jobs against twinops serve, with the HTTP floor and bare SQLite."""
    import httpx

    env = {"TWINOPS_JOBS_TEST_KINDS": "1", "TWINOPS_RETENTION_INTERVAL_SECONDS": "0"}
    server = b.twinops_server(folder / "data", b.free_port(), env=env, output=folder / "serve.log")
    try:
        with httpx.Client(base_url=server.url, headers=b.AUTH_HEADERS, timeout=30) as http:
            seed = iter(range(10**9))

            def submit() -> None:
                body = {**TRIVIAL, "seed": next(seed)}
                response = http.post("/v1/jobs", json=body)
                if response.status_code != 202:
                    raise RuntimeError(f"submit answered {response.status_code}: {response.text}")

            def health() -> None:
                http.get("/healthz").raise_for_status()

            def listing() -> None:
                http.get("/v1/jobs", params={"limit": 1}).raise_for_status()

            b.log(f"submitting {args.submits} jobs over HTTP")
            ours = b.timed_loop(submit, max_count=args.submits, max_seconds=120, warmup=5)
            floor = b.timed_loop(health, max_count=args.submits, max_seconds=60, warmup=5)
            read = b.timed_loop(listing, max_count=args.submits, max_seconds=60, warmup=5)
            ready = http.get("/readyz").json()
    finally:
        server.stop()
    bare = _bare_insert_ms(folder, args.submits)
    ours_ms = b.summary_ms(ours)
    return {
        "twinops_submit": ours_ms,
        "http_floor_healthz": b.summary_ms(floor),
        "authenticated_read_list_jobs": b.summary_ms(read),
        "bare_sqlite_insert": bare,
        "executor": ready.get("jobs", {}),
        "p99_vs_floor": b.ratio(float(ours_ms["p99_ms"]), float(b.summary_ms(floor)["p99_ms"])),
    }


# -- (b) sweep overhead ---------------------------------------------------------------------


def direct_seconds(jobs: int) -> float:
    """The trivial kind's run plus output encoding, called ``jobs`` times in this process."""
    from twinops.jobs.kinds import RunContext
    from twinops.jobs.testing import EchoKind
    from twinops.jobs.worker import encode_outputs

    kind = EchoKind()
    snapshot = {"tenant": "default", "takenAt": 0}
    ctx = RunContext(lambda fraction, message: None)
    for seed in range(3):  # warm-up: imports
        encode_outputs(kind.run({**TRIVIAL, "seed": seed}, snapshot, ctx))
    start = time.perf_counter()
    for seed in range(jobs):
        encode_outputs(kind.run({**TRIVIAL, "seed": seed}, snapshot, ctx))
    return time.perf_counter() - start


def sweep(executor: str, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """``args.jobs`` trivial jobs through the job system on ``executor``.

    The sweep is submitted first (timed alone), behind a few high-priority warm-up jobs; then
    the runner starts. The run phase spans from the first sweep job's start to the last one's
    finish (job rows' own times), so worker start-up is not counted.
    """
    from twinops.config import Settings
    from twinops.jobs.entities import JobStatus
    from twinops.platform import Platform
    from twinops.security.entities import Role

    settings = Settings(
        data_dir=folder / f"sweep-{executor}",
        jobs_test_kinds=True,
        jobs_executor=executor,
        jobs_workers=args.workers,
        jobs_max_concurrent_per_tenant=args.workers,
    )
    platform = Platform.open(settings)
    tenant = settings.default_tenant
    jobs = platform.jobs

    def submit(seed: int, priority: int = 0) -> str:
        body = {**TRIVIAL, "seed": seed, "priority": priority}
        return jobs.submit(tenant, body, actor="bench", role=Role.OPERATOR).job.job_id

    try:
        warm = [submit(10**9 + i, priority=100) for i in range(2 * args.workers)]
        first = time.perf_counter()
        ids = [submit(seed) for seed in range(args.jobs)]
        submitted = time.perf_counter() - first
        b.log(f"{executor}: {args.jobs} jobs submitted in {submitted:.2f} s; running them")
        started = time.perf_counter()
        platform.start_jobs()
        for job_id in warm:
            jobs.wait(tenant, job_id, timeout=300)
        b.log(f"{executor}: warm after {time.perf_counter() - started:.1f} s")
        cpu = time.process_time()  # this process: the runner thread (workers are apart)
        # Polled rarely and cheaply (one count), so the wait takes no CPU from the runner.
        deadline = time.monotonic() + max(600.0, args.jobs)
        while platform.jobs.unfinished(tenant) and time.monotonic() < deadline:
            time.sleep(0.2)
        cpu = time.process_time() - cpu
        done = [jobs.get(tenant, job_id).job for job_id in ids]
    finally:
        platform.close()
    failed = [j.job_id for j in done if j.status != JobStatus.SUCCEEDED]
    if failed:
        raise RuntimeError(f"{executor}: jobs did not succeed: {failed[:5]}")
    span_us = max(j.finished_at or 0 for j in done) - min(j.started_at or 0 for j in done)
    run_s = span_us / 1e6
    return {
        "executor": executor,
        "jobs": args.jobs,
        "workers": args.workers,
        "submit_s": round(submitted, 3),
        "submit_per_job_ms": round(submitted / args.jobs * 1000, 3),
        "run_s": round(run_s, 3),
        "run_per_job_ms": round(run_s / args.jobs * 1000, 3),
        "jobs_per_s": round(args.jobs / run_s, 1),
        # CPU the server process spent per job while they ran (claim, dispatch, record):
        # less sensitive than wall time to other load on the machine.
        "server_cpu_per_job_ms": round(cpu / args.jobs * 1000, 3),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the measurements and print one JSON object."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=1000, help="jobs in the sweep (1000)")
    parser.add_argument("--submits", type=int, default=500, help="timed HTTP submits (500)")
    parser.add_argument("--workers", type=int, default=2, help="attempts at once (2)")
    parser.add_argument(
        "--executors", default="local,ray", help="comma-separated: local, ray (local,ray)"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke test")
    args = parser.parse_args(argv)
    if args.quick:
        args.jobs, args.submits = min(args.jobs, 50), min(args.submits, 50)
    executors = [e.strip() for e in args.executors.split(",") if e.strip()]
    result: dict[str, Any] = {"benchmark": "jobs", "machine": b.machine(), "args": vars(args)}
    with tempfile.TemporaryDirectory(prefix="twinops-bench-jobs-") as tmp:
        folder = Path(tmp)
        result["submit_latency"] = submit_latency(args, folder)
        direct = direct_seconds(args.jobs)
        result["direct"] = {
            "jobs": args.jobs,
            "wall_s": round(direct, 3),
            "per_job_ms": round(direct / args.jobs * 1000, 3),
        }
        sweeps = []
        for executor in executors:
            try:
                run = sweep(executor, args, folder)
            except ImportError as exc:
                b.log(f"{executor}: skipped ({exc})")
                continue
            overhead = (run["run_s"] - direct) / args.jobs * 1000
            run["overhead_per_job_ms"] = round(overhead, 3)
            with_submit = overhead + run["submit_per_job_ms"]
            run["overhead_with_submit_per_job_ms"] = round(with_submit, 3)
            run["goal_ms"] = GOAL_OVERHEAD_MS
            run["meets_goal"] = overhead < GOAL_OVERHEAD_MS
            sweeps.append(run)
        result["sweep"] = sweeps
    b.emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
