"""The Prometheus metric families of one twinops instance, on its own registry.

Each platform owns a :class:`Metrics` (several platforms in one process, as in the tests, do
not clash). Names follow the Prometheus conventions: a ``twinops_`` prefix, the topic next
(ingest, quarantine, freshness, jobs, queue, http, drift), base units (seconds) and
``_total`` on counters. Labels are bounded: sources by channel (``http``, ``mqtt``...), HTTP
requests by route template, never by raw path, twin or tenant.

Measuring is per batch, per job or per request, never per point. Values that would need a
query (queue depth) or a sort (freshness) are computed when Prometheus scrapes.

With several API worker processes each process has its own registry and ``/metrics`` answers
for the process that served the scrape (see docs/observability.md).
"""

from __future__ import annotations

import logging
import math
import threading
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

log = logging.getLogger("twinops.obs")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_SECOND = 1_000_000
# The channels ``source`` labels are reduced to (a source string names a key or a file).
CHANNELS = frozenset({"http", "mqtt", "file", "replay", "demo"})
# Seconds: from sub-millisecond requests to a minute-long batch.
_LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)
_BATCH_BUCKETS = (1, 10, 100, 500, 1000, 5000, 10_000, 50_000)
_JOB_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 14_400.0, 86_400.0)
# Queue depth: only the statuses whose rows stay few (finished jobs pile up forever).
QUEUE_STATUSES = ("queued", "running")


class BatchCounts(Protocol):
    """What applying a batch did (the state context's ``ApplyResult`` has these)."""

    @property
    def accepted(self) -> int: ...
    @property
    def duplicates(self) -> int: ...
    @property
    def late(self) -> int: ...
    @property
    def very_late(self) -> int: ...
    @property
    def quarantined(self) -> int: ...


def source_channel(source: str) -> str:
    """The bounded label of a source string: ``ops@http:key-1`` -> ``http``, ``file:a.csv`` ->
    ``file``; anything unknown -> ``other``."""
    channel = source.rpartition("@")[2].partition(":")[0]
    return channel if channel in CHANNELS else "other"


def quantile(sorted_values: list[float], q: float) -> float:
    """The ``q`` quantile (nearest rank) of ascending values; NaN when there are none."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


class _Freshness:
    """The newest event time per (tenant, twin) seen by this process's ingest, in µs."""

    def __init__(self) -> None:
        self._newest: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def update(self, tenant: str, newest: Mapping[str, int]) -> None:
        with self._lock:
            known = self._newest
            for twin, event_time in newest.items():
                key = (tenant, twin)
                if event_time > known.get(key, -1):
                    known[key] = event_time

    def ages(self, now: int) -> list[float]:
        with self._lock:
            times = list(self._newest.values())
        return sorted(max(0.0, (now - t) / _SECOND) for t in times)


