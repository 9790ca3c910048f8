"""RFC 7807 problem details: every error the API returns, built in one place."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from twinops.api.limits import retry_after_header
from twinops.errors import Overloaded, TooManyRequests, TwinOpsError, Unauthorized, Violation

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("twinops.api")

_TITLES = {
    400: "Malformed input",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    411: "Length required",
    412: "Precondition failed",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    503: "Service unavailable",
}


def problem(
    status: int,
    detail: str,
    *,
    code: str | None = None,
    title: str | None = None,
    instance: str | None = None,
    violations: tuple[Violation, ...] | list[Violation] = (),
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A problem-details response."""
    body: dict[str, Any] = {
        "type": f"urn:twinops:problem:{code or status}",
        "title": title or _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if violations:
        body["errors"] = [v.to_json() for v in violations]
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _location(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        kind, rest = parts[0], parts[1:]
        return f"{kind}:/{'/'.join(rest)}" if kind != "body" else "/" + "/".join(rest)
    return "/" + "/".join(parts)


def error_problem(exc: TwinOpsError, instance: str) -> JSONResponse:
    """The problem document for a twinops error, with the headers its status calls for."""
    headers: dict[str, str] | None = None
    if isinstance(exc, TooManyRequests | Overloaded):
        headers = {"Retry-After": retry_after_header(exc.retry_after)}
    elif isinstance(exc, Unauthorized):
        headers = {"WWW-Authenticate": 'Bearer realm="twinops"'}
    return problem(
        exc.status,
        exc.detail,
        code=exc.code,
        title=exc.title,
        instance=instance,
        violations=exc.violations,
        headers=headers,
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Map the twinops exception tree, validation errors and HTTP errors to problems."""

    @app.exception_handler(TwinOpsError)
    async def _twinops_error(request: Request, exc: TwinOpsError) -> JSONResponse:
        return error_problem(exc, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _request_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        violations = []
        malformed = False
        for error in exc.errors():
            kind = str(error.get("type", "invalid"))
            malformed = malformed or kind == "json_invalid"
            violations.append(
                Violation(
                    _location(error.get("loc", ())),
                    "json" if kind == "json_invalid" else kind,
                    str(error.get("msg", "invalid")),
                )
            )
        status = 400 if malformed else 422
        detail = (
            "the request body is not valid JSON"
            if malformed
            else f"{violations[0].field}: {violations[0].message}"
        )
        return problem(
            status,
            detail,
            code="malformed-input" if malformed else "invalid-input",
            instance=request.url.path,
            violations=violations,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(
            exc.status_code,
            str(exc.detail),
            instance=request.url.path,
            headers=dict(exc.headers) if exc.headers else None,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The trace goes to the log, never to the caller.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(500, "the server could not complete the request", code="internal")
