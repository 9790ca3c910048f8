"""Ingest-to-queryable latency at a steady rate (default 10,000 points/s for 30 s over HTTP).

A pacer makes a batch every ``--interval`` (0.1 s: 1,000 points at 10k points/s) of the pump
fleet's telemetry (``benchlib.telemetry_streams``: round robin over every stream, stamped
with the wall clock when the batch is made, units and time formats as devices send them);
``--senders`` threads, each with a keep-alive client, send the batches in turn. One point of
every batch is sampled: prober threads poll it (every ``--poll-interval``, or 5 % of the
wait so far when that is longer, to bound the probing load) and record the time from when
its batch was made to the first answer showing it, so a server that cannot keep up shows as
latency (batches waiting for a free sender), not as a slower clock. The first ``--warmup``
seconds are not sampled; senders give up ``--probe-timeout`` seconds after the run (what is
left counts as unsent).

Ours: ``twinops serve`` (a subprocess on a free port, a fresh folder with the pump-fleet
models and a fleet of ``--twins``), batches posted to ``POST /v1/telemetry``, samples probed
with ``GET /v1/twins/{id}/state`` (visible when the field's ``time`` in current state reaches
the sample's). Every write of ours is counted: the history segment each batch appends and the
compactions into blocks that ingest runs once enough points are waiting
(``storage/sql_history.py``).

Raw engine, same run: the same batches, paced the same way, inserted by a writer thread with
the sqlite3 module (``executemany`` + commit per batch, twinops's PRAGMAs) into a
row-per-point table the bench creates in a file of its own (``benchlib.row_history_ddl``:
primary key (tenant, twin_id, name, event_time), the layout twinops used before migration
0009), and probed by reader threads, each with its own connection, polling the field's newest
event time (the primary-key index) until it reaches the sample's.

Goal (issue #4): p99 < 100 ms at 10k points/s.
"""

from __future__ import annotations

import argparse
import itertools
import queue
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as b

TENANT = "default"
GOAL_P99_MS = 100.0
_INSERT = (
    "INSERT INTO telemetry (tenant, twin_id, name, event_time, value_num, value_json,"
    " ingest_time, source) VALUES (?, ?, ?, ?, ?, NULL, ?, 'bench')"
)
_NEWEST = (
    "SELECT event_time FROM telemetry WHERE tenant = ? AND twin_id = ? AND name = ?"
    " ORDER BY event_time DESC LIMIT 1"
)


@dataclass
class Sample:
    """A sampled point: which field, its event time, when its batch was made (monotonic)."""

    twin: str
    name: str
    event_time: int
    made: float


@dataclass
class Run:
    """What one paced run recorded."""

    batches: int = 0
    points: int = 0
    unsent: int = 0
    first_send: float = 0.0
    last_done: float = 0.0
    send_seconds: list[float] = field(default_factory=list)
    queued_seconds: list[float] = field(default_factory=list)
    visible_seconds: list[float] = field(default_factory=list)
    timeouts: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    behind_schedule_max: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def report(self, rate: float) -> dict[str, Any]:
        """The run as JSON-ready values."""
        seconds = self.last_done - self.first_send
        return {
            "target_points_per_s": rate,
            "achieved_points_per_s": round(self.points / seconds, 1) if seconds else None,
            "batches": self.batches,
            "batches_unsent": self.unsent,
            "points": self.points,
            "samples": len(self.visible_seconds) + self.timeouts,
            "visible_latency": b.summary_ms(self.visible_seconds),
            "write_latency": b.summary_ms(self.send_seconds),
            "queued_before_write": b.summary_ms(self.queued_seconds),
            "probe_timeouts": self.timeouts,  # samples not visible within --probe-timeout
            "failures": self.failures,
            "max_behind_schedule_ms": round(self.behind_schedule_max * 1000, 1),
        }


