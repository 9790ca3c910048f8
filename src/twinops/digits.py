"""Telling a text of decimal digits, as ``int()`` reads them, from any other text."""

from __future__ import annotations


def is_ascii_integer(text: str) -> bool:
    """True for a non-empty run of the digits 0-9 (``str.isdigit`` also takes '²', which
    ``int()`` refuses)."""
    return text.isascii() and text.isdigit()
