"""Opaque keyset cursors: the last key of a page, encoded so clients don't build them."""

from __future__ import annotations

import base64
import json

from twinops.errors import InvalidInput


def encode_cursor(*key: str) -> str:
    """An opaque cursor for the given key parts."""
    raw = json.dumps(list(key), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, parts: int) -> list[str]:
    """The key parts of a cursor made by :func:`encode_cursor`; a forged one is a 422."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput.single("cursor", "cursor", "not a cursor this server issued") from exc
    if not isinstance(key, list) or len(key) != parts or not all(isinstance(k, str) for k in key):
        raise InvalidInput.single("cursor", "cursor", "not a cursor this server issued")
    return key
