"""Shared helpers for the twinops benchmarks: fleet generation, loading, timing, servers.

Not a benchmark itself. Every script in ``bench/`` imports this module from its own folder.
Progress goes to stderr; each script prints exactly one JSON object to stdout.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import platform as pyplatform
import random
import resource
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
FLEET_PY = REPO / "examples" / "pump_fleet" / "fleet.py"
MODELS_DIR = REPO / "examples" / "pump_fleet" / "models"
NS = "dtmi:twinops:example:"
SITE, STATION, PUMP, SENSOR = (f"{NS}{m};1" for m in ("Site", "PumpStation", "Pump", "Sensor"))
PUMPS_PER_STATION = 4
STATIONS_PER_SITE = 10
SENSORS_PER_PUMP = 2
MARKER = "bench-fleet.json"
"""File a prepared data folder carries: what was loaded into it and how long it took."""


# -- output ---------------------------------------------------------------------------------


def log(message: str) -> None:
    """Progress on stderr, with a timestamp."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def emit(result: dict[str, Any]) -> None:
    """The one JSON object a benchmark prints to stdout."""
    print(json.dumps(result, indent=2, sort_keys=False, default=str))


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    versions: dict[str, str] = {}
    for package in ("twinops", "fastapi", "uvicorn", "sqlalchemy", "pydantic", "psycopg"):
        with contextlib.suppress(Exception):
            from importlib.metadata import version

            versions[package] = version(package)
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "mem_gib": round(mem_kib / 2**20, 1),
        "python": pyplatform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "kernel": pyplatform.release(),
        "packages": versions,
    }


# -- statistics -----------------------------------------------------------------------------


def summary_ms(samples_s: Sequence[float]) -> dict[str, float | int]:
    """p50/p90/p99/max/mean of durations given in seconds, answered in milliseconds."""
    if not samples_s:
        return {"n": 0}
    ordered = sorted(samples_s)

    def pct(p: float) -> float:
        index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
        return round(ordered[index] * 1000, 4)

    return {
        "n": len(ordered),
        "p50_ms": pct(50),
        "p90_ms": pct(90),
        "p99_ms": pct(99),
        "max_ms": round(ordered[-1] * 1000, 4),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 4),
    }


def ratio(ours: float, raw: float) -> float | None:
    """``ours / raw`` rounded, or None when the raw figure is zero."""
    return round(ours / raw, 2) if raw else None


def timed_loop(
    action: Callable[[], Any], *, max_count: int, max_seconds: float, warmup: int = 0
) -> list[float]:
    """Durations (s) of ``action`` run until ``max_count`` runs or ``max_seconds`` elapse."""
    for _ in range(warmup):
        action()
    samples: list[float] = []
    deadline = time.perf_counter() + max_seconds
    clock = time.perf_counter
    while len(samples) < max_count and clock() < deadline:
        start = clock()
        action()
        samples.append(clock() - start)
    return samples


# -- process memory -------------------------------------------------------------------------


def rss_mib(pid: int | None = None) -> dict[str, float]:
    """Current (VmRSS) and peak (VmHWM) resident memory of a process, in MiB."""
    status = Path(f"/proc/{pid or os.getpid()}/status").read_text()
    values: dict[str, float] = {}
    for line in status.splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values["rss_mib" if key == "VmRSS" else "peak_rss_mib"] = round(
                int(rest.split()[0]) / 1024, 1
            )
    return values


def tree_rss_mib(pid: int) -> dict[str, float]:
    """RSS of a process plus its direct children (workers, ingest processes), in MiB."""
    total = rss_mib(pid)
    for child in _children(pid):
        with contextlib.suppress(OSError):
            total["rss_mib"] = round(total["rss_mib"] + rss_mib(child)["rss_mib"], 1)
            total["children"] = total.get("children", 0) + 1
    return total


