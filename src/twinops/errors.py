"""The twinops exception tree, mapped to HTTP statuses in one place (``api.problems``).

TwinOpsError                  500  anything unexpected the platform raised on purpose
├── InvalidInput              422  a value breaks a rule; carries the field, rule and value
│   ├── MalformedInput        400  the request could not be decoded at all
│   └── ModelInvalid          422  DTDL documents that are not a valid model set
├── NotFound                  404  an id that does not exist (in this tenant)
├── Conflict                  409  the request clashes with stored state
├── PreconditionFailed        412  an If-Match ETag is stale
└── PreconditionRequired      428  a write that must say which version it replaces
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any, Self

_NO_VALUE: Any = object()


@dataclass(frozen=True)
class Violation:
    """One broken rule: where (``field``, a JSON pointer or dotted name), which rule, and why."""

    field: str
    rule: str
    message: str
    value: Any = dataclass_field(default=_NO_VALUE, compare=False)

    @property
    def has_value(self) -> bool:
        """True when the offending value is known and may be echoed back."""
        return self.value is not _NO_VALUE

    def to_json(self) -> dict[str, Any]:
        """The violation as it appears in a problem document."""
        out: dict[str, Any] = {"field": self.field, "rule": self.rule, "message": self.message}
        if self.has_value:
            out["value"] = _echo(self.value)
        return out


_ECHO_LIMIT = 200


def _echo(value: Any) -> Any:
    """The offending value as it may be echoed: JSON-safe, and short."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str | int | float | bool) or value is None:
        return value[:_ECHO_LIMIT] if isinstance(value, str) else value
    text = json.dumps(value, default=str, allow_nan=True)
    if len(text) > _ECHO_LIMIT or "Infinity" in text or "NaN" in text:
        return text[:_ECHO_LIMIT]
    return value


class TwinOpsError(Exception):
    """Base of every error the platform raises on purpose."""

    status = 500
    title = "Internal error"
    code = "internal"

    def __init__(self, detail: str, violations: Sequence[Violation] = ()) -> None:
        super().__init__(detail)
        self.detail = detail
        self.violations = tuple(violations)


class InvalidInput(TwinOpsError):
    """A value breaks a rule of the model, the API or the configuration."""

    status = 422
    title = "Invalid input"
    code = "invalid-input"

    @classmethod
    def single(cls, field: str, rule: str, message: str, value: Any = _NO_VALUE) -> Self:
        """An error for exactly one violation, whose message becomes the detail."""
        return cls(f"{field}: {message}", [Violation(field, rule, message, value)])

    @classmethod
    def of(cls, violations: Sequence[Violation]) -> Self:
        """An error summarising several violations."""
        first = violations[0]
        more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
        return cls(f"{first.field}: {first.message}{more}", violations)


class MalformedInput(InvalidInput):
    """The request body or parameter could not be decoded (bad JSON, bad syntax)."""

    status = 400
    title = "Malformed input"
    code = "malformed-input"


class ModelInvalid(InvalidInput):
    """A set of DTDL documents failed validation."""

    title = "Invalid DTDL"
    code = "invalid-model"


class Unauthorized(TwinOpsError):
    """No credentials, or credentials that are unknown, expired or revoked."""

    status = 401
    title = "Unauthorized"
    code = "unauthorized"


class Forbidden(TwinOpsError):
    """The caller is known but its role does not allow this action."""

    status = 403
    title = "Forbidden"
    code = "forbidden"


class PayloadTooLarge(TwinOpsError):
    """A request body or batch is over the configured limit."""

    status = 413
    title = "Payload too large"
    code = "payload-too-large"


class TooManyRequests(TwinOpsError):
    """The caller is over its rate limit; ``retry_after`` says when to come back."""

    status = 429
    title = "Too many requests"
    code = "rate-limited"

    def __init__(self, detail: str, retry_after: float) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class Overloaded(TwinOpsError):
    """The server is at its bounded capacity for this work; ``retry_after`` says when to retry."""

    status = 503
    title = "Overloaded"
    code = "overloaded"

    def __init__(self, detail: str, retry_after: float) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class NotFound(TwinOpsError):
    """The named resource does not exist (or belongs to another tenant)."""

    status = 404
    title = "Not found"
    code = "not-found"


class Conflict(TwinOpsError):
    """The request clashes with what is stored (duplicate id, model in use, ...)."""

    status = 409
    title = "Conflict"
    code = "conflict"


class PreconditionFailed(TwinOpsError):
    """An If-Match / If-None-Match precondition did not hold."""

    status = 412
    title = "Precondition failed"
    code = "precondition-failed"
