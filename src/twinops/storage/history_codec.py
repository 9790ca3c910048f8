"""Columnar history payloads: many points in one row, as NumPy arrays behind a JSON header.

History is stored log-structured (``sql_history``): each applied batch becomes one segment
row holding all its points, and compaction rewrites segments into per-field blocks. Both are
:class:`Columns` encoded here. A payload is ``MAGIC``, the header's length (4 bytes, little
endian), the header (JSON: point count, the source names, the streams of a segment, and the
points whose value is not a number) and then the arrays, each ``n`` items long, in the order
of ``_ARRAYS``. Decoding is zero-copy: the arrays are views of the payload.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

MAGIC = b"TOH1"
# (attribute, dtype) in payload order; little-endian whatever the machine.
_ARRAYS: tuple[tuple[str, str], ...] = (
    ("times", "<i8"),
    ("nums", "<f8"),
    ("ingest", "<i8"),
    ("flags", "<u1"),
    ("source_idx", "<u2"),
    ("stream_idx", "<u4"),
)
_NUM_LIMIT = 2**53


@dataclass(frozen=True, eq=False)
class Columns:
    """Points as parallel arrays; a value that is not a number sits in ``others``.

    ``nums`` holds NaN where the value is in ``others`` (a NaN is never an accepted value).
    ``stream_idx`` indexes ``streams`` (segments); blocks hold one stream and leave it empty.
    """

    times: np.ndarray
    nums: np.ndarray
    ingest: np.ndarray
    flags: np.ndarray
    source_idx: np.ndarray
    sources: tuple[str, ...]
    others: dict[int, Any] = field(default_factory=dict)
    stream_idx: np.ndarray | None = None
    streams: tuple[tuple[str, str], ...] = ()

    def __len__(self) -> int:
        return int(self.times.shape[0])

    def value(self, i: int) -> Any:
        """The value of point ``i`` as the API shows it (whole numbers as ints)."""
        other = self.others.get(i, _ABSENT)
        if other is not _ABSENT:
            return other
        return joined_number(float(self.nums[i]))

    def values(self, stop: int | None = None) -> list[Any]:
        """The values of the first ``stop`` points (all by default), as :meth:`value` shows."""
        values: list[Any] = [
            int(x) if x.is_integer() and abs(x) < _NUM_LIMIT else x
            for x in self.nums[:stop].tolist()
        ]
        for pos, other in self.others.items():
            if pos < len(values):
                values[pos] = other
        return values

    def source(self, i: int) -> str:
        """The source of point ``i``."""
        return self.sources[int(self.source_idx[i])]

    def take(self, positions: np.ndarray) -> Columns:
        """The points at ``positions`` (in that order), without stream columns."""
        others: dict[int, Any] = {}
        if self.others:
            for new, old in enumerate(positions.tolist()):
                if old in self.others:
                    others[new] = self.others[old]
        return Columns(
            times=self.times[positions],
            nums=self.nums[positions],
            ingest=self.ingest[positions],
            flags=self.flags[positions],
            source_idx=self.source_idx[positions],
            sources=self.sources,
            others=others,
        )


_ABSENT = object()


def joined_number(number: float) -> int | float:
    """A stored number as the API shows it: whole numbers as ints (within float precision)."""
    return int(number) if number.is_integer() and abs(number) < _NUM_LIMIT else number


# Exactly these types (a bool is an int subclass, and is not stored as a number).
_PLAIN_NUMBERS = frozenset({int, float})


def is_number(value: Any) -> bool:
    """True for values stored in the numeric column (not bools)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def build(
    times: Sequence[int],
    values: Sequence[Any],
    ingest: Sequence[int] | int,
    flags: Sequence[int],
    sources: Sequence[str],
    streams: Sequence[tuple[str, str]] | None = None,
) -> Columns:
    """Columns from per-point Python values (``sources`` and ``streams`` per point)."""
    n = len(times)
    others: dict[int, Any] = {}
    if set(map(type, values)) <= _PLAIN_NUMBERS:  # live telemetry: one conversion for all
        nums = np.array(values, dtype=np.float64)
    else:
        nums = np.empty(n, dtype=np.float64)
        for i, value in enumerate(values):
            if is_number(value):
                nums[i] = value
            else:
                nums[i] = np.nan
                others[i] = value
    source_names, source_idx = _dictionary(sources)
    stream_names: tuple[tuple[str, str], ...] = ()
    stream_idx = None
    if streams is not None:
        stream_names, codes = _dictionary(streams)
        stream_idx = np.asarray(codes, dtype=np.uint32)
    return Columns(
        times=np.asarray(times, dtype=np.int64),
        nums=nums,
        ingest=np.full(n, ingest, dtype=np.int64)
        if isinstance(ingest, int)
        else np.asarray(ingest, dtype=np.int64),
        flags=np.asarray(flags, dtype=np.uint8),
        source_idx=np.asarray(source_idx, dtype=np.uint16),
        sources=source_names,
        others=others,
        stream_idx=stream_idx,
        streams=stream_names,
    )


