"""Ingest throughput (points/s): in process, over HTTP and over MQTT, beside the bare engines.

The telemetry: a pump fleet (default 1,000 twins, the ``benchlib`` layout of
``examples/pump_fleet``) whose pumps report their 10 fields, stations their 2 pressures and
sensors their reading, once per second (``benchlib.telemetry_streams``: about 3.8 streams per
twin). Devices have habits: 1 in 10 sends imperial units (psi, gal/min, °F), 1 in 10 spells
out the canonical unit (kPa, m³/h, °C, rpm...), 1 in 8 stamps epoch seconds instead of
RFC 3339 text, and ``--id-fraction`` of them number their points with message ids (none by
default). Points go in batches of ``--batch`` (5,000) in event-time order across the fleet,
one step after the other, the last step stamped about now (live telemetry, not late).

Ours:
  * ``in_process``: ``platform.ingest.ingest(tenant, points, source="bench")`` batch after
    batch on a fresh SQLite data folder holding the models and the fleet; only the calls
    are timed (after one warm-up batch, and after freezing the start-up heap out of the
    garbage collector's sight as ``twinops serve`` does: ``platform.freeze_startup_heap``);
    ``windows`` gives the rate of every 100,000 points in turn, so a long run (``--points``)
    shows whether ingest holds up as history, events and blocks pile up;
  * ``lagging`` (only when asked for): the same in process, but every fourth batch arrives
    ``--lag-batches`` (40) batches late, as from a gateway that fell behind: each of its
    points is older than what its field shows, so it is looked up in history (a duplicate?)
    where the segments no longer hold that time and the blocks do;
  * ``http``: ``twinops serve`` (a subprocess on a free port) and ``--clients`` client
    processes (httpx, keep-alive) posting JSON arrays to ``POST /v1/telemetry``, bodies
    encoded beforehand; points/s = 2xx-acknowledged points from the first send to the last
    acknowledgement. By default (``--http-split twins``) each client is a gateway: it owns
    every ``clients``-th twin and sends their points in event order, in batches of
    ``--batch``; ``--http-split batches`` deals the fleet's batches round-robin instead, so
    concurrent clients send overlapping time ranges and a batch often lands after a later
    one (its points are late and looked up in history);
  * ``mqtt``: ``twinops serve`` with ``TWINOPS_MQTT_URL`` set (its own client id, a session
    expiring a minute after it stops; ``--mqtt-ingest-processes`` (2) ingest processes); a
    paho publisher (MQTT v5, QoS 1, user property ``authorization: Bearer <key>``) sends
    each twin's points of every ``--mqtt-message-seconds`` (10: 100 points for a pump) as one
    message, a JSON array of ``{"name","value","time","unit"?,"id"?}``, to
    ``twinops/<tenant>/<twin>/telemetry``;
    points/s from the first publish until the data-quality endpoint (``GET /v1/quality``)
    counts every point. By default (``--mqtt-url private``) the bench starts a Mosquitto of
    its own (``mosquitto`` on PATH or in /usr/sbin) on a free port with an unlimited queue per
    subscriber (``max_queued_messages 0``), and the publisher sends everything as fast as it
    can: both subscribers drain the same stream through the same broker. On a shared broker
    (``--mqtt-url mqtt://...``) the publisher keeps at most ``--mqtt-window`` points (default:
    500 messages' worth) ahead of what is counted, because Mosquitto drops QoS 1 messages
    beyond a subscriber's ``max_queued_messages`` (1000 by default); what twinops has counted
    is known only at each poll of ``GET /v1/quality`` (every 0.25 s), which holds its run back
    more than the bare subscriber's, whose count is shared memory.

Raw engines, same run:
  * the sqlite3 module ``executemany`` of the same rows (canonical values, µs event times)
    into a row-per-point ``telemetry`` table with primary key (tenant, twin_id, name,
    event_time) in a bare database file of its own (``benchlib.row_history_ddl``: the layout
    twinops used before migration 0009; our history is now one segment row per applied batch,
    compacted into per-field blocks, ``storage/sql_history.py``), so the baseline still is
    "the same rows, indexed"; with twinops's PRAGMAs (WAL, ``synchronous=NORMAL``), one
    ``BEGIN IMMEDIATE ... COMMIT`` per batch: the baseline of in-process and HTTP;
  * for reference, ``raw_sqlite_all_writes``: every write ``apply`` makes per batch, without
    its reads (history rows into that row table, message ids, current-state upsert, one
    event per twin, data-quality upsert), the other tables made from our DDL (read from our
    database);
  * MQTT: a bare paho subscriber in its own process (QoS 1, MQTT v5, ``orjson`` decoding of
    each payload) receiving the same messages through the same broker, published the same
    way with the same window, on a parallel topic tree ``bench-bare/<tenant>/<twin>/
    telemetry`` (filter ``bench-bare/+/+/telemetry``) that the server never sees.
    Both sides report ``cpu_us_per_point``: CPU time (user + system) per point, of the
    subscriber process, and of the server with its ingest processes (its ``GET /v1/quality``
    answers to the bench included). On 2 cores shared with the broker and the publisher, the
    ratio of the two bounds the throughput ratio more than anything the consumer does.

Goals (issue #4): HTTP >= 100,000 points/s and >= 1.0x bare SQLite; MQTT >= 0.8x the bare
subscriber. ``--profile`` also profiles the in-process path (cProfile, top functions by
cumulative time on stderr, not in the JSON).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import multiprocessing
import os
import pstats
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as b

from twinops.platform import freeze_startup_heap

TENANT = "default"
SOURCE = "bench"
GOAL_HTTP_POINTS_PER_S = 100_000
GOAL_HTTP_FRACTION_OF_BARE = 1.0
GOAL_MQTT_FRACTION_OF_BARE = 0.8
BARE_ROOT = "bench-bare"
PRIVATE_BROKER = "private"

# Columns named: the live DDL may carry more columns (with defaults) than these statements set.
_VALUE_COLUMNS = "tenant, twin_id, name, event_time, value_num, value_json, ingest_time, source"
_INSERT = f"INSERT INTO telemetry ({_VALUE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
_INSERT_ID = "INSERT INTO message_ids (tenant, message_id, seen_at) VALUES (?, ?, ?)"
_UPSERT_CURRENT = (
    f"INSERT INTO current_state ({_VALUE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (tenant, twin_id, name) DO UPDATE SET event_time = excluded.event_time, "
    "value_num = excluded.value_num, value_json = excluded.value_json, "
    "ingest_time = excluded.ingest_time, source = excluded.source "
    "WHERE current_state.event_time < excluded.event_time"
)
_INSERT_EVENT = "INSERT INTO events (tenant, type, subject, occurred_at, data) VALUES (?,?,?,?,?)"
_UPSERT_QUALITY = (
    "INSERT INTO data_quality (tenant, twin_id, source, accepted, duplicates, late, quarantined,"
    " last_event_time, last_ingest_time) VALUES (?, ?, ?, ?, 0, 0, 0, ?, ?) "
    "ON CONFLICT (tenant, twin_id, source) DO UPDATE SET accepted = accepted + excluded.accepted,"
    " last_event_time = max(coalesce(last_event_time, excluded.last_event_time),"
    " excluded.last_event_time), last_ingest_time = excluded.last_ingest_time"
)
# Tables besides history whose DDL the all-writes baseline reads from our database.
_OTHER_TABLES = ("message_ids", "current_state", "events", "data_quality")


# -- the telemetry ----------------------------------------------------------------------------


class Workload:
    """The same deterministic batches, as often as a measurement needs them."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.streams = b.telemetry_streams(args.twins, id_fraction=args.id_fraction)
        self.points = args.points
        self.batch = args.batch
        # Live telemetry: the last points are stamped about now (whole seconds).
        steps = -(-self.points // len(self.streams))
        self.start_us = (time.time_ns() // 1_000_000_000 - steps) * 1_000_000

    def batches(self) -> Iterator[tuple[list[dict[str, Any]], list[b.Row]]]:
        """(points, rows) per batch; generating them is never timed."""
        return b.telemetry_batches(self.streams, self.points, self.batch, start_us=self.start_us)

    def warmup_points(self) -> list[dict[str, Any]]:
        """One point per (field, unit) habit, a minute before the measured ones."""
        import random

        seen: set[tuple[str, str | None]] = set()
        points = []
        t_us = self.start_us - 60_000_000
        rng = random.Random(1)
        for stream in self.streams:
            if (stream.name, stream.unit) not in seen:
                seen.add((stream.name, stream.unit))
                points.append(b.telemetry_point(stream, t_us, b.rfc3339_us(t_us), rng)[0])
        return points


def _rate(points: int, seconds: float, durations: list[float] | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {
        "points": points,
        "seconds": round(seconds, 3),
        "points_per_s": round(points / seconds, 1) if seconds else None,
    }
    if durations is not None:
        result["batches"] = len(durations)
        result["batch"] = b.summary_ms(durations)
    return result


def _windows(durations: list[float], batch: int, window: int = 100_000) -> dict[str, Any]:
    """Points/s per ``window`` points in order: whether ingest holds up as history grows."""
    per = max(1, window // batch)
    rates = [
        round(len(chunk) * batch / sum(chunk))
        for chunk in (durations[i : i + per] for i in range(0, len(durations), per))
        if len(chunk) == per
    ]
    return {"points": per * batch, "points_per_s": rates, "slowest": min(rates, default=None)}


# -- raw SQLite -------------------------------------------------------------------------------


def bare_sqlite(path: Path, ddl: list[str], work: Workload, *, all_writes: bool) -> dict[str, Any]:
    """executemany of the batches' rows, one transaction per batch."""
    conn = b.bare_sqlite_connect(path)
    for statement in ddl:
        conn.execute(statement)
    durations: list[float] = []
    count = 0
    clock = time.perf_counter
    for _points, rows in work.batches():
        start = clock()
        now = time.time_ns() // 1000
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            _INSERT, [(TENANT, tw, name, t, v, None, now, SOURCE) for tw, name, t, v, _ in rows]
        )
        if all_writes:
            _other_writes(conn, rows, now)
        conn.execute("COMMIT")
        durations.append(clock() - start)
        count += len(rows)
    conn.close()
    return _rate(count, sum(durations), durations)


def _other_writes(conn: Any, rows: list[b.Row], now: int) -> None:
    """What apply() writes besides history: ids, current state, events, data quality."""
    import json

    ids = [(TENANT, i, now) for *_, i in rows if i is not None]
    if ids:
        conn.executemany(_INSERT_ID, ids)
    newest: dict[tuple[str, str], b.Row] = {}
    for row in rows:
        known = newest.get((row[0], row[1]))
        if known is None or row[2] > known[2]:
            newest[row[0], row[1]] = row
    conn.executemany(
        _UPSERT_CURRENT,
        [(TENANT, tw, name, t, v, None, now, SOURCE) for tw, name, t, v, _ in newest.values()],
    )
    by_twin: dict[str, dict[str, Any]] = defaultdict(dict)
    for tw, name, t, v, _ in newest.values():
        by_twin[tw][name] = {"value": v, "time": t}
    conn.executemany(
        _INSERT_EVENT,
        [
            (TENANT, "TelemetryApplied", tw, now, json.dumps({"fields": fields}))
            for tw, fields in sorted(by_twin.items())
        ],
    )
    counts: dict[str, list[int]] = defaultdict(lambda: [0, -1])
    for tw, _name, t, _v, _ in rows:
        entry = counts[tw]
        entry[0] += 1
        entry[1] = max(entry[1], t)
    conn.executemany(
        _UPSERT_QUALITY,
        [(TENANT, tw, SOURCE, n, last, now) for tw, (n, last) in sorted(counts.items())],
    )


# -- in process -------------------------------------------------------------------------------


def _ordered(
    batches: Iterator[tuple[list[dict[str, Any]], list[b.Row]]], lag: int
) -> Iterator[tuple[list[dict[str, Any]], list[b.Row]]]:
    """The batches in order, or with every fourth one ``lag`` batches late (a lagging source)."""
    if not lag:
        yield from batches
        return
    held = list(batches)
    for i in sorted(range(len(held)), key=lambda i: (i + lag if i % 4 == 0 else i, i)):
        yield held[i]


def in_process(data_dir: Path, work: Workload, lag: int = 0) -> dict[str, Any]:
    """IngestService.ingest, batch after batch (``lag``: see ``_ordered``); only calls timed."""
    platform = b.open_platform(data_dir)
    try:
        warm = platform.ingest.ingest(TENANT, work.warmup_points(), source="warmup")
        if warm.errors:
            raise RuntimeError(f"warm-up points were refused: {list(warm.errors)[:3]}")
        freeze_startup_heap()  # as twinops serve does once the platform is open
        durations: list[float] = []
        counts: Counter[str] = Counter()
        errors: list[dict[str, Any]] = []
        clock = time.perf_counter
        last = clock()
        for points, _rows in _ordered(work.batches(), lag):
            start = clock()
            report = platform.ingest.ingest(TENANT, points, source=SOURCE)
            durations.append(clock() - start)
            for key in ("accepted", "duplicates", "late", "quarantined"):
                counts[key] += getattr(report.result, key)
            if report.errors and len(errors) < 5:
                errors.extend(list(report.errors)[: 5 - len(errors)])
            if clock() - last > 15:
                last = clock()
                done = counts["accepted"]
                b.log(f"  {done} points ({done / sum(durations):.0f}/s)")
    finally:
        platform.close()
    result = _rate(counts["accepted"], sum(durations), durations)
    result["windows"] = _windows(durations, work.batch)
    result["counts"] = dict(counts)
    if errors:
        result["first_errors"] = errors
    return result


def profile_in_process(data_dir: Path, work: Workload, batches: int, top: int) -> None:
    """cProfile of ``batches`` ingest calls; the top functions by cumulative time to stderr."""
    platform = b.open_platform(data_dir)
    try:
        platform.ingest.ingest(TENANT, work.warmup_points(), source="warmup")
        freeze_startup_heap()
        chosen = []
        for i, (points, _rows) in enumerate(work.batches()):
            if i >= batches:
                break
            chosen.append(points)
        profiler = cProfile.Profile()
        profiler.enable()
        for points in chosen:
            platform.ingest.ingest(TENANT, points, source=SOURCE)
        profiler.disable()
    finally:
        platform.close()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    b.log(f"profile of {len(chosen)} in-process ingest batches:\n{out.getvalue()}")


# -- HTTP ---------------------------------------------------------------------------------------


def _http_client(
    url: str, bodies: list[tuple[bytes, int]], barrier: Any, results: Any, index: int
) -> None:
    """(child process) Post this client's share of the bodies, one after the other."""
    import httpx

    headers = {**b.AUTH_HEADERS, "Content-Type": "application/json"}
    first = last = 0.0
    acked = accepted = 0
    statuses: Counter[int] = Counter()
    latencies: list[float] = []
    problem = ""
    with httpx.Client(base_url=url, headers=headers, timeout=600) as client:
        client.get("/healthz")
        barrier.wait()
        first = time.monotonic()
        for body, n in bodies:
            start = time.monotonic()
            response = client.post("/v1/telemetry", content=body)
            done = time.monotonic()
            latencies.append(done - start)
            statuses[response.status_code] += 1
            if 200 <= response.status_code < 300:
                acked += n
                accepted += int(response.json().get("accepted", 0))
                last = done
            elif not problem:
                problem = response.text[:500]
    results.put(
        {
            "index": index,
            "first": first,
            "last": last,
            "acked": acked,
            "accepted": accepted,
            "statuses": dict(statuses),
            "latencies": latencies,
            "problem": problem,
        }
    )


def client_bodies(work: Workload, clients: int, split: str) -> list[list[tuple[bytes, int]]]:
    """Each client's request bodies (JSON arrays of points, and how many), in sending order.

    ``twins``: as gateways, each client sends the devices it owns (twins dealt round-robin),
    in event order, in batches of the same size; ``batches``: the fleet's batches dealt
    round-robin, so concurrent clients send overlapping time ranges and one client's batch
    often lands after a later one (late points, looked up in history).
    """
    import orjson

    if split == "batches":
        bodies = [(orjson.dumps(points), len(points)) for points, _rows in work.batches()]
        return [bodies[i::clients] for i in range(clients)]
    twins = dict.fromkeys(s.twin_id for s in work.streams)
    owner = {twin: i % clients for i, twin in enumerate(twins)}
    pending: list[list[dict[str, Any]]] = [[] for _ in range(clients)]
    out: list[list[tuple[bytes, int]]] = [[] for _ in range(clients)]
    for points, _rows in work.batches():
        for point in points:
            held = pending[owner[point["twin"]]]
            held.append(point)
            if len(held) == work.batch:
                out[owner[point["twin"]]].append((orjson.dumps(held), len(held)))
                held.clear()
    for i, held in enumerate(pending):
        if held:
            out[i].append((orjson.dumps(held), len(held)))
    return out


def over_http(
    data_dir: Path,
    work: Workload,
    clients: int,
    workdir: Path,
    workers: int = 1,
    split: str = "twins",
) -> dict[str, Any]:
    """Client processes posting their bodies to POST /v1/telemetry on twinops serve."""
    import httpx

    shares = client_bodies(work, clients, split)
    bodies = [body for share in shares for body in share]
    b.log(f"  {len(bodies)} bodies, {sum(len(x) for x, _ in bodies) / 2**20:.1f} MiB")
    server = b.twinops_server(
        data_dir, b.free_port(), workers=workers, output=workdir / "server-http.log"
    )
    try:
        warm = httpx.post(
            server.url + "/v1/telemetry",
            json=work.warmup_points(),
            headers=b.AUTH_HEADERS,
            timeout=60,
        )
        warm.raise_for_status()
        ctx = multiprocessing.get_context("fork")
        barrier = ctx.Barrier(clients + 1)
        results = ctx.Queue()
        procs = [
            ctx.Process(
                target=_http_client,
                args=(server.url, shares[i], barrier, results, i),
                daemon=True,
            )
            for i in range(clients)
        ]
        for proc in procs:
            proc.start()
        barrier.wait(timeout=120)
        b.log(f"  {clients} clients posting ...")
        outs = [results.get(timeout=3600) for _ in procs]
        for proc in procs:
            proc.join(timeout=30)
        memory = b.tree_rss_mib(server.process.pid)
    finally:
        server.stop()
    acked = sum(o["acked"] for o in outs)
    first = min(o["first"] for o in outs)
    last = max(o["last"] for o in outs)
    statuses: Counter[str] = Counter()
    for o in outs:
        statuses.update({str(k): v for k, v in o["statuses"].items()})
    result = _rate(acked, last - first if acked else 0.0)
    result.update(
        {
            "clients": clients,
            "split": split,
            "requests": sum(statuses.values()),
            "statuses": dict(statuses),
            "accepted_by_server": sum(o["accepted"] for o in outs),
            "request_latency": b.summary_ms([x for o in outs for x in o["latencies"]]),
            "server_memory": memory,
        }
    )
    problems = [o["problem"] for o in outs if o["problem"]]
    if problems:
        result["first_problem"] = problems[0]
    return result


# -- MQTT ---------------------------------------------------------------------------------------


def mqtt_messages(work: Workload, seconds: int) -> list[tuple[str, bytes, int]]:
    """(twin, payload, points): each twin's points of every ``seconds`` s, in event order.

    As a gateway flushing each device's buffer periodically: a pump's message holds its 10
    fields over ``seconds`` steps, a sensor's its readings.
    """
    import orjson

    span = seconds * 1_000_000
    buffers: dict[str, tuple[int, list[dict[str, Any]]]] = {}
    messages: list[tuple[str, bytes, int]] = []
    for points, rows in work.batches():
        for point, row in zip(points, rows, strict=True):
            twin = point.pop("twin")
            first, buffer = buffers.get(twin, (row[2], []))
            if row[2] - first >= span:
                messages.append((twin, orjson.dumps(buffer), len(buffer)))
                first, buffer = row[2], []
            buffer.append(point)
            buffers[twin] = (first, buffer)
    messages.extend((t, orjson.dumps(buf), len(buf)) for t, (_, buf) in buffers.items() if buf)
    return messages


def _mqtt_client(name: str) -> Any:
    import paho.mqtt.client as mqtt

    return mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=f"twinops-bench-{name}-{uuid.uuid4().hex[:8]}",
        protocol=mqtt.MQTTv5,
    )


def _publish_properties() -> Any:
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    properties = Properties(PacketTypes.PUBLISH)
    properties.UserProperty = [("authorization", f"Bearer {b.BENCH_KEY}")]
    return properties


def publish(
    host: str,
    port: int,
    root: str,
    messages: list[tuple[str, bytes, int]],
    visible: Callable[[], int],
    window: int,
) -> dict[str, float]:
    """Publish every message (QoS 1), at most ``window`` points ahead of ``visible()``."""
    client = _mqtt_client("pub")
    client.max_inflight_messages_set(100)
    client.connect(host, port)
    client.loop_start()
    properties = _publish_properties()
    infos = []
    sent = 0
    first = time.monotonic()
    try:
        for twin, payload, n in messages:
            while sent - visible() > window:
                time.sleep(0.002)
            infos.append(
                client.publish(f"{root}/{TENANT}/{twin}/telemetry", payload, 1, False, properties)
            )
            sent += n
        for info in infos:
            info.wait_for_publish(timeout=600)
        return {"first": first, "all_pubacked": time.monotonic()}
    finally:
        client.loop_stop()
        client.disconnect()


def _bare_subscriber(
    host: str, port: int, topic: str, expected: int, ready: Any, count: Any, last: Any, cpu: Any
) -> None:
    """(child process) Subscribe QoS 1, decode every payload, count the points."""
    import orjson

    done = threading.Event()
    received = 0

    def on_connect(client: Any, _userdata: Any, _flags: Any, _rc: Any, _props: Any) -> None:
        client.subscribe(topic, qos=1)

    def on_subscribe(*_args: Any) -> None:
        ready.set()

    def on_message(_client: Any, _userdata: Any, message: Any) -> None:
        nonlocal received
        received += len(orjson.loads(message.payload))
        count.value = received
        last.value = time.monotonic()
        if received >= expected:
            done.set()

    client = _mqtt_client("bare-sub")
    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.connect(host, port)
    client.loop_start()
    started = sum(os.times()[:2])
    done.wait(timeout=3600)
    cpu.value = sum(os.times()[:2]) - started  # from subscribed to the last point
    client.loop_stop()
    client.disconnect()


def bare_mqtt(
    host: str, port: int, messages: list[tuple[str, bytes, int]], window: int
) -> dict[str, Any]:
    """The same messages to a bare paho subscriber process on a parallel topic tree."""
    total = sum(n for *_, n in messages)
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Event()
    count = ctx.Value("q", 0, lock=False)
    last = ctx.Value("d", 0.0, lock=False)
    cpu = ctx.Value("d", 0.0, lock=False)
    proc = ctx.Process(
        target=_bare_subscriber,
        args=(host, port, f"{BARE_ROOT}/+/+/telemetry", total, ready, count, last, cpu),
        daemon=True,
    )
    proc.start()
    try:
        if not ready.wait(timeout=30):
            raise RuntimeError("the bare MQTT subscriber did not subscribe within 30 s")
        times = publish(host, port, BARE_ROOT, messages, lambda: int(count.value), window)
        deadline = time.monotonic() + 600
        while count.value < total and time.monotonic() < deadline and proc.is_alive():
            time.sleep(0.01)
        proc.join(timeout=30)
    finally:
        if proc.is_alive():
            proc.terminate()
    received = int(count.value)
    if received < total:
        raise RuntimeError(f"the bare subscriber received {received} of {total} points")
    result = _rate(received, last.value - times["first"])
    result["messages"] = len(messages)
    result["publish_seconds"] = round(times["all_pubacked"] - times["first"], 3)
    result["cpu_us_per_point"] = round(cpu.value / received * 1e6, 2)
    return result


def private_broker(workdir: Path) -> b.Server:
    """Mosquitto on a free port, queueing every QoS 1 message for its subscribers."""
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(exe).exists():
        raise RuntimeError("MQTT mode: no mosquitto binary (give --mqtt-url mqtt://host:port)")
    port = b.free_port()
    config = workdir / "mosquitto.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        "max_queued_messages 0\nmax_queued_bytes 0\n"
    )
    log = (workdir / "mosquitto.log").open("wb")
    process = subprocess.Popen([exe, "-c", str(config)], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and process.poll() is None:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return b.Server(process, port, "mosquitto")
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"MQTT mode: the private mosquitto did not listen on {port} within 10 s")


class QualityPoller(threading.Thread):
    """Polls GET /v1/quality and keeps the tenant's summed counts up to date."""

    def __init__(self, url: str, interval: float = 0.25) -> None:
        super().__init__(name="quality-poller", daemon=True)
        import httpx

        self._client = httpx.Client(base_url=url, headers=b.AUTH_HEADERS, timeout=60)
        self.interval = interval
        self.accepted = 0
        self.other = 0  # duplicates + quarantined: points handled but not new history
        self.changed_at = time.monotonic()
        self.fast_above = -1
        self._halt = threading.Event()

    def poll(self) -> tuple[int, int]:
        """Summed accepted, and duplicates + quarantined, of every twin and source."""
        rows = self._client.get("/v1/quality").raise_for_status().json()["data"]
        accepted = sum(r["accepted"] for r in rows)
        other = sum(r["duplicates"] + r["quarantined"] for r in rows)
        if (accepted, other) != (self.accepted, self.other):
            self.changed_at = time.monotonic()
        self.accepted, self.other = accepted, other
        return accepted, other

    def run(self) -> None:
        """Poll until stopped; faster once past ``fast_above`` points."""
        while not self._halt.is_set():
            self.poll()
            fast = 0 <= self.fast_above <= self.accepted + self.other
            self._halt.wait(0.02 if fast else self.interval)

    def stop(self) -> None:
        """Stop polling."""
        self._halt.set()
        if self.ident is not None:  # started
            self.join(timeout=10)
        self._client.close()


def _probe(host: str, port: int, poller: QualityPoller, work: Workload, seconds: float) -> int:
    """Publish one point until the server counts it; answers how long that took (ms)."""
    import orjson

    client = _mqtt_client("probe")
    client.connect(host, port)
    client.loop_start()
    properties = _publish_properties()
    stream = work.streams[-1]
    started = time.monotonic()
    deadline = started + seconds
    before = sum(poller.poll())
    attempt = 0
    try:
        while time.monotonic() < deadline:
            attempt += 1
            t_us = work.start_us - 120_000_000 + attempt * 1_000
            point = {"name": stream.name, "value": 1.0, "time": b.rfc3339_us(t_us)}
            client.publish(
                f"twinops/{TENANT}/{stream.twin_id}/telemetry",
                orjson.dumps([point]),
                1,
                False,
                properties,
            ).wait_for_publish(timeout=10)
            wait_until = time.monotonic() + 2.0
            while time.monotonic() < min(wait_until, deadline):
                if sum(poller.poll()) > before:
                    return round((time.monotonic() - started) * 1000)
                time.sleep(0.1)
    finally:
        client.loop_stop()
        client.disconnect()
    raise RuntimeError(
        f"MQTT mode: the server counted nothing published to twinops/{TENANT}/<twin>/telemetry"
        f" within {seconds:.0f} s (GET /v1/quality did not move): the MQTT source is missing"
        " or not enabled by TWINOPS_MQTT_URL, or it refused the points"
    )


def over_mqtt(
    data_dir: Path, work: Workload, args: argparse.Namespace, workdir: Path
) -> dict[str, Any]:
    """The bare subscriber, then twinops serve consuming the same messages from Mosquitto."""
    from urllib.parse import urlparse

    messages = mqtt_messages(work, args.mqtt_message_seconds)
    total = sum(n for *_, n in messages)
    broker = None
    if args.mqtt_url == PRIVATE_BROKER:
        broker = private_broker(workdir)
        host, port = "127.0.0.1", broker.port
        window = args.mqtt_window or total  # the broker queues everything: no window
    else:
        parsed = urlparse(args.mqtt_url)
        host, port = parsed.hostname or "127.0.0.1", parsed.port or 1883
        window = args.mqtt_window or round(500 * total / len(messages))
    try:
        return _both_subscribers(data_dir, work, args, workdir, messages, host, port, window)
    finally:
        if broker is not None:
            broker.stop()


def _both_subscribers(
    data_dir: Path,
    work: Workload,
    args: argparse.Namespace,
    workdir: Path,
    messages: list[tuple[str, bytes, int]],
    host: str,
    port: int,
    window: int,
) -> dict[str, Any]:
    """The bare subscriber's run, then twinops serve's, through the broker at host:port."""
    import httpx

    total = sum(n for *_, n in messages)
    b.log(f"  {len(messages)} messages, {total} points, window {window} points")
    b.log("  bare paho subscriber ...")
    bare = bare_mqtt(host, port, messages, window)
    b.log(f"  {bare['points_per_s']} points/s")

    log_file = workdir / "server-mqtt.log"
    # A client id of its own, and a session that ends soon after the server stops: the run
    # neither resumes another consumer's session nor leaves one queueing messages behind.
    env = {
        "TWINOPS_MQTT_URL": f"mqtt://{host}:{port}",
        "TWINOPS_MQTT_CLIENT_ID": f"twinops-bench-{uuid.uuid4().hex[:10]}",
        "TWINOPS_MQTT_SESSION_EXPIRY_SECONDS": "60",
        "TWINOPS_MQTT_INGEST_PROCESSES": str(args.mqtt_ingest_processes),
    }
    server = b.twinops_server(data_dir, b.free_port(), env=env, output=log_file)
    poller = QualityPoller(server.url)
    try:
        try:
            probe_ms = _probe(host, port, poller, work, args.mqtt_probe_seconds)
        except RuntimeError as exc:
            text = log_file.read_text(errors="replace") if log_file.exists() else ""
            lines = [x for x in text.splitlines() if '" 200 OK' not in x]  # not access logs
            tail = "\n".join(lines[-25:])
            raise RuntimeError(f"{exc}. Server output (tail, no access logs):\n{tail}") from None
        # The unit registry and caches load on the first batches: warm up as the other modes do.
        httpx.post(
            server.url + "/v1/telemetry",
            json=work.warmup_points(),
            headers=b.AUTH_HEADERS,
            timeout=60,
        ).raise_for_status()
        # Let anything left over settle, then count from there.
        while time.monotonic() - poller.changed_at < 1.0:
            poller.poll()
            time.sleep(0.2)
        base_accepted, base_other = poller.poll()
        poller.fast_above = base_accepted + base_other + int(total * 0.9)
        poller.start()

        def visible() -> int:
            return poller.accepted + poller.other - base_accepted - base_other

        b.log("  twinops MQTT source ...")
        cpu_before = b.tree_cpu_seconds(server.process.pid)
        times = publish(host, port, "twinops", messages, visible, window)
        while visible() < total:
            if time.monotonic() - poller.changed_at > args.mqtt_stall_seconds:
                raise RuntimeError(
                    f"MQTT mode: stalled at {visible()} of {total} points for"
                    f" {args.mqtt_stall_seconds} s"
                )
            time.sleep(0.005)
        end = poller.changed_at
        cpu = b.tree_cpu_seconds(server.process.pid) - cpu_before
        memory = b.tree_rss_mib(server.process.pid)
    finally:
        try:
            poller.stop()
        finally:
            server.stop()
    accepted = poller.accepted - base_accepted
    ours = _rate(accepted, end - times["first"])
    ours.update(
        {
            "messages": len(messages),
            "handled_not_accepted": poller.other - base_other,
            "publish_seconds": round(times["all_pubacked"] - times["first"], 3),
            "first_point_probe_ms": probe_ms,
            "server_memory": memory,
            # The server and its ingest processes; GET /v1/quality polls included.
            "cpu_us_per_point": round(cpu / accepted * 1e6, 2) if accepted else None,
        }
    )
    fraction = b.ratio(ours["points_per_s"], bare["points_per_s"])
    return {
        "broker": "private" if args.mqtt_url == PRIVATE_BROKER else args.mqtt_url,
        "messages": len(messages),
        "points_per_message_mean": round(total / len(messages), 1),
        "window_points": window,
        "twinops_mqtt": ours,
        "bare_paho_subscriber": bare,
        "throughput_fraction_of_bare": fraction,
        "goal": {
            "fraction_of_bare_subscriber": GOAL_MQTT_FRACTION_OF_BARE,
            "measured_fraction": fraction,
            "met": fraction is not None and fraction >= GOAL_MQTT_FRACTION_OF_BARE,
        },
    }


# -- main ---------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--twins", type=int, default=1000, help="fleet size (1000)")
    parser.add_argument("--points", type=int, default=500_000, help="points per mode (500000)")
    parser.add_argument("--batch", type=int, default=5000, help="points per batch (5000)")
    parser.add_argument(
        "--id-fraction", type=float, default=0.0, help="share of twins sending message ids (0)"
    )
    parser.add_argument(
        "--modes",
        default="inprocess,http,mqtt",
        help="inprocess,http,mqtt (the default), and lagging",
    )
    parser.add_argument(
        "--lag-batches",
        type=int,
        default=40,
        help="lagging mode: every fourth batch arrives this many batches late (40)",
    )
    parser.add_argument("--clients", type=int, default=4, help="HTTP client processes (4)")
    parser.add_argument(
        "--http-split",
        choices=("twins", "batches"),
        default="twins",
        help="HTTP: each client sends its own twins (gateways; the default) or every"
        " clients-th batch of the fleet (overlapping time ranges: late points)",
    )
    parser.add_argument(
        "--http-workers", type=int, default=1, help="twinops serve --workers for HTTP (1)"
    )
    parser.add_argument(
        "--mqtt-url",
        default=PRIVATE_BROKER,
        help="a broker (mqtt://host:port), or 'private': a Mosquitto of the bench's own",
    )
    parser.add_argument(
        "--mqtt-message-seconds",
        type=int,
        default=10,
        help="seconds of one twin's telemetry per message (10: 100 points for a pump)",
    )
    parser.add_argument(
        "--mqtt-window",
        type=int,
        default=None,
        help="points published ahead of those counted (shared broker: 500 messages' worth)",
    )
    parser.add_argument(
        "--mqtt-ingest-processes",
        type=int,
        default=2,
        help="the server's mqtt_ingest_processes (2; 1: applied in the consumer's process)",
    )
    parser.add_argument(
        "--mqtt-probe-seconds", type=float, default=20.0, help="wait for the first point (20)"
    )
    parser.add_argument(
        "--mqtt-stall-seconds", type=float, default=30.0, help="give up without progress (30)"
    )
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N", help="cProfile N in-process batches"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke test")
    args = parser.parse_args(argv)
    if args.quick:
        args.twins, args.points, args.batch, args.clients = 300, 10_000, 2000, 2
    modes = {m.strip() for m in args.modes.split(",") if m.strip()}
    unknown = modes - {"inprocess", "lagging", "http", "mqtt"}
    if unknown:
        parser.error(f"unknown modes: {', '.join(sorted(unknown))}")

    work = Workload(args)
    failed = False
    with tempfile.TemporaryDirectory(prefix="twinops-bench-ingest-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        fleet_dir = root / "fleet"
        prepared = b.prepare_data_dir(fleet_dir, args.twins)
        result: dict[str, Any] = {
            "benchmark": "ingest",
            "machine": b.machine(),
            "params": {
                "twins": args.twins,
                "streams": len(work.streams),
                "points": args.points,
                "batch_points": args.batch,
                "id_fraction": args.id_fraction,
                "http_clients": args.clients,
                "http_split": args.http_split,
                "http_workers": args.http_workers,
                "mqtt_message_seconds": args.mqtt_message_seconds,
                "mqtt_ingest_processes": args.mqtt_ingest_processes,
                "tenant": TENANT,
            },
            "fleet": prepared,
        }
        history_ddl = [b.row_history_ddl("telemetry")]
        ddl = [*history_ddl, *b.twinops_ddl(fleet_dir / "twinops.db", _OTHER_TABLES)]
        b.log(f"raw sqlite3 executemany into a row-per-point table ({args.points} points) ...")
        raw = bare_sqlite(root / "raw.db", history_ddl, work, all_writes=False)
        b.log(f"  {raw['points_per_s']} points/s")
        b.log("raw sqlite3, every write apply() makes ...")
        raw_all = bare_sqlite(root / "raw-all.db", ddl, work, all_writes=True)
        b.log(f"  {raw_all['points_per_s']} points/s")
        result["raw_sqlite_executemany"] = raw
        result["raw_sqlite_all_writes"] = raw_all

        if "inprocess" in modes:
            b.log("in-process IngestService.ingest ...")
            ours = in_process(b.copy_data_dir(fleet_dir, root / "inproc"), work)
            b.log(f"  {ours['points_per_s']} points/s")
            result["in_process"] = {
                "twinops_ingest": ours,
                "throughput_fraction_of_bare": b.ratio(ours["points_per_s"], raw["points_per_s"]),
                "throughput_fraction_of_bare_all_writes": b.ratio(
                    ours["points_per_s"], raw_all["points_per_s"]
                ),
            }
        if "lagging" in modes:
            b.log(f"in process, every fourth batch {args.lag_batches} batches late ...")
            lagging = in_process(
                b.copy_data_dir(fleet_dir, root / "lagging"), work, lag=args.lag_batches
            )
            b.log(f"  {lagging['points_per_s']} points/s")
            result["lagging_source"] = {
                "lag_batches": args.lag_batches,
                "twinops_ingest": lagging,
                "throughput_fraction_of_bare": b.ratio(
                    lagging["points_per_s"], raw["points_per_s"]
                ),
            }
        if "http" in modes:
            b.log("HTTP POST /v1/telemetry ...")
            http = over_http(
                b.copy_data_dir(fleet_dir, root / "http"),
                work,
                args.clients,
                root,
                args.http_workers,
                args.http_split,
            )
            b.log(f"  {http['points_per_s']} points/s")
            rate = http["points_per_s"] or 0.0
            fraction = b.ratio(rate, raw["points_per_s"])
            result["http"] = {
                "twinops_post_telemetry": http,
                "throughput_fraction_of_bare": fraction,
                "throughput_fraction_of_bare_all_writes": b.ratio(rate, raw_all["points_per_s"]),
                "goal": {
                    "points_per_s": GOAL_HTTP_POINTS_PER_S,
                    "fraction_of_bare_sqlite": GOAL_HTTP_FRACTION_OF_BARE,
                    "measured_points_per_s": rate,
                    "measured_fraction": fraction,
                    "met": rate >= GOAL_HTTP_POINTS_PER_S
                    and fraction is not None
                    and fraction >= GOAL_HTTP_FRACTION_OF_BARE,
                },
            }
        if "mqtt" in modes:
            b.log("MQTT ...")
            try:
                result["mqtt"] = over_mqtt(
                    b.copy_data_dir(fleet_dir, root / "mqtt"), work, args, root
                )
            except (RuntimeError, OSError) as exc:
                failed = True
                b.log(f"MQTT mode failed: {exc}")
                result["mqtt"] = {"error": str(exc)}
        if args.profile:
            b.log(f"profiling {args.profile} in-process batches ...")
            profile_in_process(b.copy_data_dir(fleet_dir, root / "profile"), work, args.profile, 15)
        result["total_seconds"] = round(time.perf_counter() - started, 1)
    b.emit(result)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