def _children(pid: int) -> list[int]:
    """Direct children, whichever thread started them (each thread lists its own)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


def _tree_pids(pid: int) -> list[int]:
    pids = [pid]
    for child in _children(pid):
        pids.extend(_tree_pids(child))
    return pids


def tree_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by a process and all its descendants."""
    ticks = 0
    for one in _tree_pids(pid):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def wait_until_idle(pid: int, *, timeout: float = 60.0, busy: float = 0.05) -> float:
    """Wait until a process tree uses under ``busy`` of a core over a second; answers the wait.

    A server answers its health check as soon as one worker is up, while the others (and a
    job pool) are still importing: load sent then lands on the first worker's connections.
    """
    started = time.monotonic()
    before = tree_cpu_seconds(pid)
    while time.monotonic() - started < timeout:
        time.sleep(1.0)
        now = tree_cpu_seconds(pid)
        if now - before < busy:
            break
        before = now
    return round(time.monotonic() - started, 1)


def self_peak_rss_mib() -> float:
    """This process's peak RSS (getrusage), in MiB."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


# -- the fleet ------------------------------------------------------------------------------


def _load_fleet_module() -> Any:
    spec = importlib.util.spec_from_file_location("pump_fleet_example", FLEET_PY)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot import {FLEET_PY}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def model_paths() -> list[Path]:
    """The example's DTDL files, base interfaces first (as ``fleet.py`` orders them)."""
    paths: list[Path] = _load_fleet_module().model_paths()
    return paths


@dataclass
class Station:
    """One station's ids: its site (set when this station opens the site), pumps, sensors."""

    site_id: str | None
    new_site: bool
    station_id: str | None
    pumps: list[tuple[str, list[str]]] = field(default_factory=list)

    @property
    def twin_count(self) -> int:
        """Twins this record creates."""
        return (
            int(self.new_site)
            + int(self.station_id is not None)
            + sum(1 + len(s) for _, s in self.pumps)
        )


def _layout(n_twins: int) -> Iterator[Station]:
    """Sites of 10 stations of 4 pumps with 2 sensors each, cut off after ``n_twins`` twins."""
    left = n_twins
    site = 0
    while left > 0:
        site += 1
        site_id = f"site-{site:02d}"
        left -= 1
        new_site = True
        for k in range(1, STATIONS_PER_SITE + 1):
            if left <= 0:
                if new_site:
                    yield Station(site_id, True, None)
                return
            station_id = f"station-{site:02d}-{k:02d}"
            left -= 1
            record = Station(site_id, new_site, station_id)
            new_site = False
            for p in range(1, PUMPS_PER_STATION + 1):
                if left <= 0:
                    break
                pump_id = f"pump-{site:02d}-{k:02d}-{p:02d}"
                left -= 1
                sensors: list[str] = []
                for suffix in ("de", "nde")[:SENSORS_PER_PUMP]:
                    if left <= 0:
                        break
                    sensors.append(f"sensor-{site:02d}-{k:02d}-{p:02d}-{suffix}")
                    left -= 1
                record.pumps.append((pump_id, sensors))
            yield record


def _base_links(record: Station) -> int:
    count = 1 if record.station_id is not None else 0  # contains
    count += sum(1 + len(sensors) for _, sensors in record.pumps)  # hasPump + own hasSensor
    if len(record.pumps) > 1:
        count += len(record.pumps)  # feeds, a ring (maxMultiplicity 1 each)
    return count


def _spare_capacity(record: Station) -> list[int]:
    # Extra hasSensor links a pump can carry: its station's other sensors, at most 16 in all.
    total = sum(len(s) for _, s in record.pumps)
    return [min(16 - len(s), total - len(s)) for _, s in record.pumps]


def _rel(source: str, name: str, target: str, **properties: Any) -> dict[str, Any]:
    return {
        "$relationshipId": f"{source}-{name}-{target}",
        "$sourceId": source,
        "$relationshipName": name,
        "$targetId": target,
        **properties,
    }


