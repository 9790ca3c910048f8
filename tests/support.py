"""Small DTDL models and bodies used across the tests, and a pump model put in production."""

from __future__ import annotations

from pathlib import Path
from typing import Any

REPO_EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "pump_fleet"
CTX = "dtmi:dtdl:context;3"
THING = "dtmi:test:Thing;1"
MACHINE = "dtmi:test:Machine;1"
PUMP = "dtmi:test:Pump;1"
ROOM = "dtmi:test:Room;1"
GEARBOX = "dtmi:test:Gearbox;1"


def interface(dtmi: str, *contents: dict[str, Any], extends: str | None = None) -> dict[str, Any]:
    """A DTDL v3 interface document."""
    doc: dict[str, Any] = {
        "@context": CTX,
        "@id": dtmi,
        "@type": "Interface",
        "contents": list(contents),
    }
    if extends:
        doc["extends"] = extends
    return doc


def prop(name: str, schema: Any, **extra: Any) -> dict[str, Any]:
    """A Property content."""
    return {"@type": "Property", "name": name, "schema": schema, **extra}


def sample_models() -> list[dict[str, Any]]:
    """Thing <- Machine <- Pump, Room (contains Machines, at most 3), Gearbox component."""
    status = {
        "@type": "Enum",
        "valueSchema": "string",
        "enumValues": [
            {"name": "running", "enumValue": "running"},
            {"name": "stopped", "enumValue": "stopped"},
        ],
    }
    settings = {
        "@type": "Object",
        "fields": [{"name": "speed", "schema": "double"}, {"name": "label", "schema": "string"}],
    }
    tags = {
        "@type": "Map",
        "mapKey": {"name": "key", "schema": "string"},
        "mapValue": {"name": "value", "schema": "string"},
    }
    return [
        # Deliberately out of dependency order: subtypes before their bases.
        interface(
            PUMP,
            prop("ratedFlow", "double"),
            prop("settings", settings),
            {"@type": "Component", "name": "gearbox", "schema": GEARBOX},
            {"@type": "Telemetry", "name": "flow", "schema": "double"},
            extends=MACHINE,
        ),
        interface(
            ROOM,
            prop("name", "string"),
            {
                "@type": "Relationship",
                "name": "contains",
                "target": MACHINE,
                "maxMultiplicity": 3,
                "properties": [{"@type": "Property", "name": "since", "schema": "date"}],
            },
            {"@type": "Relationship", "name": "near"},
        ),
        interface(MACHINE, prop("status", status), prop("tags", tags), extends=THING),
        interface(THING, prop("serial", "string"), prop("installed", "integer")),
        interface(GEARBOX, prop("ratio", "double")),
    ]


def pump(**values: Any) -> dict[str, Any]:
    """A pump twin body."""
    return {"$metadata": {"$model": PUMP}, **values}


def room(**values: Any) -> dict[str, Any]:
    """A room twin body."""
    return {"$metadata": {"$model": ROOM}, **values}


def promote_pump_model(platform: Any, parameters: dict[str, Any]) -> int:
    """Register ``pump`` (the library PumpModel with ``parameters``) and move ``production``
    to it; its validation evidence is put in directly (the evidence path is tested elsewhere).
    """
    from twinops.registry.entities import EvidenceKind, NewEvidence
    from twinops.security.entities import AuditEntry, Role

    tenant = platform.settings.default_tenant
    registry = platform.registry
    body = {
        "model": "twinops.sim.library.pump:PumpModel",
        "thresholds": {"flowRate": {"rmse": 5}},
        "parameters": parameters,
    }
    version = registry.register(tenant, "pump", body, actor="key:m")
    registry._store.add_evidence(
        tenant,
        "pump",
        version.version,
        NewEvidence(EvidenceKind.VALIDATION, "validation", "job-v", True, {}, []),
        1,
        "key:t",
        AuditEntry(tenant, "key:t", "EvidenceAttached", "pump", 1),
    )
    registry.move_alias(tenant, "pump", "production", version.version, actor="a", role=Role.ADMIN)
    return int(version.version)
