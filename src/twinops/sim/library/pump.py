"""The pump-fleet behavior model: a centrifugal pump, its motor and its bearings, vectorized.

Hydraulics. The pump curve at rated speed is ``H(Q) = H0 - kp·Q²`` with the shut-off head
``H0 = shutoffHeadRatio·ratedHead`` and ``kp`` chosen so the curve passes through the rated
point. The affinity laws scale it with the speed ratio ``s = n/ratedSpeed``: flow ∝ s,
head ∝ s², power ∝ s³, i.e. ``H(Q, s) = s²·H0 - kp·Q²``. The pump runs where that curve meets
the system curve ``H = Hs + ks·r·Q²`` (static head ``Hs = staticHeadRatio·ratedHead``, friction
``ks`` putting the rated point on it, ``r`` the ``systemResistance`` input, 1 = as designed):
``Q = sqrt((s²·H0 - Hs) / (kp + ks·r))``, zero when the pump cannot lift the static head.

Efficiency is a parabola around the best efficiency point (BEP), whose flow scales with speed:
``η = ηbep·(1 - (q - 1)²)`` with ``q = Q/(s·Qbep)``, floored at 0.05. Hydraulic power is
``rho·g·Q·H``; shaft power is hydraulic power over η, plus bearing friction that grows with
wear (``frictionLossFactor·wear``); electrical power divides by the motor efficiency, and the
current follows from ``√3·V·cos φ``.

Bearings. The radial load is a preload plus the impeller's radial thrust (Stepanoff:
``K·rho·g·H·D·b2`` with ``K = radialThrustCoefficient·|1 - q²| + residualThrust`` and outlet width
``b2 ≈ 0.05·D``), so running away from the BEP loads the bearings. Bearing life goes as
load⁻³·speed⁻¹ (L10), so wear grows at ``wearRate·s·(F/Fbep)³·(1 + wearFeedback·wear)`` per
running hour — ``Fbep`` is the load at the BEP at rated speed and head, and damage feeds back
on itself — plus Brownian noise ``wearNoise·√dt·z`` (the Wiener degradation model). Wear
(0 new, ``failureThreshold`` failed) raises vibration (``1 + vibrationWearGain·wear²``),
friction losses, and the winding, fluid and bearing temperatures. A pump whose wear reaches
the threshold fails: it stops until maintenance. Maintenance (the ``maintenance`` input above
0.5 at a step) resets wear and clears the failure.

Remaining useful life is the time until wear reaches the threshold at the current conditions:
with ``a`` the current wear rate at zero wear and ``b = wearFeedback``, wear follows
``dW/dt = a(1 + bW)``, so ``RUL = ln((1 + b·Wf)/(1 + b·W))/(a·b)`` (``(Wf - W)/a`` when b = 0),
capped at :data:`RUL_CAP_HOURS` when the pump does not wear (stopped).

Temperatures are first-order lags, discretized exactly for a constant input over the step:
``T' = target + (T - target)·exp(-dt/τ)``. The winding heats with the motor load squared, the
fluid with the pump's losses (and wear), the bearing with its friction — the same model as the
FMU in ``examples/pump_fleet/fmu/`` and :class:`twinops.sim.library.bearing.BearingTemperature`.

Parameter names follow the DTDL models in ``examples/pump_fleet/models`` (``Pump;1`` and its
``motor`` component ``Motor;1``); bound parameters take each twin's nameplate values.
"""

from __future__ import annotations

import math

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
from twinops.sim.priors import LogNormal, Normal, Prior, Triangular, TruncNormal, Uniform

G = 9.80665  # m/s²
WATER_HEAT_CAPACITY = 4186.0  # J/(kg·K)
SQRT3 = math.sqrt(3.0)
RUL_CAP_HOURS = 1e6
"""The remaining useful life reported when the pump does not wear at all (about 114 years)."""
_MIN_FLOW_M3S = 1e-4  # below this the loss heating is bounded (a dead-headed pump)
_MAX_FLUID_RISE = 50.0  # K


def _p(
    name: str,
    unit: str,
    default: float,
    lower: float,
    upper: float,
    *,
    prior: Prior | None = None,
    binding: str | None = None,
) -> Parameter:
    return Parameter(name, unit, default, lower, upper, prior=prior, binding=binding)