@dataclass
class FleetBatches:
    """A deterministic pump fleet of exactly ``twins`` twins and ``relationships`` edges."""

    twins: int
    relationships: int
    batch_size: int = 5000
    seed: int = 7
    _templates: dict[str, list[dict[str, Any]]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        base = capacity = 0
        for record in _layout(self.twins):
            base += _base_links(record)
            capacity += sum(_spare_capacity(record))
        self.extra = self.relationships - base
        if self.extra < 0 or self.extra > capacity:
            raise ValueError(
                f"{self.twins} twins carry between {base} and {base + capacity} relationships"
                f" in this layout, not {self.relationships}"
            )
        self._capacity = capacity
        # Realistic bodies: a small fleet from the example's own generator, reused as templates.
        fleet = _load_fleet_module().generate_fleet(20, PUMPS_PER_STATION, seed=self.seed)
        for twin in fleet.twins:
            body = {k: v for k, v in twin.items() if k != "$dtId"}
            self._templates.setdefault(twin["$metadata"]["$model"], []).append(body)

    def _twin(self, model: str, twin_id: str, rng: random.Random) -> dict[str, Any]:
        pool = self._templates[model]
        body = {"$dtId": twin_id, **pool[rng.randrange(len(pool))]}
        if model == PUMP:
            body["ratedFlow"] = float(round(rng.uniform(50.0, 500.0) / 5.0) * 5)
        return body

    def __iter__(self) -> Iterator[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
        """Batches of (twins, relationships); every edge's ends are in its batch or earlier."""
        rng = random.Random(self.seed)
        twins: list[dict[str, Any]] = []
        rels: list[dict[str, Any]] = []
        extra_left, capacity_left = self.extra, self._capacity
        for record in _layout(self.twins):
            if record.new_site and record.site_id is not None:
                twins.append(self._twin(SITE, record.site_id, rng))
            if record.station_id is not None:
                twins.append(self._twin(STATION, record.station_id, rng))
                if record.site_id is not None:
                    rels.append(_rel(record.site_id, "contains", record.station_id))
            for pump_id, sensors in record.pumps:
                twins.append(self._twin(PUMP, pump_id, rng))
                if record.station_id is not None:
                    rels.append(_rel(record.station_id, "hasPump", pump_id))
                for sensor_id in sensors:
                    twins.append(self._twin(SENSOR, sensor_id, rng))
                    mount = "drive-end bearing" if sensor_id.endswith("-de") else "non-drive-end"
                    rels.append(_rel(pump_id, "hasSensor", sensor_id, mountPoint=mount))
            pumps = record.pumps
            if len(pumps) > 1:
                for i, (pump_id, _) in enumerate(pumps):
                    rels.append(_rel(pump_id, "feeds", pumps[(i + 1) % len(pumps)][0]))
            # Spread the extra edges evenly: a pump also watches its neighbours' sensors.
            for i, spare in enumerate(_spare_capacity(record)):
                if capacity_left <= 0:
                    break
                want = round(extra_left * spare / capacity_left)
                capacity_left -= spare
                want = min(want, spare, extra_left)
                extra_left -= want
                others = [s for j, (_, ss) in enumerate(pumps) for s in ss if j != i]
                offset = len(pumps[i][1])
                others = others[offset:] + others[:offset]
                for sensor_id in others[:want]:
                    rels.append(_rel(pumps[i][0], "hasSensor", sensor_id, mountPoint="remote"))
            if len(twins) >= self.batch_size:
                yield twins, rels
                twins, rels = [], []
        if twins or rels:
            yield twins, rels


# -- loading through the service ------------------------------------------------------------


def open_platform(data_dir: Path, database_url: str = "", **settings: Any) -> Any:
    """``Platform.open`` on a data folder (and optionally another database, other settings)."""
    from twinops.config import Settings
    from twinops.platform import Platform

    return Platform.open(Settings(data_dir=data_dir, database_url=database_url, **settings))


def upload_models(platform: Any, tenant: str) -> None:
    """Upload the pump-fleet models for ``tenant``."""
    from twinops.models.dtdl import load_paths

    platform.models.upload(tenant, load_paths(model_paths()))


@dataclass
class LoadReport:
    """What loading a fleet through ``import_graph`` took."""

    twins: int
    relationships: int
    seconds: float
    batch_seconds: list[float]
    generate_seconds: float

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values."""
        return {
            "twins": self.twins,
            "relationships": self.relationships,
            "import_seconds": round(self.seconds, 2),
            "generate_seconds": round(self.generate_seconds, 2),
            "twins_per_s": round(self.twins / self.seconds, 1) if self.seconds else None,
            "rows_per_s": round((self.twins + self.relationships) / self.seconds, 1)
            if self.seconds
            else None,
            "batch": summary_ms(self.batch_seconds),
        }


def load_fleet(
    platform: Any, tenant: str, fleet: FleetBatches, *, progress_every: float = 15.0
) -> LoadReport:
    """Import ``fleet`` batch by batch; only the ``import_graph`` calls are timed."""
    batch_seconds: list[float] = []
    twins = rels = 0
    generate = 0.0
    last = time.perf_counter()
    batches = iter(fleet)
    while True:
        start = time.perf_counter()
        batch = next(batches, None)
        generate += time.perf_counter() - start
        if batch is None:
            break
        start = time.perf_counter()
        result = platform.twins.import_graph(tenant, batch[0], batch[1])
        batch_seconds.append(time.perf_counter() - start)
        twins += result.twins
        rels += result.relationships
        if time.perf_counter() - last > progress_every:
            last = time.perf_counter()
            rate = twins / sum(batch_seconds)
            log(f"  imported {twins}/{fleet.twins} twins, {rels} relationships ({rate:.0f}/s)")
    return LoadReport(twins, rels, sum(batch_seconds), batch_seconds, generate)


def prepare_data_dir(
    data_dir: Path, n_twins: int, rels_per_twin: float = 2.0, tenant: str = "default"
) -> dict[str, Any]:
    """A data folder holding the fleet; reused when its marker says it already does."""
    marker = data_dir / MARKER
    wanted = {"twins": n_twins, "relationships": round(n_twins * rels_per_twin), "tenant": tenant}
    if marker.exists():
        found = json.loads(marker.read_text())
        if all(found.get(k) == v for k, v in wanted.items()):
            log(f"reusing prepared data folder {data_dir} ({n_twins} twins)")
            return dict(found, reused=True)
        raise SystemExit(f"{data_dir} holds another fleet ({found}); give an empty folder")
    if data_dir.exists() and any(data_dir.iterdir()):
        raise SystemExit(f"{data_dir} is not empty and has no {MARKER}; give an empty folder")
    log(f"loading {n_twins} twins into {data_dir} ...")
    platform = open_platform(data_dir)
    try:
        upload_models(platform, tenant)
        fleet = FleetBatches(n_twins, wanted["relationships"])
        report = load_fleet(platform, tenant, fleet)
    finally:
        platform.close()
    info = dict(wanted, load=report.as_dict(), reused=False)
    marker.write_text(json.dumps(info))
    log(f"loaded in {report.seconds:.1f} s ({report.twins / report.seconds:.0f} twins/s)")
    return info


def twin_ids(n_twins: int) -> list[str]:
    """Every twin id of a fleet of ``n_twins`` (same layout as :class:`FleetBatches`)."""
    ids: list[str] = []
    for record in _layout(n_twins):
        if record.new_site and record.site_id is not None:
            ids.append(record.site_id)
        if record.station_id is not None:
            ids.append(record.station_id)
        for pump_id, sensors in record.pumps:
            ids.append(pump_id)
            ids.extend(sensors)
    return ids


# -- servers --------------------------------------------------------------------------------


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    """A server subprocess bound to 127.0.0.1."""

    process: subprocess.Popen[bytes]
    port: int
    name: str

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Terminate the process (and wait for it)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# Every twinops request authenticates; the benchmark's servers are seeded with this admin key
# (sent to the bare baseline too, so both parse the same request).
BENCH_KEY = "bench-admin-key-0123456789abcdef"
AUTH_HEADERS = {"Authorization": f"Bearer {BENCH_KEY}"}


def start_server(
    name: str,
    argv: list[str],
    port: int,
    ready_path: str,
    *,
    timeout: float = 120.0,
    env: dict[str, str] | None = None,
    output: Path | None = None,
) -> Server:
    """Start ``argv`` (with ``env`` added to the environment); wait for GET ``ready_path``.

    The server's stdout and stderr go to ``output`` when given, else nowhere.
    """
    import httpx

    log(f"starting {name}: {' '.join(argv)}")
    # Access logs go nowhere: the same for every server measured, and not the benchmark's output.
    # No rate limit: the benchmark measures the server, not its per-key throttle.
    full_env = {
        **os.environ,
        "TWINOPS_ADMIN_KEY": BENCH_KEY,
        "TWINOPS_RATE_LIMIT_PER_SECOND": "0",
        **(env or {}),
    }
    sink: Any = output.open("ab") if output is not None else subprocess.DEVNULL
    try:
        process = subprocess.Popen(
            argv, stdout=sink, stderr=subprocess.STDOUT, cwd=REPO, env=full_env
        )
    finally:
        if output is not None:
            sink.close()
    server = Server(process, port, name)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = output.read_text(errors="replace")[-3000:] if output is not None else ""
            raise RuntimeError(
                f"{name} exited with {process.returncode} before it was ready"
                + (f"; its output ends with:\n{tail}" if tail else "")
            )
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(server.url + ready_path, timeout=2).status_code == 200:
                log(f"{name} answers; settled after {wait_until_idle(process.pid)} s more")
                return server
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"{name} was not ready after {timeout} s")


def twinops_server(
    data_dir: Path,
    port: int,
    workers: int = 1,
    env: dict[str, str] | None = None,
    output: Path | None = None,
) -> Server:
    """``twinops serve`` on a prepared data folder (``env``: extra environment variables)."""
    argv = [
        sys.executable,
        "-m",
        "twinops.cli.main",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--workers",
        str(workers),
    ]
    return start_server("twinops serve", argv, port, "/healthz", env=env, output=output)


def bare_server(port: int, body_file: Path, workers: int = 1) -> Server:
    """The bare FastAPI baseline (``bare_server.py``) answering a constant JSON."""
    argv = [
        sys.executable,
        str(BENCH_DIR / "bare_server.py"),
        "--port",
        str(port),
        "--body",
        str(body_file),
        "--workers",
        str(workers),
    ]
    return start_server(f"bare FastAPI ({workers} worker)", argv, port, "/healthz")


# -- wrk ------------------------------------------------------------------------------------

_WRK_LUA = """
local ids = {%s}
local prefix = "%s"
math.randomseed(%d)
request = function()
  return wrk.format("GET", prefix .. ids[math.random(#ids)], {["Authorization"] = "%s"})
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write("WRK_JSON ")
  io.write(string.format(
    '{"requests":%%d,"duration_us":%%d,"bytes":%%d,"errors":{"connect":%%d,"read":%%d,' ..
    '"write":%%d,"status":%%d,"timeout":%%d},"latency_us":{"p50":%%d,"p90":%%d,"p99":%%d,' ..
    '"max":%%d,"mean":%%.1f}}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
"""


def wrk_available() -> bool:
    """Whether the ``wrk`` load generator is installed."""
    from shutil import which

    return which("wrk") is not None


def run_wrk(
    url: str,
    paths_prefix: str,
    ids: Sequence[str],
    *,
    seconds: int,
    connections: int,
    threads: int,
    workdir: Path,
    seed: int = 1,
) -> dict[str, Any]:
    """Run wrk against ``url`` with GET ``paths_prefix + id`` over random ``ids``."""
    script = workdir / f"wrk-{os.getpid()}-{time.monotonic_ns()}.lua"
    script.write_text(
        _WRK_LUA
        % (",".join(json.dumps(i) for i in ids), paths_prefix, seed, AUTH_HEADERS["Authorization"])
    )
    argv = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "5s",
        "-s",
        str(script),
        url,
    ]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=True)
    script.unlink(missing_ok=True)
    line = next(x for x in out.stdout.splitlines() if x.startswith("WRK_JSON "))
    raw = json.loads(line.removeprefix("WRK_JSON "))
    seconds_run = raw["duration_us"] / 1e6
    lat = raw["latency_us"]
    return {
        "connections": connections,
        "threads": threads,
        "seconds": round(seconds_run, 2),
        "requests": raw["requests"],
        "requests_per_s": round(raw["requests"] / seconds_run, 1),
        "errors": raw["errors"],
        "latency_ms": {k: round(v / 1000, 3) for k, v in lat.items()},
    }


# -- telemetry ------------------------------------------------------------------------------

TELEMETRY_START_US = 1_751_263_200_000_000
"""2025-06-30T06:00:00Z, the example telemetry generator's default start."""

# Per model: (field, base value, relative daily swing, decimals, (canonical symbol, foreign
# symbol or None)). Values are in the model's canonical unit; a foreign symbol is what a
# misconfigured imperial gateway sends (the value converted to it).
_STREAM_FIELDS: dict[str, tuple[tuple[str, float, float, int, tuple[str, str | None]], ...]] = {
    PUMP: (
        ("flowRate", 150.0, 0.25, 3, ("m³/h", "gal/min")),
        ("dischargePressure", 450.0, 0.15, 2, ("kPa", "psi")),
        ("suctionPressure", 120.0, 0.05, 2, ("kPa", "psi")),
        ("vibration", 0.15, 0.3, 4, ("g", None)),
        ("fluidTemperature", 25.0, 0.1, 2, ("°C", "degF")),
        ("speed", 1480.0, 0.2, 1, ("rpm", None)),
        ("motor.current", 60.0, 0.25, 2, ("A", None)),
        ("motor.voltage", 400.0, 0.01, 1, ("V", None)),
        ("motor.power", 35.0, 0.4, 3, ("kW", None)),
        ("motor.windingTemperature", 70.0, 0.15, 2, ("°C", "degF")),
    ),
    STATION: (
        ("inletPressure", 150.0, 0.05, 2, ("kPa", "psi")),
        ("outletPressure", 500.0, 0.1, 2, ("kPa", "psi")),
    ),
    SENSOR: (("reading", 0.2, 0.3, 4, ("", None)),),
}
_FOREIGN = {
    "gal/min": lambda v: v / 0.22712470704,
    "psi": lambda v: v / 6.894757293168361,
    "degF": lambda v: v * 9.0 / 5.0 + 32.0,
}


@dataclass(frozen=True)
class Stream:
    """One twin field that reports telemetry, and how its device formats points."""

    twin_id: str
    name: str
    base: float
    swing: float
    decimals: int
    unit: str | None
    """The unit sent with each point (None: the field's canonical unit, not sent)."""
    epoch_time: bool
    """The device stamps epoch seconds instead of RFC 3339 text."""
    with_id: bool
    """The device numbers its messages (an ``id`` per point)."""
    phase: float


def telemetry_streams(n_twins: int, *, id_fraction: float = 0.0, seed: int = 7) -> list[Stream]:
    """Every telemetry field of a fleet of ``n_twins`` (the :class:`FleetBatches` layout).

    Pumps report their 10 fields, stations their 2 pressures, sensors their reading. Device
    habits are per twin and deterministic: 1 in 10 sends imperial units where the field has
    one (psi, gal/min, °F), 1 in 10 spells out the canonical unit (kPa, m³/h, °C, rpm...),
    the others send no unit; 1 in 8 stamps epoch seconds; ``id_fraction`` of them number
    their points with message ids.
    """
    rng = random.Random(seed)
    streams: list[Stream] = []
    index = 0
    for record in _layout(n_twins):
        twins: list[tuple[str, str]] = []
        if record.station_id is not None:
            twins.append((STATION, record.station_id))
        for pump_id, sensors in record.pumps:
            twins.append((PUMP, pump_id))
            twins.extend((SENSOR, s) for s in sensors)
        for model, twin_id in twins:
            index += 1
            style = index % 10
            epoch = index % 8 == 5
            with_id = rng.random() < id_fraction
            for name, base, swing, decimals, (symbol, foreign) in _STREAM_FIELDS[model]:
                unit: str | None = None
                if style == 3 and foreign is not None:
                    unit = foreign
                elif style == 7 and symbol:
                    unit = symbol
                streams.append(
                    Stream(
                        twin_id,
                        name,
                        base * rng.uniform(0.8, 1.2),
                        swing,
                        decimals,
                        unit,
                        epoch,
                        with_id,
                        rng.uniform(0, 6.283),
                    )
                )
    return streams


def rfc3339_us(us: int) -> str:
    """Epoch microseconds as RFC 3339 text (``Z``; milliseconds when not whole seconds)."""
    seconds, micros = divmod(us, 1_000_000)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{text}.{micros // 1000:03d}Z" if micros else f"{text}Z"


def telemetry_point(
    stream: Stream, t_us: int, time_text: str, rng: random.Random, *, with_twin: bool = True
) -> tuple[dict[str, Any], float]:
    """A raw ingest point of ``stream`` at ``t_us``, and its value in the canonical unit."""
    import math

    daily = math.sin(6.283185307179586 * (t_us / 86_400e6) + stream.phase)
    canonical = round(
        stream.base * (1.0 + stream.swing * daily + rng.gauss(0.0, 0.01)), stream.decimals
    )
    sent = canonical
    if stream.unit in _FOREIGN:
        sent = round(_FOREIGN[stream.unit](canonical), stream.decimals + 1)
    point: dict[str, Any] = {"twin": stream.twin_id} if with_twin else {}
    point["name"] = stream.name
    point["value"] = sent
    point["time"] = t_us / 1e6 if stream.epoch_time else time_text
    if stream.unit is not None:
        point["unit"] = stream.unit
    if stream.with_id:
        point["id"] = f"{stream.twin_id}:{stream.name}:{t_us}"
    return point, canonical


Row = tuple[str, str, int, float, str | None]
"""A point as the bare baselines store it: twin, field, event time (µs), canonical value, id."""


def telemetry_batches(
    streams: Sequence[Stream],
    total: int,
    batch_size: int,
    *,
    start_us: int = TELEMETRY_START_US,
    step_us: int = 1_000_000,
    seed: int = 7,
) -> Iterator[tuple[list[dict[str, Any]], list[Row]]]:
    """``total`` points in batches: every stream once per step, in event-time order.

    Each batch comes with the same points as bare rows (canonical values, µs times).
    """
    rng = random.Random(seed)
    points: list[dict[str, Any]] = []
    rows: list[Row] = []
    made = 0
    tick = 0
    while made < total:
        t_us = start_us + tick * step_us
        text = rfc3339_us(t_us)
        for stream in streams:
            point, canonical = telemetry_point(stream, t_us, text, rng)
            points.append(point)
            rows.append((stream.twin_id, stream.name, t_us, canonical, point.get("id")))
            made += 1
            if len(points) == batch_size or made == total:
                yield points, rows
                points, rows = [], []
                if made == total:
                    return
        tick += 1


# -- bare SQLite shaped like ours -----------------------------------------------------------


def row_history_ddl(table: str = "telemetry") -> str:
    """CREATE TABLE of history as a row per point, primary key (tenant, twin, field, time).

    The ``telemetry`` table twinops used before migration 0009 (its history is now segments
    and blocks, ``storage/sql_history.py``): the raw baselines keep it as "the same rows,
    indexed" that a plain SQLite store of the points would write and read.
    """
    return f"""CREATE TABLE {table} (
    tenant VARCHAR(64) NOT NULL,
    twin_id VARCHAR(128) NOT NULL,
    name VARCHAR(512) NOT NULL,
    event_time BIGINT NOT NULL,
    value_num FLOAT,
    value_json JSON,
    ingest_time BIGINT NOT NULL,
    source VARCHAR(256) NOT NULL,
    flags INTEGER DEFAULT '0' NOT NULL,
    PRIMARY KEY (tenant, twin_id, name, event_time)
)"""


def twinops_ddl(db_path: Path, tables: Sequence[str]) -> list[str]:
    """The CREATE TABLE / CREATE INDEX statements of ``tables`` in a twinops SQLite file.

    Read from the live schema, so the bare baselines keep the shape of ours as it changes.
    """
    conn = sqlite3.connect(db_path)
    try:
        statements: list[str] = []
        for table in tables:
            found = conn.execute(
                "SELECT type, sql FROM sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL"
                " ORDER BY type = 'index', name",
                (table,),
            ).fetchall()
            if not found:
                raise RuntimeError(f"{db_path} has no table {table}")
            statements.extend(sql for _, sql in found)
        return statements
    finally:
        conn.close()


def bare_sqlite_connect(path: Path) -> sqlite3.Connection:
    """A sqlite3 connection with twinops's PRAGMAs (storage/database.py), autocommit mode."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def copy_data_dir(source: Path, target: Path) -> Path:
    """A copy of a closed data folder (so each measurement starts from the same fleet)."""
    import shutil

    shutil.copytree(source, target)
    return target
