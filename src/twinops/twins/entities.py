"""Twin-graph entities: small frozen values, no I/O."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

TWIN_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")


@dataclass(frozen=True)
class Twin:
    """A twin instance: its model, property/component values and per-property metadata."""

    tenant: str
    twin_id: str
    model: str
    etag: str
    contents: Mapping[str, Any]
    metadata: Mapping[str, Any]
    created_at: int
    updated_at: int


@dataclass(frozen=True)
class Relationship:
    """A directed, named edge from one twin to another, with its own properties."""

    tenant: str
    source_id: str
    relationship_id: str
    name: str
    target_id: str
    properties: Mapping[str, Any]
    etag: str
    created_at: int
    updated_at: int


@dataclass(frozen=True)
class ExternalId:
    """A twin's identity in a source system (historian tag, device id, ...)."""

    tenant: str
    source_system: str
    source_id: str
    twin_id: str
    created_at: int


class EventType(StrEnum):
    """What happened, in the past tense."""

    MODEL_UPLOADED = "ModelUploaded"
    MODEL_DECOMMISSIONED = "ModelDecommissioned"
    MODEL_DELETED = "ModelDeleted"
    TWIN_CREATED = "TwinCreated"
    TWIN_REPLACED = "TwinReplaced"
    TWIN_UPDATED = "TwinUpdated"
    TWIN_DELETED = "TwinDeleted"
    RELATIONSHIP_CREATED = "RelationshipCreated"
    RELATIONSHIP_REPLACED = "RelationshipReplaced"
    RELATIONSHIP_UPDATED = "RelationshipUpdated"
    RELATIONSHIP_DELETED = "RelationshipDeleted"
    EXTERNAL_ID_MAPPED = "ExternalIdMapped"
    EXTERNAL_ID_UNMAPPED = "ExternalIdUnmapped"
    TELEMETRY_APPLIED = "TelemetryApplied"
    DRIFT_DETECTED = "DriftDetected"


@dataclass(frozen=True)
class NewEvent:
    """An event about to be appended; the store assigns its sequence number."""

    tenant: str
    type: EventType
    subject: str
    occurred_at: int
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Event:
    """A stored event: a totally ordered (per store) sequence number plus what happened."""

    seq: int
    tenant: str
    type: str
    subject: str
    occurred_at: int
    data: Mapping[str, Any]
