"""A bearing's temperature as a first-order lag, vectorized.

``T' = (Tamb + R·P - T)/τ`` with ambient temperature ``Tamb`` and friction heat ``P`` held over
each step, discretized exactly: ``T(t + dt) = target + (T - target)·exp(-dt/τ)``. The example
FMU in ``examples/pump_fleet/fmu/BearingTemperature`` implements the same equations in C.
"""

from __future__ import annotations

import numpy as np

from twinops.sim.model import (
    Arrays,
    FloatArray,
    Input,
    ModelSignature,
    Output,
    Parameter,
    StateVar,
    StepContext,
    VectorModel,
)
from twinops.sim.priors import Normal


class BearingTemperature(VectorModel):
    """Bearing temperature rising with friction heat towards ``Tamb + R·P``."""

    signature = ModelSignature(
        name="bearing-temperature",
        version="1.0.0",
        description="First-order thermal lag of a bearing heated by friction.",
        parameters=(
            Parameter(
                "thermalResistance", "kelvin/watt", 0.2, 0.0, 10.0, prior=Normal(mean=0.2, sd=0.02)
            ),
            Parameter("timeConstant", "second", 1200.0, 1.0, 86400.0),
            Parameter("initialTemperature", "degreeCelsius", 40.0, -50.0, 200.0),
        ),
        states=(StateVar("temperature", "degreeCelsius", "initialTemperature"),),
        inputs=(
            Input("ambientTemperature", "degreeCelsius", 20.0),
            Input("heat", "watt", 150.0),
        ),
        outputs=(Output("temperature", "degreeCelsius"),),
    )

    def prepare(self, params: Arrays, dt: float) -> dict[str, FloatArray]:
        """The decay over one step."""
        return {"_decay": np.exp(-dt / params["timeConstant"])}

    def step(
        self, ctx: StepContext, state: Arrays, inputs: Arrays, params: Arrays
    ) -> tuple[dict[str, FloatArray], dict[str, FloatArray]]:
        """The temperature now, and one step later."""
        temperature = state["temperature"]
        target = inputs["ambientTemperature"] + params["thermalResistance"] * inputs["heat"]
        following = target + (temperature - target) * params["_decay"]
        return {"temperature": following}, {"temperature": temperature}
