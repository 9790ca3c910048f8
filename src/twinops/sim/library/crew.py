"""Repair crews serving pump failures, as a discrete-event model (SimPy).

Failures across a fleet arrive as a Poisson process (``failureRate`` per hour); each repair
takes an exponential time (mean ``repairTime`` hours) and needs one of ``crews`` crews, first
come first served. With one crew this is the M/M/1 queue: the mean time from failure to
repaired pump is ``1/(μ - λ)`` and the mean number of pumps down is ``rho/(1 - rho)``.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

import simpy

from twinops.sim.model import (
    DiscreteEventModel,
    ModelSignature,
    Observer,
    Output,
    Parameter,
    RunContext,
)

HOUR = 3600.0


class MaintenanceCrew(DiscreteEventModel):
    """Failures queueing for repair crews; observes backlog, completions and turnaround."""

    signature = ModelSignature(
        name="maintenance-crew",
        version="1.0.0",
        description="Fleet failures waiting for repair crews (M/M/c).",
        parameters=(
            Parameter("failureRate", "1/hour", 0.5, 0.0, 1e4),
            Parameter("repairTime", "hour", 1.0, 1e-6, 1e4),
            Parameter("crews", "unity", 1.0, 1.0, 1000.0),
        ),
        outputs=(
            Output("backlog", "unity", description="pumps failed and not yet repaired"),
            Output("completed", "unity", description="repairs finished so far"),
            Output("meanTurnaround", "hour", description="mean failure-to-repair time so far"),
            Output("downtime", "hour", description="pump-hours spent down so far"),
        ),
    )

    def build(self, env: simpy.Environment, run: RunContext) -> Observer:
        """Start the failure process; answer the observer of the outputs."""
        crews = simpy.Resource(env, capacity=max(1, round(run.params["crews"])))
        rate = run.params["failureRate"] / HOUR
        mean_repair = run.params["repairTime"] * HOUR
        rng = run.rng
        tally = {"backlog": 0.0, "completed": 0.0, "turnaround": 0.0, "down_since": 0.0}
        area = {"value": 0.0, "at": 0.0}  # integral of backlog over time, for downtime

        def account() -> None:
            area["value"] += tally["backlog"] * (env.now - area["at"])
            area["at"] = env.now

        def repair(failed_at: float) -> Generator[Any, Any, None]:
            with crews.request() as request:
                yield request
                yield env.timeout(rng.exponential(mean_repair))
            account()
            tally["backlog"] -= 1
            tally["completed"] += 1
            tally["turnaround"] += env.now - failed_at

        def failures() -> Generator[Any, Any, None]:
            if rate <= 0:
                return
            while True:
                yield env.timeout(rng.exponential(1.0 / rate))
                account()
                tally["backlog"] += 1
                env.process(repair(env.now))

        env.process(failures())

        def observe() -> dict[str, float]:
            done = tally["completed"]
            pending = tally["backlog"] * (env.now - area["at"])
            return {
                "backlog": tally["backlog"],
                "completed": done,
                "meanTurnaround": tally["turnaround"] / done / HOUR if done else math.nan,
                "downtime": (area["value"] + pending) / HOUR,
            }

        return observe
