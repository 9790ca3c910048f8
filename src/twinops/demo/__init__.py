"""The pump-fleet demo: load the example models and a generated fleet into a platform."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from types import ModuleType
from typing import Any

from twinops.errors import TwinOpsError
from twinops.models.dtdl import load_paths
from twinops.platform import Platform

_REPO_EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "pump_fleet"


def examples_dir() -> Path:
    """The pump-fleet example folder (``TWINOPS_EXAMPLES_DIR`` or the repository's)."""
    configured = os.environ.get("TWINOPS_EXAMPLES_DIR")
    folder = Path(configured) if configured else _REPO_EXAMPLES
    if not (folder / "models").is_dir():
        raise TwinOpsError(f"the pump-fleet example is not at {folder}; set TWINOPS_EXAMPLES_DIR")
    return folder


def fleet_module() -> ModuleType:
    """The example's fleet generator, loaded from its file."""
    path = examples_dir() / "fleet.py"
    spec = importlib.util.spec_from_file_location("twinops_pump_fleet", path)
    if spec is None or spec.loader is None:
        raise TwinOpsError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_demo(
    platform: Platform, *, stations: int = 3, pumps_per_station: int = 4, seed: int = 7
) -> dict[str, Any]:
    """Upload the example models and, if the tenant has no twins yet, a generated fleet."""
    tenant = platform.settings.default_tenant
    upload = platform.models.upload(tenant, load_paths([examples_dir() / "models"]))
    loaded = {"models": len(upload.created) + len(upload.unchanged), "twins": 0, "relationships": 0}
    if platform.twins.list_twins(tenant, limit=1).items:
        return loaded
    fleet = fleet_module().generate_fleet(stations, pumps_per_station, seed=seed)
    result = platform.twins.import_graph(tenant, fleet.twins, fleet.relationships)
    loaded.update(twins=result.twins, relationships=result.relationships)
    return loaded


def describe(loaded: dict[str, Any]) -> str:
    """A one-line summary for the console."""
    return json.dumps(loaded)
