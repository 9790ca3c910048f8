"""Model references (``package.module:Class``): which may be loaded, and loading them.

A reference names a class deriving from :class:`BehaviorModel` with a no-argument constructor.
Only modules under an allowed prefix are imported — ``twinops.sim.library`` always, plus the
comma-separated prefixes of ``TWINOPS_SIM_MODEL_MODULES`` — because importing a module runs its
code, and a spec must not be able to run arbitrary installed modules.
"""

from __future__ import annotations

import importlib
import os
import re

from twinops.errors import InvalidInput
from twinops.sim.model import BehaviorModel, ModelInfo

ENV_MODULES = "TWINOPS_SIM_MODEL_MODULES"
BUILTIN_PREFIXES = ("twinops.sim.library",)
REFERENCE = re.compile(
    r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$"
)


def allowed_prefixes() -> tuple[str, ...]:
    """The module prefixes references may name."""
    extra = os.environ.get(ENV_MODULES, "")
    return BUILTIN_PREFIXES + tuple(p.strip() for p in extra.split(",") if p.strip())


def _allowed(module: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in allowed_prefixes())


def resolve_model(reference: str, field: str = "model") -> BehaviorModel:
    """An instance of the referenced model; InvalidInput (rule ``unknownModel``) otherwise."""
    if not isinstance(reference, str) or not REFERENCE.match(reference):
        raise InvalidInput.single(
            field, "format", "a model reference looks like package.module:Class", reference
        )
    module_name, _, class_name = reference.partition(":")
    if not _allowed(module_name):
        raise InvalidInput.single(
            field,
            "unknownModel",
            f"models are loaded only from {', '.join(allowed_prefixes())}",
            reference,
        )
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError:
        raise InvalidInput.single(
            field, "unknownModel", "no such model module", reference
        ) from None
    except Exception as exc:  # a broken model module is the spec's problem, not a crash
        message = f"the model module failed to import: {type(exc).__name__}: {exc}"
        raise InvalidInput.single(field, "unknownModel", message, reference) from exc
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, BehaviorModel)):
        raise InvalidInput.single(
            field, "unknownModel", f"{module_name} has no behavior model {class_name}", reference
        )
    try:
        return cls()
    except Exception as exc:
        message = f"the model cannot be created: {type(exc).__name__}: {exc}"
        raise InvalidInput.single(field, "unknownModel", message, reference) from exc


def model_info(reference: str, model: BehaviorModel) -> ModelInfo:
    """What a run records about its model: reference, name, version, engine, code hash."""
    signature = model.signature
    return ModelInfo(
        reference=reference,
        name=signature.name,
        version=signature.version,
        engine=model.engine,
        code_sha256=model.code_sha256(),
    )
