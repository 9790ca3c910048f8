"""Behavior models shipped with twinops.

Specs reference them as ``twinops.sim.library.<module>:<Class>``:

* ``pump:PumpModel`` — the pump-fleet model (vectorized NumPy).
* ``bearing:BearingTemperature`` — a bearing's first-order thermal lag (vectorized), the same
  model as the example FMU in ``examples/pump_fleet/fmu/``.
* ``thermal:CasingTemperature`` — a pump casing heating and cooling (ODE, ``solve_ivp``).
* ``crew:MaintenanceCrew`` — repair crews serving pump failures (discrete-event, SimPy).
"""
