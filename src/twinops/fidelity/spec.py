"""Calibration and validation specs: parsed from YAML/JSON into one canonical, hashable form.

Both kinds name a behavior ``model``, the ``twins`` whose history they read, a ``window`` of
that history (``{start, end}``, or ``{last: 10min}`` resolved against the clock when the job is
submitted), a ``step`` and the ``inputs`` replayed over it (by default every input bound to a
telemetry field is replayed from the twin's own history). :func:`parse_calibration` and
:func:`parse_validation` check everything against the model's signature and fill in the
defaults, so the canonical JSON says exactly what runs.

Problems raise :class:`~twinops.errors.InvalidInput` naming the field (``parameters.ratedFlow``,
``fit.flowRate``) and the rule (``required``, ``range``, ``unknownParameter``, ...), like
scenario specs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Self, TypeVar

from pydantic import Field, ValidationError, field_validator, model_validator

from twinops.errors import InvalidInput, Violation
from twinops.sim.fields import Duration, Instant
from twinops.sim.model import ModelSignature
from twinops.sim.profiles import Profile, Replay, SpecModel
from twinops.sim.references import resolve_model
from twinops.sim.registry_ref import RegistryRef
from twinops.sim.scenario import _violations, check_twin_ids
from twinops.timeutil import Clock, system_clock

MAX_FIT_PARAMETERS = 64
MAX_STEPS = 10_000_000


class Window(SpecModel):
    """The history read: ``[start, end)``, or the ``last`` duration before submission."""

    start: Instant | None = None
    end: Instant | None = None
    last: Duration | None = None

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if self.last is not None and (self.start is not None or self.end is not None):
            raise ValueError("give either start and end, or last")
        if self.last is None and (self.start is None or self.end is None):
            raise ValueError("a window has a start and an end (or last: a duration)")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError("the window ends after it starts")
        return self


class FitParameter(SpecModel):
    """One estimated parameter: its starting value and bounds (default: the model's)."""

    initial: float | None = None
    lower: float | None = None
    upper: float | None = None


class Register(SpecModel):
    """How the lead's registry should record the result (kept in the spec, not acted on here)."""

    name: str = Field(min_length=1, max_length=200)
    notes: str | None = Field(default=None, max_length=4000)
    labels: dict[str, str] = Field(default_factory=dict, max_length=100)


class Thresholds(SpecModel):
    """Acceptance limits for one output: upper limits on errors, lower limits on R², coverage."""

    rmse: float | None = Field(default=None, ge=0.0)
    mae: float | None = Field(default=None, ge=0.0)
    mape: float | None = Field(default=None, ge=0.0)
    bias: float | None = Field(default=None, ge=0.0)
    """A limit on the absolute bias."""
    r2: float | None = Field(default=None, le=1.0)
    coverage: float | None = Field(default=None, ge=0.0, le=1.0)


class Covariance(SpecModel):
    """A parameter covariance (e.g. a calibration's) to propagate into prediction intervals."""

    parameters: tuple[str, ...] = Field(min_length=1, max_length=MAX_FIT_PARAMETERS)
    matrix: tuple[tuple[float, ...], ...]

    @model_validator(mode="after")
    def _square(self) -> Self:
        size = len(self.parameters)
        if len(self.matrix) != size or any(len(row) != size for row in self.matrix):
            raise ValueError(f"the matrix is {size} x {size}, one row per parameter")
        return self


class Uncertainty(SpecModel):
    """Prediction intervals: measurement noise per output (sd, output units) and parameter
    covariance sampled in ``draws`` runs; ``level`` is the interval's probability."""

    noise: dict[str, float] = Field(default_factory=dict, max_length=1000)
    covariance: Covariance | None = None
    level: float = Field(default=0.95, gt=0.0, lt=1.0)
    draws: int = Field(default=64, ge=8, le=2000)

    @field_validator("noise")
    @classmethod
    def _positive(cls, noise: dict[str, float]) -> dict[str, float]:
        if any(value < 0 for value in noise.values()):
            raise ValueError("a noise sd is not negative")
        return noise


def _names_to_mapping(value: Any) -> Any:
    """``[a, b]`` is shorthand for ``{a: {}, b: {}}`` (or ``{a: null}`` for field maps)."""
    if isinstance(value, list | tuple):
        return {name: {} for name in value} if all(isinstance(v, str) for v in value) else value
    return value


class _FidelitySpec(SpecModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=4000)
    model: str = Field(min_length=3, max_length=300)
    registry: RegistryRef | None = None
    twins: tuple[str, ...] = Field(min_length=1, max_length=1000)
    window: Window
    step: Duration
    inputs: dict[str, Profile] | None = Field(default=None, max_length=1000)
    seed: int = Field(default=0, ge=0, lt=2**63)

    @field_validator("twins")
    @classmethod
    def _twin_ids(cls, twins: tuple[str, ...]) -> tuple[str, ...]:
        return check_twin_ids(twins)

    @field_validator("inputs", mode="before")
    @classmethod
    def _replay_defaults(cls, value: Any) -> Any:
        # `{profile: replay}` alone means "this input's own history over the window": the
        # window is filled in by `_complete`, after the window itself is parsed.
        if isinstance(value, Mapping):
            return {
                k: (
                    {**v, "start": v.get("start", 0)}
                    if isinstance(v, Mapping) and v.get("profile") == "replay"
                    else v
                )
                for k, v in value.items()
            }
        return value

    @property
    def start(self) -> int:
        """The window's start (epoch µs; set once the spec is complete)."""
        if self.window.start is None:
            raise ValueError("the window is not resolved")
        return self.window.start

    @property
    def end(self) -> int:
        """The window's end (epoch µs; set once the spec is complete)."""
        if self.window.end is None:
            raise ValueError("the window is not resolved")
        return self.window.end

    @property
    def steps(self) -> int:
        """Simulation steps over the window."""
        return (self.end - self.start) // self.step


class CalibrationSpec(_FidelitySpec):
    """A calibration, as parsed and completed by :func:`parse_calibration`."""

    kind: Literal["calibrate"]
    shared: bool = False
    """One parameter set for every twin (a fleet fit), else one per twin."""
    parameters: dict[str, FitParameter] = Field(min_length=1, max_length=MAX_FIT_PARAMETERS)
    fixed: dict[str, float] = Field(default_factory=dict, max_length=1000)
    fit: dict[str, str | None] = Field(min_length=1, max_length=1000)
    """Output -> the telemetry field it is compared with (None: the output's binding)."""
    method: Literal["least-squares", "global"] = "least-squares"
    intervals: Literal["jacobian", "bootstrap"] = "jacobian"
    level: float = Field(default=0.95, gt=0.0, lt=1.0)
    bootstrap: int | None = Field(default=None, ge=10, le=2000)
    priors: bool = False
    max_evaluations: int = Field(default=200, ge=5, le=100_000)
    generations: int | None = Field(default=None, ge=1, le=10_000)
    registration: Register | None = Field(default=None, alias="register")

    @field_validator("parameters", mode="before")
    @classmethod
    def _parameter_list(cls, value: Any) -> Any:
        return _names_to_mapping(value)

    @field_validator("fit", mode="before")
    @classmethod
    def _fit_list(cls, value: Any) -> Any:
        if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            return dict.fromkeys(value)
        return value


class ValidationSpec(_FidelitySpec):
    """A validation, as parsed and completed by :func:`parse_validation`."""

    kind: Literal["validate"]
    parameters: dict[str, float] = Field(default_factory=dict, max_length=1000)
    twin_parameters: dict[str, dict[str, float]] = Field(default_factory=dict, max_length=1000)
    outputs: dict[str, str | None] | None = Field(default=None, max_length=1000)
    uncertainty: Uncertainty | None = None
    thresholds: dict[str, Thresholds] = Field(default_factory=dict, max_length=1000)

    @field_validator("outputs", mode="before")
    @classmethod
    def _output_list(cls, value: Any) -> Any:
        if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            return dict.fromkeys(value)
        return value


FidelitySpec = CalibrationSpec | ValidationSpec
S = TypeVar("S", bound=_FidelitySpec)


def parse_calibration(raw: Mapping[str, Any], clock: Clock = system_clock) -> CalibrationSpec:
    """A complete, checked calibration spec; InvalidInput names the field and the rule."""
    spec = _validate(CalibrationSpec, raw)
    signature, problems = _common(spec, clock)
    problems += _check_calibration(spec, signature)
    if problems:
        raise InvalidInput.of(problems)
    return _complete_calibration(_complete(spec, signature, clock), signature)


def parse_validation(raw: Mapping[str, Any], clock: Clock = system_clock) -> ValidationSpec:
    """A complete, checked validation spec; InvalidInput names the field and the rule."""
    spec = _validate(ValidationSpec, raw)
    signature, problems = _common(spec, clock)
    problems += _check_validation(spec, signature)
    if problems:
        raise InvalidInput.of(problems)
    completed = _complete(spec, signature, clock)
    if completed.outputs is None:
        outputs = {o.name: o.binding for o in signature.outputs if o.binding}
        completed = completed.model_copy(update={"outputs": outputs})
    return completed.model_copy(update={"outputs": _bound(completed.outputs or {}, signature)})


def _validate(cls: type[S], raw: Mapping[str, Any]) -> S:
    if not isinstance(raw, Mapping):
        raise InvalidInput.single("", "type", "a spec is a JSON/YAML object")
    try:
        return cls.model_validate(dict(raw))
    except ValidationError as exc:
        raise InvalidInput.of(_violations(exc, raw)) from None
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidInput.single("", "type", f"not a valid spec: {exc}") from None


def _common(spec: _FidelitySpec, clock: Clock) -> tuple[ModelSignature, list[Violation]]:
    model = resolve_model(spec.model)
    signature = model.signature
    problems: list[Violation] = []
    start, end = _window(spec, clock)
    if spec.step > end - start:
        problems.append(Violation("step", "range", "the step is longer than the window"))
    elif (end - start) // spec.step > MAX_STEPS:
        problems.append(Violation("step", "quota", f"more than {MAX_STEPS} steps in the window"))
    for name, profile in (spec.inputs or {}).items():
        declared = signature.input(name)
        if declared is None:
            problems.append(
                Violation(f"inputs.{name}", "unknownInput", f"the model has no input {name!r}")
            )
        elif isinstance(profile, Replay) and profile.field is None and declared.binding is None:
            problems.append(
                Violation(
                    f"inputs.{name}.field",
                    "required",
                    "the input has no binding: name the telemetry field to replay",
                )
            )
    return signature, problems


def _window(spec: _FidelitySpec, clock: Clock) -> tuple[int, int]:
    if spec.window.last is not None:
        end = clock()
        return end - spec.window.last, end
    return spec.start, spec.end


def _complete(spec: S, signature: ModelSignature, clock: Clock) -> S:
    """The window resolved, replays given their period, bound inputs replayed by default."""
    start, end = _window(spec, clock)
    window = Window(start=start, end=end)
    if spec.inputs is None:
        inputs: dict[str, Any] = {
            i.name: Replay(start=start, end=end) for i in signature.inputs if i.binding
        }
    else:
        inputs = {
            name: (
                profile.model_copy(
                    update={
                        "start": start if profile.start == 0 else profile.start,
                        "end": profile.end
                        if profile.end is not None
                        else (end if profile.start == 0 else None),
                    }
                )
                if isinstance(profile, Replay)
                else profile
            )
            for name, profile in spec.inputs.items()
        }
    return spec.model_copy(update={"window": window, "inputs": inputs})


def _bound(fields: Mapping[str, str | None], signature: ModelSignature) -> dict[str, str | None]:
    outputs = {o.name: o for o in signature.outputs}
    return {name: field or outputs[name].binding for name, field in fields.items()}


def _check_outputs(
    where: str, fields: Mapping[str, str | None], signature: ModelSignature
) -> list[Violation]:
    problems = []
    for name, field in fields.items():
        declared = next((o for o in signature.outputs if o.name == name), None)
        if declared is None:
            problems.append(
                Violation(f"{where}.{name}", "unknownOutput", f"the model has no output {name!r}")
            )
        elif field is None and declared.binding is None:
            problems.append(
                Violation(
                    f"{where}.{name}",
                    "required",
                    "the output is bound to no telemetry: name the field it is compared with",
                )
            )
    return problems


def _check_values(
    where: str, values: Mapping[str, float], signature: ModelSignature
) -> list[Violation]:
    problems = []
    for name, value in values.items():
        parameter = signature.parameter(name)
        if parameter is None:
            problems.append(
                Violation(
                    f"{where}.{name}", "unknownParameter", f"the model has no parameter {name!r}"
                )
            )
        elif not parameter.admits(value):
            problems.append(
                Violation(
                    f"{where}.{name}",
                    "range",
                    f"{value!r} is outside {parameter.bounds_text()}",
                    value,
                )
            )
    return problems


def _check_calibration(spec: CalibrationSpec, signature: ModelSignature) -> list[Violation]:
    problems = _check_values("fixed", spec.fixed, signature)
    problems += _check_outputs("fit", spec.fit, signature)
    for name, fit in spec.parameters.items():
        where = f"parameters.{name}"
        parameter = signature.parameter(name)
        if parameter is None:
            problems.append(
                Violation(where, "unknownParameter", f"the model has no parameter {name!r}")
            )
            continue
        if name in spec.fixed:
            problems.append(Violation(where, "conflict", "also given in fixed"))
        lower = fit.lower if fit.lower is not None else parameter.lower
        upper = fit.upper if fit.upper is not None else parameter.upper
        if lower is None or upper is None:
            problems.append(
                Violation(where, "required", f"{name} is unbounded: give lower and upper")
            )
            continue
        for bound, value in (("lower", fit.lower), ("upper", fit.upper)):
            if value is not None and not parameter.admits(value):
                problems.append(
                    Violation(
                        f"{where}.{bound}",
                        "range",
                        f"{value!r} is outside the model's {parameter.bounds_text()}",
                        value,
                    )
                )
        if not lower < upper:
            problems.append(
                Violation(where, "range", f"lower {lower!r} is not below upper {upper!r}")
            )
        elif fit.initial is not None and not lower <= fit.initial <= upper:
            problems.append(
                Violation(
                    f"{where}.initial",
                    "range",
                    f"{fit.initial!r} is outside [{lower!r}, {upper!r}]",
                    fit.initial,
                )
            )
    if spec.bootstrap is not None and spec.intervals != "bootstrap":
        problems.append(Violation("bootstrap", "kind", "only used with intervals: bootstrap"))
    if spec.generations is not None and spec.method != "global":
        problems.append(Violation("generations", "kind", "only used with method: global"))
    return problems


def _complete_calibration(spec: CalibrationSpec, signature: ModelSignature) -> CalibrationSpec:
    parameters = {}
    for name, fit in spec.parameters.items():
        declared = signature.parameter(name)
        assert declared is not None  # checked
        parameters[name] = fit.model_copy(
            update={
                "lower": fit.lower if fit.lower is not None else declared.lower,
                "upper": fit.upper if fit.upper is not None else declared.upper,
            }
        )
    update: dict[str, Any] = {"parameters": parameters, "fit": _bound(spec.fit, signature)}
    if spec.intervals == "bootstrap" and spec.bootstrap is None:
        update["bootstrap"] = 100
    if spec.method == "global" and spec.generations is None:
        update["generations"] = 40
    return spec.model_copy(update=update)


def _check_validation(spec: ValidationSpec, signature: ModelSignature) -> list[Violation]:
    problems = _check_values("parameters", spec.parameters, signature)
    for twin, values in spec.twin_parameters.items():
        if twin not in spec.twins:
            problems.append(
                Violation(f"twinParameters.{twin}", "unknownTwin", "not one of the spec's twins")
            )
        problems += _check_values(f"twinParameters.{twin}", values, signature)
    if spec.outputs is not None:
        problems += _check_outputs("outputs", spec.outputs, signature)
    compared = set(spec.outputs or [o.name for o in signature.outputs if o.binding])
    for name in spec.thresholds:
        if name not in compared:
            problems.append(
                Violation(f"thresholds.{name}", "unknownOutput", "not one of the compared outputs")
            )
    if spec.uncertainty is not None:
        for name in spec.uncertainty.noise:
            if name not in compared:
                problems.append(
                    Violation(
                        f"uncertainty.noise.{name}",
                        "unknownOutput",
                        "not one of the compared outputs",
                    )
                )
        covariance = spec.uncertainty.covariance
        if covariance is not None:
            for i, name in enumerate(covariance.parameters):
                if signature.parameter(name) is None:
                    problems.append(
                        Violation(
                            f"uncertainty.covariance.parameters[{i}]",
                            "unknownParameter",
                            f"the model has no parameter {name!r}",
                        )
                    )
    return problems
