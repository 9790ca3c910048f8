"""The wire form of twins and relationships, as Azure Digital Twins users know it."""

from __future__ import annotations

from typing import Any

from twinops.timeutil import format_rfc3339
from twinops.twins.entities import Relationship, Twin


def twin_to_json(twin: Twin) -> dict[str, Any]:
    """A twin as ``{"$dtId", "$etag", "$metadata": {"$model", ...}, <properties>...}``."""
    metadata: dict[str, Any] = {
        "$model": twin.model,
        "$lastUpdateTime": format_rfc3339(twin.updated_at),
    }
    for name, meta in twin.metadata.items():
        metadata[name] = _property_metadata(meta)
    body: dict[str, Any] = {"$dtId": twin.twin_id, "$etag": twin.etag}
    body.update(twin.contents)
    body["$metadata"] = metadata
    return body


def _property_metadata(meta: Any) -> Any:
    if isinstance(meta, dict) and "lastUpdateTime" in meta:
        return {**meta, "lastUpdateTime": format_rfc3339(int(meta["lastUpdateTime"]))}
    return meta


def relationship_to_json(rel: Relationship) -> dict[str, Any]:
    """A relationship as ``{"$relationshipId", "$sourceId", "$targetId", ...}``."""
    body: dict[str, Any] = {
        "$relationshipId": rel.relationship_id,
        "$etag": rel.etag,
        "$sourceId": rel.source_id,
        "$relationshipName": rel.name,
        "$targetId": rel.target_id,
    }
    body.update(rel.properties)
    return body
