"""Deterministic encodings: canonical JSON, sha256, and Parquet that is the same bytes twice."""

from __future__ import annotations

import hashlib
import io
import json
import math
from typing import Any

from twinops.errors import InvalidInput

# Fixed writer options: the same table gives the same bytes with the same pyarrow version.
# (The footer names the writer's version, so a pyarrow upgrade changes the hash; the
# package versions stored with every run say which one wrote it.)
_PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": True,
    "write_statistics": True,
    "version": "2.6",
    "data_page_version": "1.0",
    "row_group_size": 1 << 20,
    "store_schema": True,
}


def canonical_json(value: Any, what: str = "spec") -> bytes:
    """UTF-8 JSON with sorted keys and no spaces; NaN and infinities are refused."""
    try:
        text = json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except ValueError as exc:
        raise InvalidInput.single(
            what, "finite", "numbers must be finite (no NaN or Infinity)"
        ) from exc
    except TypeError as exc:
        raise InvalidInput.single(what, "json", f"not JSON-serializable: {exc}") from exc
    return text.encode()


def sha256_hex(data: bytes) -> str:
    """The sha256 of ``data`` as 64 hex digits."""
    return hashlib.sha256(data).hexdigest()


def table_to_parquet(table: Any) -> bytes:
    """A pyarrow table as Parquet bytes, deterministically (same table, same bytes)."""
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(table, sink, **_PARQUET_OPTIONS)
    return sink.getvalue()


def finite_or_none(value: Any) -> float | None:
    """A float when ``value`` is a finite number, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None
