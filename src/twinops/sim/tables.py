"""Result tables (pyarrow, long format) built from NumPy arrays, in a fixed row order."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
TIME = pa.timestamp("us", tz="UTC")


def labels(names: Sequence[str], index: NDArray[np.integer]) -> pa.DictionaryArray:
    """A dictionary-encoded string column: ``names[index[i]]`` per row."""
    return pa.DictionaryArray.from_arrays(
        pa.array(np.asarray(index, dtype=np.int32)), pa.array(list(names), type=pa.string())
    )


def times(values: NDArray[np.int64]) -> pa.Array:
    """A UTC timestamp column from epoch microseconds."""
    return pa.array(np.asarray(values, dtype=np.int64), type=pa.int64()).cast(TIME)


def series_table(
    series: Mapping[str, FloatArray],
    record_times: NDArray[np.int64],
    twins: Sequence[str],
    twin_index: NDArray[np.intp],
    point_index: NDArray[np.intp] | None = None,
    point_column: str = "point",
) -> pa.Table:
    """Rows by output, then time, then member: [point,] twin, time, output, value.

    ``series`` maps each output to an array ``(records, n)`` over the members.
    """
    outputs = list(series)
    records, n = next(iter(series.values())).shape if series else (0, 0)
    per_output = records * n
    columns: dict[str, pa.Array] = {}
    if point_index is not None:
        columns[point_column] = pa.array(np.tile(np.tile(point_index, records), len(outputs)))
    columns["twin"] = labels(twins, np.tile(np.tile(twin_index, records), len(outputs)))
    columns["time"] = times(np.tile(np.repeat(record_times, n), len(outputs)))
    columns["output"] = labels(outputs, np.repeat(np.arange(len(outputs)), per_output))
    values = [np.asarray(series[name], dtype=np.float64).reshape(-1) for name in outputs]
    columns["value"] = pa.array(np.concatenate(values) if values else np.empty(0))
    return pa.table(columns)


def member_table(
    columns: Mapping[str, Mapping[str, FloatArray]],
    twins: Sequence[str],
    twin_index: NDArray[np.intp],
    point_index: NDArray[np.intp],
    point_column: str,
    name_column: str,
) -> pa.Table:
    """Rows by name, then member: point, twin, name, then one column per entry of ``columns``
    (each maps the names to arrays ``(n,)`` over the members)."""
    names = list(next(iter(columns.values()))) if columns else []
    n = len(twin_index)
    table: dict[str, pa.Array] = {
        point_column: pa.array(np.tile(point_index, len(names))),
        "twin": labels(twins, np.tile(twin_index, len(names))),
        name_column: labels(names, np.repeat(np.arange(len(names)), n)),
    }
    for column, by_name in columns.items():
        parts = [
            np.broadcast_to(np.asarray(by_name[name], dtype=np.float64), (n,)) for name in names
        ]
        table[column] = pa.array(np.concatenate(parts) if parts else np.empty(0))
    return pa.table(table)