def _dictionary(items: Sequence[Any]) -> tuple[tuple[Any, ...], list[int]]:
    codes: dict[Any, int] = {}
    indexes = [codes.setdefault(item, len(codes)) for item in items]
    return tuple(codes), indexes


def concat(parts: Sequence[Columns]) -> Columns:
    """One Columns of several (stream columns kept when every part has them)."""
    sources: dict[str, int] = {}
    streams: dict[tuple[str, str], int] = {}
    with_streams = all(p.stream_idx is not None for p in parts)
    source_idx, stream_idx = [], []
    others: dict[int, Any] = {}
    offset = 0
    for part in parts:
        remap = np.array([sources.setdefault(s, len(sources)) for s in part.sources] or [0])
        source_idx.append(remap[part.source_idx].astype(np.uint16))
        if with_streams and part.stream_idx is not None:
            codes = np.array([streams.setdefault(s, len(streams)) for s in part.streams] or [0])
            stream_idx.append(codes[part.stream_idx].astype(np.uint32))
        for pos, value in part.others.items():
            others[pos + offset] = value
        offset += len(part)
    return Columns(
        times=np.concatenate([p.times for p in parts]),
        nums=np.concatenate([p.nums for p in parts]),
        ingest=np.concatenate([p.ingest for p in parts]),
        flags=np.concatenate([p.flags for p in parts]),
        source_idx=np.concatenate(source_idx),
        sources=tuple(sources),
        others=others,
        stream_idx=np.concatenate(stream_idx) if with_streams else None,
        streams=tuple(streams) if with_streams else (),
    )


def encode(columns: Columns) -> bytes:
    """The payload of ``columns``."""
    header: dict[str, Any] = {"n": len(columns), "sources": list(columns.sources)}
    if columns.stream_idx is not None:
        header["streams"] = columns.streams  # tuples: JSON arrays to orjson and json alike
    if columns.others:
        header["others"] = [[pos, value] for pos, value in columns.others.items()]
    try:
        head = orjson.dumps(header)
    except TypeError:  # an int beyond 64 bits in a JSON value: orjson refuses it
        head = json.dumps(header, separators=(",", ":")).encode()
    parts = [MAGIC, len(head).to_bytes(4, "little"), head]
    for name, dtype in _ARRAYS:
        array = getattr(columns, name)
        if array is None:
            continue
        parts.append(np.ascontiguousarray(array, dtype=dtype).tobytes())
    return b"".join(parts)


def encode_runs(columns: Columns, runs: Sequence[tuple[int, int]]) -> list[bytes]:
    """The payloads of ``columns[start:stop]`` for each run, without stream columns.

    Compaction writes thousands of blocks at once: the arrays are serialised once and each
    payload is cut from them, with the header written by hand when it holds no values.
    """
    arrays = [
        np.ascontiguousarray(getattr(columns, name), dtype=dtype).tobytes()
        for name, dtype in _ARRAYS
        if name != "stream_idx"
    ]
    sizes = [np.dtype(dtype).itemsize for name, dtype in _ARRAYS if name != "stream_idx"]
    sources = orjson.dumps(list(columns.sources))
    others = sorted(columns.others)
    payloads = []
    for start, stop in runs:
        first_other = bisect.bisect_left(others, start)
        if first_other < len(others) and others[first_other] < stop:
            payloads.append(encode(columns.take(np.arange(start, stop))))
            continue
        head = b'{"n":%d,"sources":%s}' % (stop - start, sources)
        parts = [MAGIC, len(head).to_bytes(4, "little"), head]
        parts += [
            data[start * size : stop * size] for data, size in zip(arrays, sizes, strict=True)
        ]
        payloads.append(b"".join(parts))
    return payloads


def decode(payload: bytes) -> Columns:
    """The Columns of a payload (arrays are read-only views of it)."""
    if payload[:4] != MAGIC:
        raise ValueError("not a twinops history payload")
    size = int.from_bytes(payload[4:8], "little")
    try:
        header = orjson.loads(payload[8 : 8 + size])
    except orjson.JSONDecodeError:  # an int beyond 64 bits in a JSON value
        header = json.loads(payload[8 : 8 + size])
    n = int(header["n"])
    offset = 8 + size
    arrays: dict[str, np.ndarray] = {}
    for name, dtype in _ARRAYS:
        if name == "stream_idx" and "streams" not in header:
            continue
        item = np.dtype(dtype)
        arrays[name] = np.frombuffer(payload, dtype=item, count=n, offset=offset)
        offset += n * item.itemsize
    streams = header.get("streams")
    return Columns(
        times=arrays["times"],
        nums=arrays["nums"],
        ingest=arrays["ingest"],
        flags=arrays["flags"],
        source_idx=arrays["source_idx"],
        sources=tuple(header["sources"]),
        others={int(pos): value for pos, value in header.get("others", ())},
        stream_idx=arrays.get("stream_idx"),
        streams=tuple((s[0], s[1]) for s in streams) if streams is not None else (),
    )
