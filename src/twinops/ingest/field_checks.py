"""Per-batch plans for ingest's fast path: one field, one source unit, checked cheaply.

A plan answers only "certainly accepted, with this value": the unit conversion ``convert``
would do (the same cached affine map, applied the same way, so the float is bit-identical) and
a test that is True only for values ``validate_value`` accepts. Whenever a plan is not sure
(a non-finite result, a value of another type, a value at a range edge) the pipeline runs its
full checks, which word every rejection, so plans never change what is accepted or why.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from twinops.errors import InvalidInput
from twinops.ingest.units import Affine, conversion
from twinops.models.dtdl import PrimitiveSchema, Property, Schema, Telemetry, validate_value
from twinops.models.dtdl.validate_values import FLOAT_MAX, INTEGER_RANGES

__all__ = ["FieldPlan", "plan_field", "value_acceptor"]

Acceptor = Callable[[Any], bool]

# Every int below this converts to a finite float, so validate_value's isfinite() cannot fail.
_FINITE_INT: Final = 2**1023
_INT32_LOW, _INT32_HIGH = INTEGER_RANGES["integer"]
_INT64_LOW, _INT64_HIGH = INTEGER_RANGES["long"]


@dataclass(frozen=True, slots=True)
class FieldPlan:
    """How points of one field sent in one unit are accepted without the full checks."""

    converts: bool
    """The full path converts numbers (the point or the field has a unit)."""
    affine: Affine | None
    """The map it applies (None: numbers pass unchanged, as ``float``)."""
    accepts: Acceptor
    """True only for (converted) values the field's schema accepts."""


def plan_field(content: Telemetry | Property, unit: str | None) -> FieldPlan | None:
    """The fast checks of a field's points in ``unit``; None: every point takes the full path."""
    converts = unit is not None or content.unit is not None
    affine = None
    if converts:
        try:
            affine = conversion(unit, content.unit)
        except InvalidInput:
            return None  # every number is refused; the full path says why
    return FieldPlan(converts, affine, value_acceptor(content.schema))


def value_acceptor(schema: Schema) -> Acceptor:
    """A test that is True only when ``validate_value(schema, value)`` finds nothing wrong.

    False does not mean invalid, only "ask validate_value": exact types are required (no bool
    for a number, no str subclass), which is what decoded JSON holds.
    """
    if isinstance(schema, PrimitiveSchema):
        fast = _PRIMITIVES.get(schema.name)
        if fast is not None:
            return fast
    return functools.partial(_validates, schema)


def _validates(schema: Schema, value: Any) -> bool:
    return not validate_value(schema, value, "/value")


def _double(value: Any) -> bool:
    kind = type(value)
    if kind is float:
        return math.isfinite(value)
    return kind is int and -_FINITE_INT < value < _FINITE_INT


def _float(value: Any) -> bool:
    kind = type(value)
    # The comparisons also refuse NaN and the infinities.
    return (kind is float or kind is int) and -FLOAT_MAX <= value <= FLOAT_MAX


def _integer(value: Any) -> bool:
    return type(value) is int and _INT32_LOW <= value <= _INT32_HIGH


def _long(value: Any) -> bool:
    return type(value) is int and _INT64_LOW <= value <= _INT64_HIGH


def _boolean(value: Any) -> bool:
    return type(value) is bool


def _string(value: Any) -> bool:
    return type(value) is str


_PRIMITIVES: Final[dict[str, Acceptor]] = {
    "double": _double,
    "float": _float,
    "integer": _integer,
    "long": _long,
    "boolean": _boolean,
    "string": _string,
}
