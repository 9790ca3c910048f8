"""The FMU engine: FMI 2.0 and 3.0 co-simulation FMUs stepped with FMPy, one run at a time.

The FMU's ``parameter`` variables become the model's parameters (start value as default,
``min``/``max`` as bounds), its ``input`` variables its inputs and its ``output`` variables its
outputs; initial states are whatever parameters the FMU exposes for them. Each run sets its
parameters, initializes, then per step sets the inputs, reads the outputs at recorded steps and
calls ``doStep``. One instance is reused across runs (reset in between). FMPy is imported
lazily: it is an optional dependency (the ``fmu`` extra).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from twinops.sim.engines.base import Batch, FloatArray, Progress, Reporter, SimulationError, Sink
from twinops.sim.model import BehaviorModel, EngineKind, Input, ModelSignature, Output, Parameter

_REAL_TYPES = ("Real", "Float64", "Float32")


class FmuModel(BehaviorModel):
    """A behavior model backed by a co-simulation FMU file."""

    engine: ClassVar[EngineKind] = "fmu"

    def __init__(self, path: Path | str) -> None:
        from fmpy import read_model_description

        self.path = Path(path)
        description = read_model_description(str(self.path))
        if description.coSimulation is None:
            raise ValueError(f"{self.path.name} is not a co-simulation FMU")
        if description.fmiVersion not in ("2.0", "3.0"):
            raise ValueError(f"{self.path.name}: FMI {description.fmiVersion} is not supported")
        self.description = description
        self.value_references: dict[str, int] = {}
        parameters: list[Parameter] = []
        inputs: list[Input] = []
        outputs: list[Output] = []
        for variable in description.modelVariables:
            if variable.type not in _REAL_TYPES or variable.shape:
                continue
            self.value_references[variable.name] = int(variable.valueReference)
            start = float(variable.start) if variable.start is not None else 0.0
            text = variable.description or ""
            if variable.causality == "parameter":
                parameters.append(
                    Parameter(
                        variable.name,
                        variable.unit,
                        start,
                        lower=_number(variable.min),
                        upper=_number(variable.max),
                        description=text,
                    )
                )
            elif variable.causality == "input":
                inputs.append(Input(variable.name, variable.unit, start, description=text))
            elif variable.causality == "output":
                outputs.append(Output(variable.name, variable.unit, description=text))
        self.signature = ModelSignature(
            name=description.modelName,
            version=description.version or description.guid,
            parameters=tuple(parameters),
            inputs=tuple(inputs),
            outputs=tuple(outputs),
            description=description.description or "",
        )

    def code_sha256(self) -> str:
        """sha256 of the FMU file."""
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def _number(text: str | None) -> float | None:
    return None if text is None else float(text)


def run_fmu(model: FmuModel, batch: Batch, sink: Sink, progress: Progress) -> dict[str, FloatArray]:
    """Co-simulate every member; answer the final state (an FMU's state stays inside it)."""
    from fmpy import extract

    clock = batch.clock
    signature = model.signature
    refs = model.value_references
    param_names = signature.parameter_names
    input_names = signature.input_names
    param_refs = [refs[name] for name in param_names]
    input_refs = [refs[name] for name in input_names]
    output_refs = [refs[name] for name in batch.outputs]
    inputs = batch.inputs.full(clock.steps)
    records = set(batch.record_steps.tolist())
    recorded = {name: np.empty((len(records), batch.n)) for name in batch.outputs}
    report = Reporter(progress, batch.n, "run")
    workdir = tempfile.mkdtemp(prefix="twinops-fmu-")
    try:
        slave = _Slave(model, extract(str(model.path), unzipdir=workdir))
        try:
            for m in range(batch.n):
                if m:
                    slave.reset()
                params = batch.member_params(m)
                slave.initialize(param_refs, [params[name] for name in param_names])
                row = 0
                for k in range(clock.steps + 1):
                    if input_refs:
                        slave.set(input_refs, [float(inputs[name][k, m]) for name in input_names])
                    if k in records:
                        for name, value in zip(batch.outputs, slave.get(output_refs), strict=True):
                            recorded[name][row, m] = value
                        row += 1
                    if k < clock.steps:
                        slave.step(clock.seconds(k), clock.dt)
                slave.terminate()
                report(m + 1)
        finally:
            slave.close()
    except SimulationError:
        raise
    except Exception as exc:  # FMPy raises bare Exceptions for FMU status errors
        raise SimulationError(f"FMU {model.path.name}: {exc}") from exc
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    for i in range(len(records)):
        sink(i, {name: values[i] for name, values in recorded.items()})
    return {}


class _Slave:
    """The few calls the engine makes, the same for FMI 2.0 and 3.0."""

    def __init__(self, model: FmuModel, unzipdir: str) -> None:
        description = model.description
        self.fmi3 = description.fmiVersion == "3.0"
        kwargs: dict[str, Any] = {
            "guid": description.guid,
            "unzipDirectory": unzipdir,
            "modelIdentifier": description.coSimulation.modelIdentifier,
            "instanceName": "twinops",
        }
        if self.fmi3:
            from fmpy.fmi3 import FMU3Slave

            self.fmu: Any = FMU3Slave(**kwargs)
        else:
            from fmpy.fmi2 import FMU2Slave

            self.fmu = FMU2Slave(**kwargs)
        self.fmu.instantiate()

    def initialize(self, refs: Sequence[int], values: Sequence[float]) -> None:
        """Set the parameters and run the initialization at time 0."""
        if self.fmi3:
            self.set(refs, values)
            self.fmu.enterInitializationMode(startTime=0.0)
            self.fmu.exitInitializationMode()
            return
        self.fmu.setupExperiment(startTime=0.0)
        self.set(refs, values)
        self.fmu.enterInitializationMode()
        self.fmu.exitInitializationMode()

    def set(self, refs: Sequence[int], values: Sequence[float]) -> None:
        """Set real variables."""
        if refs:
            if self.fmi3:
                self.fmu.setFloat64(list(refs), list(values))
            else:
                self.fmu.setReal(list(refs), list(values))

    def get(self, refs: Sequence[int]) -> list[float]:
        """Read real variables."""
        if not refs:
            return []
        values = self.fmu.getFloat64(list(refs)) if self.fmi3 else self.fmu.getReal(list(refs))
        return [float(v) for v in values]

    def step(self, t: float, dt: float) -> None:
        """Advance from ``t`` by ``dt`` seconds."""
        self.fmu.doStep(currentCommunicationPoint=t, communicationStepSize=dt)

    def terminate(self) -> None:
        """End the run."""
        self.fmu.terminate()

    def reset(self) -> None:
        """Return to the state after instantiation, for the next run."""
        self.fmu.reset()

    def close(self) -> None:
        """Free the instance and unload the library."""
        self.fmu.freeInstance()
        self.fmu.freeLibrary()
