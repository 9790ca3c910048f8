"""The pump-fleet demo: the fleet loads, and telemetry keeps flowing into state."""

from __future__ import annotations

import time
from pathlib import Path

from twinops.demo import TelemetryFeeder, load_demo
from twinops.platform import Platform


def test_demo_loads_the_fleet_once_and_telemetry_flows(platform: Platform) -> None:
    tenant = platform.settings.default_tenant
    first = load_demo(platform)
    again = load_demo(platform)
    assert first["twins"] > 0 and first["relationships"] > 0
    assert again["twins"] == 0  # a restart keeps the fleet it has
    feeder = TelemetryFeeder(platform, chunk_seconds=1.0)
    feeder.start()
    deadline = time.monotonic() + 20
    while feeder.batches < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    feeder.stop()
    feeder.join(timeout=10)
    state = platform.state.current(tenant, "pump-01-01-01")
    assert {"flowRate", "dischargePressure", "motor.current"} <= set(state)
    assert platform.state.quarantined(tenant) == []


def test_the_demo_registers_the_pump_model_as_the_candidate_once(tmp_path: Path) -> None:
    from twinops.config import Settings
    from twinops.demo import load_demo
    from twinops.platform import Platform

    platform = Platform.open(Settings(data_dir=tmp_path / "data"))
    try:
        first = load_demo(platform)
        again = load_demo(platform)
        tenant = platform.settings.default_tenant
        candidate = platform.registry.version(tenant, "pump", "candidate")
        assert (first["registered"], again["registered"]) == (1, None)
        assert candidate.version == 1 and candidate.regressions[0].name == "overspeed-day"
        assert [m.versions for m in platform.registry.models(tenant)] == [1]
    finally:
        platform.close()