class Pacer:
    """Batches of the fleet's telemetry, one per tick, and the sample of each."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.streams = b.telemetry_streams(args.twins)
        self.size = max(1, round(args.rate * args.interval))
        self.interval = args.interval
        self.seconds = args.seconds
        self.warmup = args.warmup
        self._cycle = itertools.cycle(self.streams)
        self._rng = random.Random(5)

    def batch(self) -> tuple[list[dict[str, Any]], list[tuple[str, str, int, float]], Sample]:
        """The next batch stamped now (whole ms), its rows and a sampled point."""
        t_us = time.time_ns() // 1_000_000 * 1000
        text = b.rfc3339_us(t_us)
        points = []
        rows = []
        for stream in itertools.islice(self._cycle, self.size):
            point, canonical = b.telemetry_point(stream, t_us, text, self._rng)
            points.append(point)
            rows.append((stream.twin_id, stream.name, t_us, canonical))
        twin, name, _, _ = rows[self._rng.randrange(len(rows))]
        return points, rows, Sample(twin, name, t_us, time.monotonic())

    def run(
        self,
        send: Callable[[Any, Sample], None],
        senders: int,
        run: Run,
        probe: Callable[[Sample], None],
        grace: float,
    ) -> None:
        """Make a batch at every tick; senders send them until ``seconds + grace`` are up."""
        work: queue.Queue[Any] = queue.Queue()
        start = time.monotonic()
        deadline = start + self.seconds + grace
        threads = [
            threading.Thread(target=self._sender, args=(work, send, run, deadline), daemon=True)
            for _ in range(senders)
        ]
        for thread in threads:
            thread.start()
        run.first_send = start
        for tick in itertools.count():
            due = start + tick * self.interval
            if due - start >= self.seconds:
                break
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            run.behind_schedule_max = max(run.behind_schedule_max, time.monotonic() - due)
            points, rows, sample = self.batch()
            if due - start >= self.warmup:
                probe(sample)
            work.put((points, rows, sample))
        for _ in threads:
            work.put(None)
        for thread in threads:
            thread.join()

    @staticmethod
    def _sender(
        work: queue.Queue[Any], send: Callable[[Any, Sample], None], run: Run, deadline: float
    ) -> None:
        while (item := work.get()) is not None:
            points, rows, sample = item
            if time.monotonic() > deadline:  # far behind: count what is left, send nothing
                with run.lock:
                    run.unsent += 1
                continue
            with run.lock:
                run.queued_seconds.append(time.monotonic() - sample.made)
            send((points, rows), sample)


class Probers:
    """Threads that poll each sample until it is visible."""

    def __init__(
        self,
        count: int,
        newest: Callable[[Any, Sample], int | None],
        make_handle: Callable[[], Any],
        run: Run,
        poll_interval: float,
        timeout: float,
    ) -> None:
        self.queue: queue.Queue[Sample | None] = queue.Queue()
        self._newest = newest
        self._run = run
        self._poll = poll_interval
        self._timeout = timeout
        self._threads = [
            threading.Thread(target=self._probe, args=(make_handle,), daemon=True)
            for _ in range(count)
        ]
        for thread in self._threads:
            thread.start()

    def _probe(self, make_handle: Callable[[], Any]) -> None:
        handle = make_handle()
        while (sample := self.queue.get()) is not None:
            deadline = sample.made + self._timeout
            while True:
                newest = self._newest(handle, sample)
                now = time.monotonic()
                if newest is not None and newest >= sample.event_time:
                    with self._run.lock:
                        self._run.visible_seconds.append(now - sample.made)
                    break
                if now > deadline:
                    with self._run.lock:
                        self._run.timeouts += 1
                    break
                # Resolution within 5 % of the latency so far, and a bounded load on the server.
                time.sleep(max(self._poll, 0.05 * (now - sample.made)))
        if hasattr(handle, "close"):
            handle.close()

    def stop(self) -> None:
        """Finish the queued samples, then stop."""
        for _ in self._threads:
            self.queue.put(None)
        for thread in self._threads:
            thread.join()


def _record(run: Run, n: int, started: float, ok: bool, failure: str = "") -> None:
    done = time.monotonic()
    with run.lock:
        run.batches += 1
        run.send_seconds.append(done - started)
        run.last_done = max(run.last_done, done)
        if ok:
            run.points += n
        else:
            run.failures[failure] = run.failures.get(failure, 0) + 1


def measure_twinops(data_dir: Path, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Paced POSTs to twinops serve, samples probed through GET .../state."""
    import httpx
    import orjson

    pacer = Pacer(args)
    run = Run()
    server = b.twinops_server(data_dir, b.free_port(), output=workdir / "server-latency.log")
    local = threading.local()
    headers = {**b.AUTH_HEADERS, "Content-Type": "application/json"}

    def client() -> httpx.Client:
        return httpx.Client(base_url=server.url, headers=headers, timeout=30)

    def newest(http: httpx.Client, sample: Sample) -> int | None:
        response = http.get(f"/v1/twins/{sample.twin}/state")
        if response.status_code != 200:
            return None
        value = response.json()["fields"].get(sample.name)
        return None if value is None else _micros(value["time"])

    probers = Probers(args.probers, newest, client, run, args.poll_interval, args.probe_timeout)

    def send(batch: Any, sample: Sample) -> None:
        if not hasattr(local, "client"):
            local.client = client()
        points, _rows = batch
        body = orjson.dumps(points)
        started = time.monotonic()
        response = local.client.post("/v1/telemetry", content=body)
        ok = 200 <= response.status_code < 300
        _record(run, len(points), started, ok, str(response.status_code))

    try:
        httpx.post(
            server.url + "/v1/telemetry", content=orjson.dumps(pacer.batch()[0]), headers=headers
        ).raise_for_status()
        b.log(f"twinops: {pacer.size} points every {args.interval} s for {args.seconds} s ...")
        pacer.run(send, args.senders, run, probers.queue.put, args.probe_timeout)
        probers.stop()
        memory = b.tree_rss_mib(server.process.pid)
    finally:
        server.stop()
    return dict(run.report(args.rate), server_memory=memory)


