"""File replay: stream a CSV or Parquet file of telemetry into the ingest pipeline.

The file is read in bounded memory (pyarrow's streaming CSV reader, Parquet batch by batch),
each row becomes points as a :class:`~twinops.ingest.file_mapping.ReplayMapping` says, and
points go to a *sink* in batches: the in-process pipeline (:func:`ingest_sink`) or anything
else taking a list of raw points and answering an ingest report, such as the SDK's
``Client.ingest`` posting to ``POST /v1/telemetry``.

Pacing: as fast as possible (the default), or at ``speed`` times the original pace, sleeping
by the event-time gaps (anchored at the first row, so time spent sending is not added on top).
Sleep and clock are injectable, so tests never wait.

Nothing is dropped silently: missing cells are counted, rows whose time cannot be read are
quarantined by the pipeline, and CSV lines that do not even split into the header's columns
are counted as ``malformed`` with their line text in ``errors``.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from twinops.errors import InvalidInput
from twinops.ingest.file_mapping import ParsedRow, ReplayMapping, RowParser
from twinops.ingest.pipeline import IngestService

Sink = Callable[[list[dict[str, Any]]], Mapping[str, Any]]
"""Takes a batch of raw points; answers an ingest report (accepted, duplicates, ...)."""

DEFAULT_BATCH = 5_000
MAX_BATCH = 50_000
MIN_WAIT = 0.05
"""Seconds: shorter waits between rows are gathered, so a paced replay sends at most ~20/s."""
_MAX_ERRORS = 50
_READ_ROWS = 10_000
_PARQUET_MAGIC = b"PAR1"


@dataclass(frozen=True)
class ReplaySummary:
    """What a replay did: rows read, points sent, what the pipeline made of them."""

    file: str
    rows: int
    points: int
    batches: int
    accepted: int
    duplicates: int
    late: int
    quarantined: int
    missing: int
    malformed: int
    errors: tuple[dict[str, Any], ...] = ()
    stopped: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The summary as printed by ``twinops telemetry replay``."""
        return {
            "file": self.file,
            "rows": self.rows,
            "points": self.points,
            "batches": self.batches,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "late": self.late,
            "quarantined": self.quarantined,
            "missing": self.missing,
            "malformed": self.malformed,
            "errors": list(self.errors),
            "stopped": self.stopped,
        }


class Pacer:
    """How long to wait before an event, at ``speed`` times its original pace."""

    def __init__(self, speed: float, clock: Callable[[], float]) -> None:
        self._speed = speed
        self._clock = clock
        self._anchor: tuple[int, float] | None = None

    def delay(self, event_us: int) -> float:
        """Seconds until ``event_us`` is due; 0 for the first event and for late ones."""
        if self._anchor is None:
            self._anchor = (event_us, self._clock())
            return 0.0
        first_event, started = self._anchor
        due = started + (event_us - first_event) / 1e6 / self._speed
        return max(0.0, due - self._clock())


def ingest_sink(service: IngestService, tenant: str, source: str) -> Sink:
    """A sink feeding the in-process pipeline of ``tenant`` (``source`` e.g. ``file:a.csv``)."""

    def sink(points: list[dict[str, Any]]) -> Mapping[str, Any]:
        return service.ingest(tenant, points, source=source).to_json()

    return sink


def replay_into(
    service: IngestService,
    tenant: str,
    path: Path,
    mapping: ReplayMapping,
    **options: Any,
) -> ReplaySummary:
    """Replay a file into the in-process pipeline, as source ``file:<file name>``."""
    return replay_file(path, mapping, ingest_sink(service, tenant, f"file:{path.name}"), **options)


