"""What the registry needs to know about a behavior model, read from its signature."""

from __future__ import annotations

from twinops.registry.service import InspectedModel
from twinops.sim.references import model_info, resolve_model


def inspect_model(reference: str) -> InspectedModel:
    """The referenced model's code hash, parameter bounds, outputs and twin models."""
    model = resolve_model(reference)
    signature = model.signature
    return InspectedModel(
        reference=reference,
        code_sha256=model_info(reference, model).code_sha256,
        parameters={p.name: (p.lower, p.upper) for p in signature.parameters},
        outputs=frozenset(signature.output_names),
        twin_models=tuple(signature.twin_models),
    )
