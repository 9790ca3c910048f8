"""Model-registry entities: stored DTDL interfaces and what changed between versions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from twinops.digits import is_ascii_integer
from twinops.errors import InvalidInput


@dataclass(frozen=True)
class StoredModel:
    """One interface version as stored: immutable once written, except decommissioning."""

    tenant: str
    dtmi: str
    base_dtmi: str
    version: int
    document: Mapping[str, Any]
    content_hash: str
    uploaded_at: int
    decommissioned: bool = False


@dataclass(frozen=True)
class ModelChange:
    """One difference between two versions of an interface."""

    element: str
    change: str  # added | removed | changed
    detail: str
    breaking: bool

    def to_json(self) -> dict[str, Any]:
        """The change as reported by the API."""
        return {
            "element": self.element,
            "change": self.change,
            "detail": self.detail,
            "breaking": self.breaking,
        }


@dataclass(frozen=True)
class CompatibilityReport:
    """How a new version differs from the newest earlier one, and whether twins survive it."""

    dtmi: str
    previous: str | None
    changes: tuple[ModelChange, ...]

    @property
    def backward_compatible(self) -> bool:
        """True when every twin valid under ``previous`` stays valid under ``dtmi``."""
        return not any(c.breaking for c in self.changes)

    def to_json(self) -> dict[str, Any]:
        """The report as returned by the upload endpoint."""
        return {
            "dtmi": self.dtmi,
            "previous": self.previous,
            "backwardCompatible": self.backward_compatible,
            "changes": [c.to_json() for c in self.changes],
        }


@dataclass(frozen=True)
class UploadResult:
    """What an upload stored, what was already there unchanged, and version comparisons."""

    created: tuple[StoredModel, ...]
    unchanged: tuple[str, ...]
    compatibility: tuple[CompatibilityReport, ...]


def split_dtmi(dtmi: str) -> tuple[str, int]:
    """``dtmi:a:b;3`` as ``("dtmi:a:b", 3)``; a DTMI without a version is an error here."""
    base, sep, version = dtmi.rpartition(";")
    if not sep or not is_ascii_integer(version):
        raise InvalidInput.single(
            "@id", "dtmiVersion", "a stored model needs a versioned DTMI", dtmi
        )
    return base, int(version)
