"""A behavior model only the tests load (``TWINOPS_SIM_MODEL_MODULES=simmodels``)."""

from __future__ import annotations

from twinops.sim.model import (
    Arrays,
    FloatArray,
    ModelSignature,
    Output,
    Parameter,
    StateVar,
    StepContext,
    VectorModel,
)


class HeadInFeet(VectorModel):
    """Declares a pump's rated head in feet and its fluid temperature in kelvin."""

    signature = ModelSignature(
        name="head-in-feet",
        version="1",
        twin_models=("dtmi:twinops:example:Pump;1",),
        parameters=(Parameter("ratedHead", "foot", 100.0, 0.0, 10_000.0, binding="ratedHead"),),
        states=(StateVar("fluid", "kelvin", 290.0, binding="fluidTemperature"),),
        outputs=(Output("head", "foot"), Output("fluid", "kelvin")),
    )

    def step(
        self, ctx: StepContext, state: Arrays, inputs: Arrays, params: Arrays
    ) -> tuple[dict[str, FloatArray], dict[str, FloatArray]]:
        """Constant outputs."""
        return dict(state), {"head": params["ratedHead"], "fluid": state["fluid"]}
