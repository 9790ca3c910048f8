"""The behavior-model protocol: what a model declares, and the one method each engine calls.

A behavior model declares a :class:`ModelSignature` — typed parameters (unit, default, bounds,
optional prior, optional binding to a twin property), state variables and inputs bound to twin
fields, and outputs — and the engine it runs on. The caller never picks an engine: it hands the
model to :func:`twinops.sim.engines.simulate`, which dispatches on ``model.engine``.

Engines and what a model implements for each:

* ``vectorized`` (:class:`VectorModel`): ``step`` over arrays of shape ``(n,)``, every run of a
  batch stepping together.
* ``ode`` (:class:`OdeModel`): ``derivatives`` and ``outputs`` of one run, integrated with
  ``scipy.integrate.solve_ivp``.
* ``discrete-event`` (:class:`DiscreteEventModel`): ``build`` SimPy processes for one run.
* ``fmu`` (:class:`twinops.sim.engines.fmu.FmuModel`): an FMI 2.0 or 3.0 co-simulation FMU.

Models get time from an injected clock (:class:`SimClock`) and randomness from seeded streams
(:mod:`twinops.sim.randomness`), never from the wall clock or a global generator.
"""

from __future__ import annotations

import hashlib
import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

import numpy as np
from numpy.typing import NDArray

from twinops.sim.priors import Prior

if TYPE_CHECKING:
    import simpy

    from twinops.sim.randomness import MemberNoise

FloatArray = NDArray[np.float64]
EngineKind = Literal["vectorized", "ode", "discrete-event", "fmu"]
ENGINES: tuple[EngineKind, ...] = ("vectorized", "ode", "discrete-event", "fmu")


@dataclass(frozen=True)
class Parameter:
    """A model constant: unit (DTDL name or pint text), default, bounds, prior, twin binding.

    ``binding`` names a twin property (``ratedFlow``, ``motor.ratedPower``) whose value, when
    the twin has one, replaces ``default`` for that twin.
    """

    name: str
    unit: str | None
    default: float
    lower: float | None = None
    upper: float | None = None
    prior: Prior | None = None
    binding: str | None = None
    description: str = ""

    def admits(self, value: float) -> bool:
        """Whether ``value`` lies within the bounds."""
        return (self.lower is None or value >= self.lower) and (
            self.upper is None or value <= self.upper
        )

    def bounds_text(self) -> str:
        """The bounds as ``[lower, upper]`` for error messages."""
        low = "-inf" if self.lower is None else repr(self.lower)
        high = "inf" if self.upper is None else repr(self.upper)
        return f"[{low}, {high}]"


@dataclass(frozen=True)
class StateVar:
    """A state variable; its initial value comes from ``binding`` (a twin field) when the twin
    has it, else from ``initial`` (a number, or the name of a parameter)."""

    name: str
    unit: str | None
    initial: float | str
    binding: str | None = None
    description: str = ""


@dataclass(frozen=True)
class Input:
    """An input: replayed from the telemetry ``binding`` names, or a synthetic profile; when a
    scenario gives neither it is ``default`` (a number, or the name of a parameter)."""

    name: str
    unit: str | None
    default: float | str
    binding: str | None = None
    description: str = ""


@dataclass(frozen=True)
class Output:
    """An output; ``binding`` names the telemetry it predicts (for validation/calibration)."""

    name: str
    unit: str | None
    binding: str | None = None
    description: str = ""


@dataclass(frozen=True)
class ModelSignature:
    """Everything a model declares about itself, in declaration order."""

    name: str
    version: str
    parameters: tuple[Parameter, ...] = ()
    states: tuple[StateVar, ...] = ()
    inputs: tuple[Input, ...] = ()
    outputs: tuple[Output, ...] = ()
    twin_models: tuple[str, ...] = ()
    """DTMIs of the twins it simulates (a twin may also extend one); empty: any twin."""
    description: str = ""

    def parameter(self, name: str) -> Parameter | None:
        """The parameter called ``name``, if declared."""
        return next((p for p in self.parameters if p.name == name), None)

    def input(self, name: str) -> Input | None:
        """The input called ``name``, if declared."""
        return next((i for i in self.inputs if i.name == name), None)

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """Parameter names in declaration order."""
        return tuple(p.name for p in self.parameters)

    @property
    def state_names(self) -> tuple[str, ...]:
        """State names in declaration order."""
        return tuple(s.name for s in self.states)

    @property
    def input_names(self) -> tuple[str, ...]:
        """Input names in declaration order."""
        return tuple(i.name for i in self.inputs)

    @property
    def output_names(self) -> tuple[str, ...]:
        """Output names in declaration order."""
        return tuple(o.name for o in self.outputs)