class _ScrapeTime(Collector):
    """Families computed when scraped: freshness and queue depth."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def describe(self) -> list[Metric]:
        return []  # computed at scrape time; nothing to check at registration

    def collect(self) -> Iterator[Metric]:
        m = self._metrics
        ages = m.freshness.ages(m.clock())
        age = GaugeMetricFamily(
            "twinops_freshness_age_seconds",
            "Age of the newest event of each twin this process ingested, summarized over twins"
            " (stat: max, p95, p50)",
            labels=["stat"],
        )
        if ages:
            age.add_metric(["max"], ages[-1])
            age.add_metric(["p95"], quantile(ages, 0.95))
            age.add_metric(["p50"], quantile(ages, 0.5))
        yield age
        yield GaugeMetricFamily(
            "twinops_freshness_twins",
            "Twins with an ingested event in this process (the population of the age summary)",
            value=len(ages),
        )
        queue = GaugeMetricFamily(
            "twinops_queue_jobs", "Jobs in the queue by status, all tenants", labels=["status"]
        )
        depth = m.queue_depth
        if depth is not None:
            try:
                counts = depth()
            except Exception:  # a scrape reports what it can; the store may be down
                log.warning("queue depth unavailable for this scrape", exc_info=True)
                counts = None
            if counts is not None:
                for status in QUEUE_STATUSES:
                    queue.add_metric([status], counts.get(status, 0))
        yield queue


class Metrics:
    """The metric families of one platform and the calls that update them."""

    def __init__(
        self,
        clock: Callable[[], int],
        *,
        queue_depth: Callable[[], Mapping[str, int]] | None = None,
        process: bool = True,
    ) -> None:
        self.clock = clock  # µs since the epoch: freshness ages are measured against it
        self.queue_depth = queue_depth
        self.registry = CollectorRegistry(auto_describe=True)
        self.freshness = _Freshness()
        r = self.registry
        self.ingest_points = Counter(
            "twinops_ingest_points",
            "Points through the ingest pipeline by channel and outcome"
            " (accepted, duplicate, quarantined: every point has exactly one)",
            ["source", "outcome"],
            registry=r,
        )
        self.ingest_late = Counter(
            "twinops_ingest_late_points",
            "Accepted points older than their field's current state (late) or older than"
            " late_after_seconds on arrival (very_late)",
            ["source", "lateness"],
            registry=r,
        )
        self.ingest_duration = Histogram(
            "twinops_ingest_batch_duration_seconds",
            "From a batch entering the pipeline to its commit (validation, units, dedup, store)",
            ["source"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.ingest_size = Histogram(
            "twinops_ingest_batch_points",
            "Points per ingest batch",
            ["source"],
            buckets=_BATCH_BUCKETS,
            registry=r,
        )
        self.quarantine_points = Counter(
            "twinops_quarantine_points",
            "Points sent to quarantine, by channel and the rule they broke",
            ["source", "rule"],
            registry=r,
        )
        self.jobs_started = Counter(
            "twinops_jobs_started", "Job attempts handed to an executor", ["kind"], registry=r
        )
        self.jobs_finished = Counter(
            "twinops_jobs_finished",
            "Job attempts ended on this server, by kind and status"
            " (succeeded, failed, timeout, lost, cancelled)",
            ["kind", "status"],
            registry=r,
        )
        self.jobs_duration = Histogram(
            "twinops_jobs_duration_seconds",
            "Wall time of a job attempt on its worker, by kind and status",
            ["kind", "status"],
            buckets=_JOB_BUCKETS,
            registry=r,
        )
        self.http_duration = Histogram(
            "twinops_http_request_duration_seconds",
            "HTTP request latency by method, route template and status code",
            ["method", "route", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.http_requests = Counter(
            "twinops_http_requests",
            "HTTP requests by method, route template and status code",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_in_flight = Gauge(
            "twinops_http_requests_in_flight", "HTTP requests being served", registry=r
        )
        self.drift_alerts = Counter(
            "twinops_drift_alerts",
            "Drift alerts raised by the fidelity monitors, by detector",
            ["detector"],
            registry=r,
        )
        # (method, route, status) -> the two children: labels() costs more than observing.
        self._http_children: dict[tuple[str, str, int], tuple[Histogram, Counter]] = {}
        r.register(_ScrapeTime(self))
        if process:
            ProcessCollector(registry=r)

    # -- measuring points ------------------------------------------------------------------

    def ingest_batch(
        self,
        tenant: str,
        source: str,
        seconds: float,
        counts: BatchCounts,
        *,
        rules: Iterable[str] = (),
        newest: Mapping[str, int] | None = None,
    ) -> None:
        """One ingest batch: its outcome counts, duration, quarantine rules, newest events.

        ``newest``: the newest event time (µs) per twin of the batch's accepted points.
        """
        channel = source_channel(source)
        points = counts.accepted + counts.duplicates + counts.quarantined
        self.ingest_duration.labels(channel).observe(seconds)
        self.ingest_size.labels(channel).observe(points)
        for outcome, n in (
            ("accepted", counts.accepted),
            ("duplicate", counts.duplicates),
            ("quarantined", counts.quarantined),
        ):
            if n:
                self.ingest_points.labels(channel, outcome).inc(n)
        if counts.late:
            self.ingest_late.labels(channel, "late").inc(counts.late)
        if counts.very_late:
            self.ingest_late.labels(channel, "very_late").inc(counts.very_late)
        for rule, n in Tally(rules).items():
            self.quarantine_points.labels(channel, rule).inc(n)
        if newest:
            self.freshness.update(tenant, newest)

    def job_started(self, kind: str) -> None:
        """A job attempt was handed to the executor."""
        self.jobs_started.labels(kind).inc()

    def job_finished(self, kind: str, status: str, seconds: float) -> None:
        """A job attempt ended (``status``: succeeded, failed, timeout, lost, cancelled)."""
        self.jobs_finished.labels(kind, status).inc()
        self.jobs_duration.labels(kind, status).observe(seconds)

    def http_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """An HTTP request was answered (``route``: the template, e.g. ``/v1/twins/{id}``)."""
        key = (method, route, status)
        children = self._http_children.get(key)
        if children is None:
            code = str(status)
            children = self._http_children[key] = (
                self.http_duration.labels(method, route, code),
                self.http_requests.labels(method, route, code),
            )
        children[0].observe(seconds)
        children[1].inc()

    def drift_alert(self, detector: str, count: int = 1) -> None:
        """Drift alerts fired (``detector``: the detector's name, e.g. ``page_hinkley``)."""
        self.drift_alerts.labels(detector).inc(count)

    # -- exposition ------------------------------------------------------------------------

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format (what ``/metrics`` answers)."""
        return generate_latest(self.registry)