PUMP_SIGNATURE = ModelSignature(
    name="pump",
    version="1.0.0",
    twin_models=("dtmi:twinops:example:Pump;1",),
    description="Centrifugal pump with motor and bearing wear (affinity laws, BEP efficiency).",
    parameters=(
        _p("ratedFlow", "cubicMetrePerHour", 100.0, 0.1, 1e5, binding="ratedFlow"),
        _p("ratedHead", "metre", 50.0, 0.1, 5000.0, binding="ratedHead"),
        _p("ratedSpeed", "revolutionPerMinute", 1450.0, 100.0, 30000.0, binding="ratedSpeed"),
        _p("impellerDiameter", "millimetre", 250.0, 10.0, 5000.0, binding="impellerDiameter"),
        _p("efficiencyBestPoint", "unity", 0.75, 0.05, 0.95, binding="efficiencyBestPoint"),
        _p("motorRatedPower", "kilowatt", 22.0, 0.1, 1e5, binding="motor.ratedPower"),
        _p("motorRatedVoltage", "volt", 400.0, 1.0, 1e5, binding="motor.ratedVoltage"),
        _p("motorEfficiency", "unity", 0.94, 0.5, 0.99),
        _p("powerFactor", "unity", 0.86, 0.3, 1.0),
        _p(
            "shutoffHeadRatio",
            "unity",
            1.25,
            1.02,
            2.0,
            prior=Triangular(low=1.15, mode=1.25, high=1.4),
        ),
        _p("staticHeadRatio", "unity", 0.4, 0.0, 0.95),
        _p(
            "bepFlowRatio",
            "unity",
            1.0,
            0.5,
            1.5,
            prior=TruncNormal(mean=1.0, sd=0.08, low=0.8, high=1.2),
        ),
        _p("fluidDensity", "kilogramPerCubicMetre", 1000.0, 500.0, 2000.0),
        _p("bearingPreload", "newton", 2000.0, 0.0, 1e7),
        _p("radialThrustCoefficient", "unity", 0.36, 0.0, 1.0),
        _p("residualThrust", "unity", 0.02, 0.0, 1.0),
        _p(
            "wearRate", "1/hour", 3.8e-5, 0.0, 1.0, prior=LogNormal(mu=math.log(3.8e-5), sigma=0.35)
        ),
        _p("wearFeedback", "unity", 1.0, 0.0, 10.0, prior=Uniform(low=0.5, high=1.5)),
        _p("wearNoise", "hour**-0.5", 2e-4, 0.0, 1.0),
        _p("initialWear", "unity", 0.1, 0.0, 1.0, prior=Uniform(low=0.0, high=0.3)),
        _p("failureThreshold", "unity", 1.0, 0.01, 10.0),
        _p("wearAfterMaintenance", "unity", 0.0, 0.0, 1.0),
        _p("frictionLossFactor", "unity", 0.04, 0.0, 1.0),
        _p("vibrationBase", "gForce", 0.12, 0.0, 10.0, prior=Uniform(low=0.05, high=0.2)),
        _p("vibrationWearGain", "unity", 4.0, 0.0, 100.0),
        _p("windingRise", "kelvin", 75.0, 0.0, 200.0),
        _p("windingWearRise", "kelvin", 12.0, 0.0, 100.0),
        _p("windingTimeConstant", "second", 900.0, 1.0, 86400.0, prior=Normal(mean=900.0, sd=90.0)),
        _p("fluidWearRise", "kelvin", 0.4, 0.0, 50.0),
        _p("fluidTimeConstant", "second", 600.0, 1.0, 86400.0),
        _p("bearingFriction", "watt", 150.0, 0.0, 1e5),
        _p(
            "bearingThermalResistance",
            "kelvin/watt",
            0.2,
            0.0,
            10.0,
            prior=Normal(mean=0.2, sd=0.02),
        ),
        _p("bearingTimeConstant", "second", 1200.0, 1.0, 86400.0),
    ),
    states=(
        StateVar("wear", "unity", "initialWear"),
        StateVar("failed", "unity", 0.0),
        StateVar("windingTemperature", "degreeCelsius", 40.0, binding="motor.windingTemperature"),
        StateVar("fluidTemperature", "degreeCelsius", 15.0, binding="fluidTemperature"),
        StateVar("bearingTemperature", "degreeCelsius", 40.0),
        StateVar("energy", "kilowattHour", 0.0),
        StateVar("runningHours", "hour", 0.0),
    ),
    inputs=(
        Input("speed", "revolutionPerMinute", "ratedSpeed", binding="speed"),
        Input("running", "unity", 1.0, description="1 running, 0 stopped"),
        Input("systemResistance", "unity", 1.0, description="system friction, 1 = as designed"),
        Input("suctionPressure", "kilopascal", 100.0, binding="suctionPressure"),
        Input("inletTemperature", "degreeCelsius", 15.0),
        Input("ambientTemperature", "degreeCelsius", 20.0),
        Input("maintenance", "unity", 0.0, description="above 0.5: service at this step"),
    ),
    outputs=(
        Output("flowRate", "cubicMetrePerHour", binding="flowRate"),
        Output("head", "metre"),
        Output("dischargePressure", "kilopascal", binding="dischargePressure"),
        Output("speed", "revolutionPerMinute", binding="speed"),
        Output("efficiency", "unity"),
        Output("hydraulicPower", "kilowatt"),
        Output("shaftPower", "kilowatt"),
        Output("motorPower", "kilowatt", binding="motor.power"),
        Output("motorCurrent", "ampere", binding="motor.current"),
        Output("vibration", "gForce", binding="vibration"),
        Output("fluidTemperature", "degreeCelsius", binding="fluidTemperature"),
        Output("windingTemperature", "degreeCelsius", binding="motor.windingTemperature"),
        Output("bearingTemperature", "degreeCelsius"),
        Output("wear", "unity"),
        Output("failed", "unity"),
        Output("remainingUsefulLife", "hour"),
        Output("energy", "kilowattHour"),
        Output("runningHours", "hour"),
    ),
)