@dataclass(frozen=True)
class SimClock:
    """Simulated time: a start instant (epoch µs), a step (µs) and a number of steps."""

    start_us: int
    step_us: int
    steps: int

    @property
    def dt(self) -> float:
        """The step in seconds."""
        return self.step_us / 1_000_000

    @property
    def horizon(self) -> float:
        """The horizon in seconds."""
        return self.steps * self.dt

    def seconds(self, k: int) -> float:
        """Seconds since the start at step ``k``."""
        return k * self.dt

    def time_us(self, k: int) -> int:
        """The instant of step ``k`` (epoch µs)."""
        return self.start_us + k * self.step_us


@dataclass(frozen=True)
class StepContext:
    """What a vectorized step sees besides its arrays: the time, the members, their noise."""

    k: int
    t: float
    dt: float
    time_us: int
    n: int
    noise: MemberNoise
    record: bool
    """Whether this step's outputs are recorded (a model may skip output-only work if not)."""


@dataclass(frozen=True)
class RunContext:
    """One run of a per-run engine (ODE, discrete-event, FMU): its values and its generator."""

    member: int
    params: Mapping[str, float]
    initial: Mapping[str, float]
    inputs: Mapping[str, FloatArray]
    """Each input's value at every step (index k), zero-order hold in between."""
    clock: SimClock
    rng: np.random.Generator

    def input_at(self, name: str, t: float) -> float:
        """An input's value at ``t`` seconds since the start (zero-order hold)."""
        series = self.inputs[name]
        k = min(max(int(t / self.clock.dt + 1e-9), 0), len(series) - 1)
        return float(series[k])


class BehaviorModel(ABC):
    """Base of every behavior model: a signature and the engine that runs it."""

    engine: ClassVar[EngineKind]
    signature: ModelSignature  # usually a class attribute; an FMU model sets it per instance

    def code_sha256(self) -> str:
        """sha256 of the file defining the model's class (recorded for reproducibility)."""
        source = inspect.getsourcefile(type(self))
        if source is None:
            return ""
        return hashlib.sha256(Path(source).read_bytes()).hexdigest()


Arrays = Mapping[str, FloatArray]


class VectorModel(BehaviorModel):
    """A model stepped over arrays: every member (run x twin) of a batch steps together."""

    engine: ClassVar[EngineKind] = "vectorized"

    def prepare(self, params: Arrays, dt: float) -> dict[str, FloatArray]:
        """Values derived once from the parameters (and the step), merged into ``params``."""
        return {}

    @abstractmethod
    def step(
        self, ctx: StepContext, state: Arrays, inputs: Arrays, params: Arrays
    ) -> tuple[dict[str, FloatArray], dict[str, FloatArray]]:
        """The outputs at ``ctx.t`` and the state at ``ctx.t + ctx.dt``.

        Arrays have shape ``(n,)``, or ``(1,)`` for values every member shares; both
        broadcast. Return fresh arrays: the engine keeps the old state until the step is done.
        """


class OdeModel(BehaviorModel):
    """A model of ordinary differential equations, integrated per run with ``solve_ivp``.

    The state vector follows ``signature.states``; inputs are held constant over each step.
    """

    engine: ClassVar[EngineKind] = "ode"
    method: ClassVar[str] = "RK45"
    rtol: ClassVar[float] = 1e-8
    atol: ClassVar[float] = 1e-10

    @abstractmethod
    def derivatives(
        self, t: float, x: FloatArray, u: Mapping[str, float], p: Mapping[str, float]
    ) -> FloatArray:
        """dx/dt at ``t`` seconds since the start."""

    @abstractmethod
    def outputs(
        self, t: float, x: FloatArray, u: Mapping[str, float], p: Mapping[str, float]
    ) -> dict[str, float]:
        """The outputs at ``t`` for state ``x``."""


Observer = Callable[[], Mapping[str, float]]


class DiscreteEventModel(BehaviorModel):
    """A discrete-event model: SimPy processes for one run, observed at every recorded step.

    SimPy time is seconds since the simulation start.
    """

    engine: ClassVar[EngineKind] = "discrete-event"

    @abstractmethod
    def build(self, env: simpy.Environment, run: RunContext) -> Observer:
        """Start the run's processes in ``env``; answer a function reading the outputs now."""


@dataclass(frozen=True)
class ModelInfo:
    """What a run records about the model it used."""

    reference: str
    name: str
    version: str
    engine: EngineKind
    code_sha256: str
    extra: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, str]:
        """The record as JSON."""
        return {
            "reference": self.reference,
            "name": self.name,
            "version": self.version,
            "engine": self.engine,
            "codeSha256": self.code_sha256,
            **dict(self.extra),
        }
