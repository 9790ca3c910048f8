"""Digital Twin Model Identifiers: syntax, parts, and the per-version rules for user DTMIs."""

from __future__ import annotations

import re
from dataclasses import dataclass

_LABEL = r"[A-Za-z_](?:[A-Za-z0-9_]*[A-Za-z0-9])?"
_GENERAL = re.compile(
    rf"^dtmi:(?P<path>{_LABEL}(?::{_LABEL})*)"
    r"(?:;(?P<major>[1-9][0-9]{0,8})(?:\.(?P<minor>[1-9][0-9]{0,5}))?)?"
    rf"(?P<fragment>#(?:{_LABEL})?)?$"
)
_USER_SEGMENT = r"[A-Za-z](?:[A-Za-z0-9_]*[A-Za-z0-9])?"
# DTDL v2 requires a plain major version; v3 makes it optional and allows a minor version.
_USER_V2 = re.compile(rf"^dtmi:{_USER_SEGMENT}(?::{_USER_SEGMENT})*;[1-9][0-9]{{0,8}}$")
_USER_V3 = re.compile(
    rf"^dtmi:{_USER_SEGMENT}(?::{_USER_SEGMENT})*(?:;[1-9][0-9]{{0,8}}(?:\.[1-9][0-9]{{0,5}})?)?$"
)
RESERVED_PREFIXES = ("dtmi:dtdl:", "dtmi:standard:")


@dataclass(frozen=True)
class Dtmi:
    """A parsed DTMI (general syntax, system and user forms, with optional fragment)."""

    text: str
    labels: tuple[str, ...]
    major_version: int
    minor_version: int
    fragment: str

    @property
    def versionless(self) -> str:
        """The identifier without its version (the fragment is kept)."""
        return "dtmi:" + ":".join(self.labels) + self.fragment

    @property
    def complete_version(self) -> float:
        """Major version plus the minor version as millionths."""
        return self.major_version + self.minor_version / 1_000_000

    @property
    def is_reserved(self) -> bool:
        """True for system DTMIs: a label or fragment that starts with an underscore."""
        return any(label.startswith("_") for label in self.labels) or self.fragment.startswith("#_")


def parse_dtmi(text: object) -> Dtmi | None:
    """Parse general DTMI syntax; None when ``text`` is not a DTMI."""
    if not isinstance(text, str):
        return None
    match = _GENERAL.match(text)
    if match is None:
        return None
    return Dtmi(
        text=text,
        labels=tuple(match["path"].split(":")),
        major_version=int(match["major"] or 0),
        minor_version=int(match["minor"] or 0),
        fragment=match["fragment"] or "",
    )


def is_user_dtmi(text: object, version: int) -> bool:
    """True when ``text`` is a DTMI a model of the given DTDL version may use."""
    if not isinstance(text, str):
        return False
    pattern = _USER_V2 if version <= 2 else _USER_V3
    return pattern.match(text) is not None


def is_reserved_id(text: str) -> bool:
    """True when an ``@id`` uses a prefix reserved for the language itself."""
    return text.startswith(RESERVED_PREFIXES)


def versionless(text: str) -> str:
    """The part of a DTMI left of the semicolon."""
    return text.split(";", 1)[0]