def measure_bare(db_path: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The same paced batches into a bare row-per-point table, probed by reader connections."""
    writer = b.bare_sqlite_connect(db_path)
    writer.execute(b.row_history_ddl("telemetry"))
    pacer = Pacer(args)
    run = Run()
    write_lock = threading.Lock()

    def newest(conn: Any, sample: Sample) -> int | None:
        row = conn.execute(_NEWEST, (TENANT, sample.twin, sample.name)).fetchone()
        return None if row is None else int(row[0])

    probers = Probers(
        args.probers,
        newest,
        lambda: b.bare_sqlite_connect(db_path),
        run,
        args.poll_interval,
        args.probe_timeout,
    )

    def send(batch: Any, sample: Sample) -> None:
        _points, rows = batch
        with write_lock:  # one writer connection, as SQLite allows one writer
            started = time.monotonic()
            now = time.time_ns() // 1000
            writer.execute("BEGIN IMMEDIATE")
            writer.executemany(_INSERT, [(TENANT, tw, n, t, v, now) for tw, n, t, v in rows])
            writer.execute("COMMIT")
        _record(run, len(rows), started, True)

    b.log(f"bare SQLite: {pacer.size} points every {args.interval} s for {args.seconds} s ...")
    pacer.run(send, args.senders, run, probers.queue.put, args.probe_timeout)
    probers.stop()
    writer.close()
    return run.report(args.rate)


def _micros(text: str) -> int:
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(parsed.timestamp()) * 1_000_000 + parsed.microsecond


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--twins", type=int, default=1000, help="fleet size (1000)")
    parser.add_argument("--rate", type=float, default=10_000, help="points/s (10000)")
    parser.add_argument("--interval", type=float, default=0.1, help="s between batches (0.1)")
    parser.add_argument("--seconds", type=float, default=30.0, help="run length (30)")
    parser.add_argument("--warmup", type=float, default=2.0, help="unsampled start (2)")
    parser.add_argument("--senders", type=int, default=2, help="sender threads (2)")
    parser.add_argument("--probers", type=int, default=2, help="prober threads (2)")
    parser.add_argument(
        "--poll-interval", type=float, default=0.005, help="s between polls of a sample (0.005)"
    )
    parser.add_argument(
        "--probe-timeout",
        type=float,
        default=10.0,
        help="s to give up on a sample; also how long senders go on after the run (10)",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke test")
    args = parser.parse_args(argv)
    if args.quick:
        args.twins, args.seconds, args.warmup, args.probe_timeout = 300, 5.0, 1.0, 5.0

    with tempfile.TemporaryDirectory(prefix="twinops-bench-latency-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        fleet_dir = root / "fleet"
        prepared = b.prepare_data_dir(fleet_dir, args.twins)
        bare = measure_bare(root / "raw.db", args)
        b.log(
            f"  p50 {bare['visible_latency'].get('p50_ms')} ms, p99 "
            f"{bare['visible_latency'].get('p99_ms')} ms"
        )
        ours = measure_twinops(b.copy_data_dir(fleet_dir, root / "data"), args, root)
        b.log(
            f"  p50 {ours['visible_latency'].get('p50_ms')} ms, p99 "
            f"{ours['visible_latency'].get('p99_ms')} ms"
        )
        p99 = ours["visible_latency"].get("p99_ms")
        result: dict[str, Any] = {
            "benchmark": "ingest_latency",
            "machine": b.machine(),
            "params": {
                "twins": args.twins,
                "streams": len(b.telemetry_streams(args.twins)),
                "points_per_s": args.rate,
                "interval_s": args.interval,
                "batch_points": max(1, round(args.rate * args.interval)),
                "seconds": args.seconds,
                "warmup_s": args.warmup,
                "senders": args.senders,
                "probers": args.probers,
                "poll_interval_s": args.poll_interval,
            },
            "fleet": prepared,
            "twinops_http": ours,
            "raw_sqlite": bare,
            "slowdown_p50": b.ratio(
                ours["visible_latency"].get("p50_ms", 0), bare["visible_latency"].get("p50_ms", 0)
            ),
            "slowdown_p99": b.ratio(p99 or 0, bare["visible_latency"].get("p99_ms", 0)),
            "goal": {
                "p99_ms": GOAL_P99_MS,
                "points_per_s": args.rate,
                "measured_p99_ms": p99,
                "measured_points_per_s": ours["achieved_points_per_s"],
                "met": p99 is not None
                and p99 < GOAL_P99_MS
                and ours["probe_timeouts"] == 0
                and ours["batches_unsent"] == 0
                and (ours["achieved_points_per_s"] or 0) >= 0.95 * args.rate,
            },
            "total_seconds": round(time.perf_counter() - started, 1),
        }
    b.emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