def replay_file(
    path: Path,
    mapping: ReplayMapping,
    sink: Sink,
    *,
    speed: float | None = None,
    batch_size: int = DEFAULT_BATCH,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> ReplaySummary:
    """Stream ``path`` (CSV or Parquet) through ``mapping`` into ``sink``; summarise the run.

    ``speed`` None replays as fast as possible, 1.0 at the original pace, 10.0 ten times faster.
    """
    _check(mapping, speed, batch_size)
    parser = RowParser(mapping, f"{path.name}#{file_digest(path)[:16]}")
    run = _Run(sink, batch_size)
    pacer = Pacer(speed, clock) if speed is not None else None
    reader = _read_parquet if _is_parquet(path) else _read_csv
    for columns in _until_damaged(reader(path, mapping, run), run):
        names = list(columns)
        for i in range(len(columns[names[0]])):
            parsed = parser.parse(run.rows + 1, {name: columns[name][i] for name in names})
            if pacer is not None and parsed.time is not None:
                _wait(pacer, parsed.time, run, sleep)
            run.add(parsed)
    run.flush()
    return run.summary(path.name)


def _until_damaged(
    batches: Iterator[dict[str, list[Any]]], run: _Run
) -> Iterator[dict[str, list[Any]]]:
    """The batches up to a damaged part of the file, noting in the run where reading stopped.

    What was read is still sent: a file damaged midway loses only what cannot be read, and the
    summary says so. Only reading is guarded here; errors of the sink propagate.
    """
    while True:
        try:
            columns = next(batches)
        except StopIteration:
            return
        except (pa.ArrowException, OSError) as exc:
            run.stopped = f"reading stopped after row {run.rows}: {exc}"
            return
        yield columns


def _wait(pacer: Pacer, event_us: int, run: _Run, sleep: Callable[[float], None]) -> None:
    """Hold the row until it is due, sending what is already due first."""
    # Waits shorter than this are gathered into one: at high speed, a request per row would
    # only meet the server's rate limit. Points then arrive at most this much early.
    if pacer.delay(event_us) < MIN_WAIT:
        return
    run.flush()
    # Measured again after sending, so the time the sink took is not slept on top of it.
    delay = pacer.delay(event_us)
    if delay > 0:
        sleep(delay)


def file_digest(path: Path) -> str:
    """The sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check(mapping: ReplayMapping, speed: float | None, batch_size: int) -> None:
    if mapping.twin is None and mapping.id is None:
        raise InvalidInput.single(
            "twin", "required", "the mapping names no twin and no id column; give a twin"
        )
    if speed is not None and not (math.isfinite(speed) and speed > 0):
        raise InvalidInput.single("speed", "range", "speed is a positive factor (1 = original)")
    if not 1 <= batch_size <= MAX_BATCH:
        raise InvalidInput.single(
            "batch_size", "range", f"a batch holds 1 to {MAX_BATCH:,} points", batch_size
        )


@dataclass
class _Run:
    """The state of one replay: the pending batch and the running totals."""

    sink: Sink
    batch_size: int
    rows: int = 0
    points: int = 0
    batches: int = 0
    missing: int = 0
    malformed: int = 0
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("accepted", "duplicates", "late", "quarantined"), 0)
    )
    errors: list[dict[str, Any]] = field(default_factory=list)
    stopped: str | None = None
    pending: list[dict[str, Any]] = field(default_factory=list)
    origins: list[tuple[int, str]] = field(default_factory=list)

    def add(self, parsed: ParsedRow) -> None:
        """Queue a row's points; send batches as they fill up."""
        self.rows += 1
        self.missing += parsed.missing
        self.pending.extend(parsed.points)
        self.origins.extend((self.rows, column) for column in parsed.columns)
        while len(self.pending) >= self.batch_size:
            self._send()

    def flush(self) -> None:
        """Send every pending point."""
        while self.pending:
            self._send()

    def _send(self) -> None:
        """Send one batch (at most ``batch_size`` points), adding the answer to the totals."""
        size = self.batch_size
        batch, self.pending = self.pending[:size], self.pending[size:]
        origins, self.origins = self.origins[:size], self.origins[size:]
        report = self.sink(batch)
        self.points += len(batch)
        self.batches += 1
        for key in self.counts:
            self.counts[key] += int(report.get(key, 0))
        for error in report.get("errors", []):
            index = error.get("index")
            where: dict[str, Any] = {}
            if isinstance(index, int) and 0 <= index < len(origins):
                row, column = origins[index]
                where = {"row": row, "column": column}
            self.note({**where, **{k: v for k, v in error.items() if k != "index"}})

    def note(self, error: dict[str, Any]) -> None:
        """Keep the first errors for the summary."""
        if len(self.errors) < _MAX_ERRORS:
            self.errors.append(error)

    def bad_line(self, row: Any) -> str:
        """pyarrow's handler of a CSV line that does not split into the header's columns."""
        self.malformed += 1
        self.note(
            {
                "line": row.number,
                "field": "row",
                "rule": "csvColumns",
                "message": f"expected {row.expected_columns} columns, got {row.actual_columns}",
                "text": str(row.text)[:200],
            }
        )
        return "skip"

    def summary(self, file: str) -> ReplaySummary:
        """The totals as a summary."""
        return ReplaySummary(
            file=file,
            rows=self.rows,
            points=self.points,
            batches=self.batches,
            missing=self.missing,
            malformed=self.malformed,
            errors=tuple(self.errors),
            stopped=self.stopped,
            **self.counts,
        )


def _is_parquet(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) == _PARQUET_MAGIC


def _require_columns(path: Path, available: list[str], wanted: list[str]) -> None:
    absent = [c for c in wanted if c not in available]
    if absent:
        raise InvalidInput.single(
            "mapping.columns",
            "columnExists",
            f"{path.name} has no column {absent[0]!r} (it has {', '.join(available)[:300]})",
            absent[0],
        )


def _read_csv(path: Path, mapping: ReplayMapping, run: _Run) -> Iterator[dict[str, list[Any]]]:
    """Column lists of text cells, block by block."""
    wanted = mapping.columns()
    parse = pa_csv.ParseOptions(delimiter=mapping.delimiter, invalid_row_handler=run.bad_line)
    try:
        # The header probe skips bad lines silently: the real read below reports them.
        probe = pa_csv.ParseOptions(delimiter=mapping.delimiter, invalid_row_handler=_skip)
        header = pa_csv.open_csv(path, parse_options=probe)
        available = list(header.schema.names)
        header.close()
    except pa.ArrowInvalid as exc:
        raise InvalidInput.single(
            "file", "csv", f"{path.name} is not a readable CSV: {exc}"
        ) from exc
    _require_columns(path, available, wanted)
    # Cells stay bytes: the mapping, not type inference, decides what a cell is, and a
    # stray byte that is not UTF-8 becomes a quarantined value instead of a crash.
    convert = pa_csv.ConvertOptions(
        column_types=dict.fromkeys(wanted, pa.binary()), include_columns=wanted
    )
    # One thread keeps rows in file order, so row numbers (and message ids) are stable.
    read = pa_csv.ReadOptions(use_threads=False)
    with pa_csv.open_csv(
        path, read_options=read, parse_options=parse, convert_options=convert
    ) as reader:
        for batch in reader:
            yield {
                name: [
                    None if cell is None else cell.decode("utf-8", errors="replace")
                    for cell in batch.column(name).to_pylist()
                ]
                for name in wanted
            }


def _skip(row: Any) -> str:
    return "skip"


def _read_parquet(path: Path, mapping: ReplayMapping, run: _Run) -> Iterator[dict[str, list[Any]]]:
    """Column lists of Python values, batch by batch."""
    wanted = mapping.columns()
    try:
        parquet = pq.ParquetFile(path)
    except pa.ArrowInvalid as exc:
        raise InvalidInput.single(
            "file", "parquet", f"{path.name} is not a readable Parquet file: {exc}"
        ) from exc
    with parquet:
        _require_columns(path, list(parquet.schema_arrow.names), wanted)
        # Row group by row group, so damage in one loses no rows of the groups before it.
        for group in range(parquet.num_row_groups):
            for batch in parquet.iter_batches(
                batch_size=_READ_ROWS, row_groups=[group], columns=wanted
            ):
                yield {name: _values(batch.column(name)) for name in wanted}


def _values(array: Any) -> list[Any]:
    """Python values of an Arrow array; timestamps at microseconds (Python's precision)."""
    if pa.types.is_timestamp(array.type) and array.type.unit == "ns":
        array = array.cast(pa.timestamp("us", tz=array.type.tz), safe=False)
    values: list[Any] = array.to_pylist()
    return values