class PumpModel(VectorModel):
    """A centrifugal pump: hydraulics, power, bearing wear, temperatures, failure and RUL."""

    signature = PUMP_SIGNATURE

    def prepare(self, params: Arrays, dt: float) -> dict[str, FloatArray]:
        """Curve coefficients, the rated bearing load and the thermal decays, once per run."""
        p = params
        rated_flow2 = p["ratedFlow"] * p["ratedFlow"]
        shutoff = p["shutoffHeadRatio"] * p["ratedHead"]
        static = p["staticHeadRatio"] * p["ratedHead"]
        rho_g = p["fluidDensity"] * G
        # Outlet width b2 ≈ 0.05·D, so the projected area D·b2 is 0.05·D².
        area = 0.05 * (p["impellerDiameter"] / 1000.0) ** 2
        # The reference load: the bearings at the best efficiency point of the rated curve.
        rated_load = p["bearingPreload"] + p["residualThrust"] * rho_g * p["ratedHead"] * area
        dt_h = dt / 3600.0
        return {
            "_shutoff": shutoff,
            "_static": static,
            "_kp": (shutoff - p["ratedHead"]) / rated_flow2,
            "_ks": (p["ratedHead"] - static) / rated_flow2,
            "_bepFlow": p["bepFlowRatio"] * p["ratedFlow"],
            "_rhoG": rho_g,
            "_area": area,
            "_ratedLoad": np.maximum(rated_load, 1e-9),
            "_dtHours": np.array([dt_h]),
            "_noise": p["wearNoise"] * math.sqrt(dt_h),
            "_noisy": np.array([float(np.any(p["wearNoise"] > 0))]),
            "_windingDecay": np.exp(-dt / p["windingTimeConstant"]),
            "_fluidDecay": np.exp(-dt / p["fluidTimeConstant"]),
            "_bearingDecay": np.exp(-dt / p["bearingTimeConstant"]),
        }

    def step(
        self, ctx: StepContext, state: Arrays, inputs: Arrays, params: Arrays
    ) -> tuple[dict[str, FloatArray], dict[str, FloatArray]]:
        """Outputs now and the state one step later."""
        p, u = params, inputs
        wear, failed = state["wear"], state["failed"]
        service = u["maintenance"] > 0.5
        if service.any():
            wear = np.where(service, p["wearAfterMaintenance"], wear)
            failed = np.where(service, 0.0, failed)
        s = u["speed"] / p["ratedSpeed"]
        # Usually shape (1,): the gate costs nothing per member; `failed` is 0 or 1.
        gate = ((u["running"] > 0.5) & (s > 0.0)).astype(np.float64)
        run = (1.0 - failed) * gate
        s2 = s * s
        lift = s2 * p["_shutoff"] - p["_static"]
        flow = np.sqrt(np.maximum(lift, 0.0) / (p["_kp"] + p["_ks"] * u["systemResistance"])) * run
        head = (s2 * p["_shutoff"] - p["_kp"] * flow * flow) * run
        q = flow / (np.maximum(s, 1e-12) * p["_bepFlow"])
        off = q - 1.0
        efficiency = np.maximum(p["efficiencyBestPoint"] * (1.0 - off * off), 0.05)
        hydraulic = p["_rhoG"] * (flow / 3600.0) * head / 1000.0  # kW
        shaft = hydraulic / efficiency * (1.0 + p["frictionLossFactor"] * wear)
        electrical = shaft / p["motorEfficiency"]

        # Bearing load and wear.
        thrust = p["radialThrustCoefficient"] * np.abs(1.0 - q * q) + p["residualThrust"]
        load = (p["bearingPreload"] + thrust * p["_rhoG"] * head * p["_area"]) / p["_ratedLoad"]
        base_rate = p["wearRate"] * s * load * load * load * run  # per hour, at zero wear
        dt_h = p["_dtHours"]
        increment = base_rate * (1.0 + p["wearFeedback"] * wear) * dt_h
        if p["_noisy"][0]:
            increment = increment + p["_noise"] * run * ctx.noise.standard_normal()
        next_wear = np.maximum(wear + increment, 0.0)
        next_failed = np.maximum(failed, (next_wear >= p["failureThreshold"]).astype(np.float64))

        # Temperatures: first-order lags, exact for inputs held over the step.
        ambient = u["ambientTemperature"]
        motor_load = shaft / p["motorRatedPower"]
        winding_target = ambient + p["windingRise"] * motor_load * motor_load
        winding_target = winding_target + p["windingWearRise"] * wear * run
        volume_flow = np.maximum(flow / 3600.0, _MIN_FLOW_M3S)
        rise = (
            (shaft - hydraulic) * 1000.0 / (p["fluidDensity"] * WATER_HEAT_CAPACITY * volume_flow)
        )
        fluid_target = (
            u["inletTemperature"]
            + (np.minimum(rise, _MAX_FLUID_RISE) + p["fluidWearRise"] * wear) * run
        )
        bearing_heat = p["bearingFriction"] * s * (1.0 + 2.0 * wear) * run
        bearing_target = ambient + p["bearingThermalResistance"] * bearing_heat
        winding, fluid, bearing = (
            state["windingTemperature"],
            state["fluidTemperature"],
            state["bearingTemperature"],
        )
        next_state = {
            "wear": next_wear,
            "failed": next_failed,
            "windingTemperature": winding_target + (winding - winding_target) * p["_windingDecay"],
            "fluidTemperature": fluid_target + (fluid - fluid_target) * p["_fluidDecay"],
            "bearingTemperature": bearing_target + (bearing - bearing_target) * p["_bearingDecay"],
            "energy": state["energy"] + electrical * dt_h,
            "runningHours": state["runningHours"] + run * dt_h,
        }
        if not ctx.record:
            return next_state, {}
        vibration = (
            p["vibrationBase"]
            * (0.3 + 0.7 * s2)
            * (1.0 + p["vibrationWearGain"] * wear * wear)
            * (1.0 + 0.5 * np.abs(off))
        )
        outputs = {
            "flowRate": flow,
            "head": head,
            "dischargePressure": u["suctionPressure"] + p["_rhoG"] * head / 1000.0,
            "speed": u["speed"] * run,
            "efficiency": efficiency * run,
            "hydraulicPower": hydraulic,
            "shaftPower": shaft,
            "motorPower": electrical,
            "motorCurrent": electrical
            * 1000.0
            / (SQRT3 * p["motorRatedVoltage"] * p["powerFactor"]),
            "vibration": vibration * run + 0.004 * (1.0 - run),
            "fluidTemperature": fluid,
            "windingTemperature": winding,
            "bearingTemperature": bearing,
            "wear": wear,
            "failed": failed,
            "remainingUsefulLife": remaining_life(
                base_rate, p["wearFeedback"], wear, p["failureThreshold"], failed
            ),
            "energy": state["energy"],
            "runningHours": state["runningHours"],
        }
        return next_state, outputs


def remaining_life(
    rate: FloatArray,
    feedback: FloatArray,
    wear: FloatArray,
    threshold: FloatArray,
    failed: FloatArray,
) -> FloatArray:
    """Hours until ``dW/dt = rate·(1 + feedback·W)`` takes ``wear`` to ``threshold``."""
    b = np.maximum(feedback, 1e-12)
    left = np.maximum(threshold - wear, 0.0)
    # ln((1 + b·Wf)/(1 + b·W)) = log1p(b·(Wf - W)/(1 + b·W)), exact as b -> 0 too.
    wearing = rate > 0.0
    hours = np.log1p(b * left / (1.0 + b * wear)) / (np.where(wearing, rate, 1.0) * b)
    hours = np.where(wearing, np.minimum(hours, RUL_CAP_HOURS), RUL_CAP_HOURS)
    return np.asarray(np.where((failed > 0.5) | (left <= 0.0), 0.0, hours), dtype=np.float64)
