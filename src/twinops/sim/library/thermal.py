"""A pump casing heated by losses and cooled by its surroundings, as an ODE.

``C·dT/dt = P - (T - Tamb)/R``: heat capacity ``C``, thermal resistance to ambient ``R``, heat
input ``P``. Without heat the casing cools exponentially towards ambient with ``τ = R·C``:
``T(t) = Tamb + (T0 - Tamb)·exp(-t/τ)``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from twinops.sim.model import (
    FloatArray,
    Input,
    ModelSignature,
    OdeModel,
    Output,
    Parameter,
    StateVar,
)


class CasingTemperature(OdeModel):
    """Casing temperature of a pump (one state), integrated with ``solve_ivp``."""

    signature = ModelSignature(
        name="casing-temperature",
        version="1.0.0",
        description="Lumped thermal model of a pump casing.",
        parameters=(
            Parameter("heatCapacity", "joule/kelvin", 50_000.0, 1.0, 1e9),
            Parameter("thermalResistance", "kelvin/watt", 0.05, 1e-6, 100.0),
            Parameter("initialTemperature", "degreeCelsius", 60.0, -50.0, 500.0),
        ),
        states=(StateVar("temperature", "degreeCelsius", "initialTemperature"),),
        inputs=(
            Input("ambientTemperature", "degreeCelsius", 20.0),
            Input("heat", "watt", 0.0),
        ),
        outputs=(
            Output("temperature", "degreeCelsius"),
            Output("heatLoss", "watt"),
        ),
    )

    def derivatives(
        self, t: float, x: FloatArray, u: Mapping[str, float], p: Mapping[str, float]
    ) -> FloatArray:
        """dT/dt."""
        loss = (x[0] - u["ambientTemperature"]) / p["thermalResistance"]
        return np.array([(u["heat"] - loss) / p["heatCapacity"]])

    def outputs(
        self, t: float, x: FloatArray, u: Mapping[str, float], p: Mapping[str, float]
    ) -> dict[str, float]:
        """Temperature and the heat flowing to ambient."""
        temperature = float(x[0])
        loss = (temperature - u["ambientTemperature"]) / p["thermalResistance"]
        return {"temperature": temperature, "heatLoss": loss}
