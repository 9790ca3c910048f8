"""Decoding request bodies into raw points: a JSON array or object, or NDJSON lines."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from twinops.errors import MalformedInput, PayloadTooLarge


@dataclass(frozen=True)
class Undecodable:
    """A line that is not JSON, kept so it can be quarantined with its text."""

    index: int
    text: str
    reason: str


def decode_points(
    body: bytes, content_type: str | None, *, max_points: int
) -> tuple[list[Any], list[Undecodable]]:
    """The points in a body; NDJSON lines that fail to parse come back separately."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind in {"application/x-ndjson", "application/ndjson", "application/jsonl"}:
        return _ndjson(body, max_points)
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedInput.single("body", "json", f"not valid JSON: {exc}") from exc
    points = decoded if isinstance(decoded, list) else [decoded]
    _check_count(len(points), max_points)
    return points, []


def _ndjson(body: bytes, max_points: int) -> tuple[list[Any], list[Undecodable]]:
    points: list[Any] = []
    bad: list[Undecodable] = []
    lines = [line for line in body.splitlines() if line.strip()]
    _check_count(len(lines), max_points)
    for index, line in enumerate(lines):
        try:
            points.append(orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            text = line[:2000].decode("utf-8", errors="replace")
            bad.append(Undecodable(index, text, f"line {index + 1} is not JSON: {exc}"))
            points.append(None)
    return points, bad


def _check_count(count: int, max_points: int) -> None:
    if count > max_points:
        raise PayloadTooLarge(f"{count} points in one batch; the limit is {max_points}")
