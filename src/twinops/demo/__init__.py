"""The pump-fleet demo: load the example models and a generated fleet into a platform."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import sys
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from twinops.errors import TwinOpsError
from twinops.models.dtdl import load_paths
from twinops.platform import Platform
from twinops.security.entities import Role

log = logging.getLogger("twinops.demo")
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
    return _load(examples_dir() / "fleet.py", "twinops_pump_fleet")


def _load(path: Path, name: str) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise TwinOpsError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    # Registered before running: dataclasses in the module look themselves up there.
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_demo(
    platform: Platform,
    *,
    stations: int = 3,
    pumps_per_station: int = 4,
    seed: int = 7,
    register: bool = True,
) -> dict[str, Any]:
    """Upload the example models and, if the tenant has no twins yet, a generated fleet;
    with ``register``, the example pump model as the registry's ``candidate``."""
    tenant = platform.settings.default_tenant
    upload = platform.models.upload(tenant, load_paths([examples_dir() / "models"]))
    loaded: dict[str, Any] = {
        "models": len(upload.created) + len(upload.unchanged),
        "twins": 0,
        "relationships": 0,
    }
    loaded["registered"] = register_pump_model(platform) if register else None
    if platform.twins.list_twins(tenant, limit=1).items:
        return loaded
    fleet = fleet_module().generate_fleet(stations, pumps_per_station, seed=seed)
    result = platform.twins.import_graph(tenant, fleet.twins, fleet.relationships)
    loaded.update(twins=result.twins, relationships=result.relationships)
    return loaded


def register_pump_model(platform: Platform) -> int | None:
    """Register the example pump model version (``registry/pump.yaml``) as the ``candidate``
    when the registry has no ``pump`` yet; answer the version number, or None if it had."""
    import yaml

    tenant = platform.settings.default_tenant
    if any(m.name == "pump" for m in platform.registry.models(tenant)):
        return None
    body = yaml.safe_load((examples_dir() / "registry" / "pump.yaml").read_text())
    version = platform.registry.register(tenant, "pump", body, actor="demo")
    platform.registry.move_alias(
        tenant,
        "pump",
        "candidate",
        version.version,
        actor="demo",
        role=Role.MODELER,
        reason="the demo's nameplate model, not yet validated",
    )
    return version.version


def telemetry_module() -> ModuleType:
    """The example's telemetry generator, loaded from its file."""
    return _load(examples_dir() / "telemetry.py", "twinops_pump_telemetry")


class TelemetryFeeder(threading.Thread):
    """Keeps demo telemetry flowing: every few seconds, the last few seconds of every pump."""

    def __init__(self, platform: Platform, *, chunk_seconds: float = 5.0, seed: int = 7) -> None:
        super().__init__(name="twinops-demo-telemetry", daemon=True)
        self._platform = platform
        self._chunk = chunk_seconds
        self._fleet = fleet_module().generate_fleet(3, 4, seed=seed)
        self._generator = telemetry_module()
        self._halt = threading.Event()
        self.batches = 0

    def stop(self) -> None:
        """Stop after the current batch."""
        self._halt.set()

    def run(self) -> None:
        """Generate and ingest one chunk per period until stopped."""
        tenant = self._platform.settings.default_tenant
        while not self._halt.wait(self._chunk):
            end = time.time()
            run = self._generator.generate(
                self._fleet,
                end - self._chunk,
                self._chunk,
                seed=self.batches,
                faults=self._generator.FaultConfig.none(),
            )
            try:
                self._platform.ingest.ingest(tenant, run.points, source="demo")
            except Exception:  # the demo stream must not kill the server; log and go on
                log.exception("demo telemetry batch failed")
            self.batches += 1


def describe(loaded: dict[str, Any]) -> str:
    """A one-line summary for the console."""
    return json.dumps(loaded)
