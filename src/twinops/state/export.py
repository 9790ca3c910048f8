"""Export a time range of a twin's fields as CSV or Parquet, streamed in bounded memory.

The layout is *long*: one row per stored point, ordered by event time (then by the order
the fields were asked for), with the same five columns in both formats:

- ``time``: the event time; RFC 3339 UTC text with microseconds in CSV
  (``2026-01-31T12:00:00.000000Z``), ``timestamp[us, tz=UTC]`` in Parquet;
- ``name``: the field (``component.field`` for a component's);
- ``value``: numbers, as float64 (empty / null for other values);
- ``value_json``: any other value (text, booleans, objects) as JSON text (empty / null
  for numbers);
- ``flags``: the marks the point carries, ``;``-separated (``veryLate``), empty when none.

Keeping numbers and other values apart gives every column one type, so a reader never has to
guess, and the two formats read back to the same table. Each field is read page by page
through :meth:`StateStore.history` and the fields are merged by time, so memory holds one page
per field and one chunk of output, however long the range; Parquet gets one row group per
chunk.
"""

from __future__ import annotations

import csv
import heapq
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from twinops.state.entities import flag_names
from twinops.state.store import StateStore
from twinops.timeutil import format_rfc3339

ExportFormat = Literal["csv", "parquet"]
MEDIA_TYPES: dict[str, str] = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet"}
COLUMNS = ("time", "name", "value", "value_json", "flags")
PARQUET_SCHEMA = pa.schema(
    [
        pa.field("time", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("name", pa.string(), nullable=False),
        pa.field("value", pa.float64()),
        pa.field("value_json", pa.string()),
        pa.field("flags", pa.string(), nullable=False),
    ]
)
PAGE_SIZE = 10_000


@dataclass(frozen=True)
class ExportRow:
    """One exported point."""

    time: int
    name: str
    value: Any
    flags: str = ""

    @property
    def number(self) -> float | None:
        """The value as float64 when it is a number."""
        value = self.value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        return None

    @property
    def json_text(self) -> str | None:
        """The value as JSON text when it is not a number."""
        if self.number is not None:
            return None
        return json.dumps(self.value, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class ExportRange:
    """What to export: fields of one twin over [start, end) (open ends when None)."""

    tenant: str
    twin_id: str
    fields: tuple[str, ...]
    start: int | None = None
    end: int | None = None


def rows(store: StateStore, what: ExportRange, page_size: int = PAGE_SIZE) -> Iterator[ExportRow]:
    """The points of every field in the range, merged by event time."""
    streams = [_field_rows(store, what, index, page_size) for index in range(len(what.fields))]
    for _, _, row in heapq.merge(*streams, key=lambda item: (item[0], item[1])):
        yield row


def _field_rows(
    store: StateStore, what: ExportRange, index: int, page_size: int
) -> Iterator[tuple[int, int, ExportRow]]:
    name = what.fields[index]
    after: int | None = None
    while True:
        page = store.history(
            what.tenant,
            what.twin_id,
            name,
            start=what.start,
            end=what.end,
            limit=page_size,
            after=after,
        )
        for sample in page.items:
            marks = ";".join(flag_names(sample.flags))
            yield sample.time, index, ExportRow(sample.time, name, sample.value, marks)
        if page.next is None or not page.items:
            return
        after = page.items[-1].time


def export_chunks(
    store: StateStore, what: ExportRange, fmt: ExportFormat, page_size: int = PAGE_SIZE
) -> Iterator[bytes]:
    """The export file's bytes, chunk by chunk, ready to stream."""
    points = rows(store, what, page_size)
    if fmt == "parquet":
        return parquet_chunks(points, page_size)
    return csv_chunks(points, page_size)


def _batches(items: Iterable[ExportRow], size: int) -> Iterator[list[ExportRow]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def csv_chunks(points: Iterable[ExportRow], chunk_rows: int = PAGE_SIZE) -> Iterator[bytes]:
    """CSV (header first, UTF-8, ``\\r\\n`` line ends as RFC 4180) in chunks of rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for batch in _batches(points, chunk_rows):
        for row in batch:
            number = row.number
            writer.writerow(
                (
                    format_rfc3339(row.time),
                    row.name,
                    "" if number is None else repr(number),
                    row.json_text or "",
                    row.flags,
                )
            )
        yield _take(buffer)
    yield _take(buffer)


def _take(buffer: io.StringIO) -> bytes:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text.encode("utf-8")


class _Drain(io.RawIOBase):
    """A write-only file whose bytes are taken out as they come, for streaming."""

    def __init__(self) -> None:
        super().__init__()
        self._parts: list[bytes] = []
        self._written = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._parts.append(chunk)
        self._written += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._written

    def take(self) -> bytes:
        """The bytes written since the last call."""
        out = b"".join(self._parts)
        self._parts = []
        return out


def parquet_chunks(points: Iterable[ExportRow], chunk_rows: int = PAGE_SIZE) -> Iterator[bytes]:
    """A Parquet file with one row group per chunk of rows, yielded as each is written."""
    drain = _Drain()
    writer = pq.ParquetWriter(drain, PARQUET_SCHEMA, compression="zstd")
    for batch in _batches(points, chunk_rows):
        writer.write_table(_table(batch))
        yield drain.take()
    # Not in a ``finally``: a file cut short by an error must not end in a valid footer.
    writer.close()
    yield drain.take()


def _table(batch: Sequence[ExportRow]) -> Any:
    return pa.Table.from_arrays(
        [
            pa.array([r.time for r in batch], type=pa.timestamp("us", tz="UTC")),
            pa.array([r.name for r in batch], type=pa.string()),
            pa.array([r.number for r in batch], type=pa.float64()),
            pa.array([r.json_text for r in batch], type=pa.string()),
            pa.array([r.flags for r in batch], type=pa.string()),
        ],
        schema=PARQUET_SCHEMA,
    )
