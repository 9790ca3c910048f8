"""Dependencies shared by the routes: the platform, and the authenticated caller by role.

A route names the least role it needs in its signature (``caller: Viewer``, ``Modeler``...);
``tests/api/test_route_security.py`` walks every route and fails when one names none.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from twinops.errors import Forbidden, TooManyRequests
from twinops.platform import Platform
from twinops.security.entities import Principal, Role
from twinops.security.service import SecurityService


# Async on purpose: FastAPI would run a sync dependency on the thread pool, a thread hop per
# request for an attribute lookup.
async def get_platform(request: Request) -> Platform:
    """The platform the app was built around."""
    platform: Platform = request.app.state.platform
    return platform


async def authenticate(request: Request) -> Principal:
    """The caller behind the Authorization header (or the in-process CLI's local principal)."""
    header = request.headers.get("authorization")
    local: Principal | None = request.app.state.local_principal
    if local is not None and header is None:
        return local
    security: SecurityService = request.app.state.platform.security
    principal = security.cached_principal(header)
    if principal is None:
        principal = await run_in_threadpool(security.authenticate, header)
    wait = request.app.state.rate_limiter.check(principal.key_id or principal.actor)
    if wait is not None:
        raise TooManyRequests("over this key's request rate; slow down", retry_after=wait)
    request.state.principal = principal
    return principal


def require(role: Role) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency admitting callers whose role includes ``role``."""

    async def caller(request: Request) -> Principal:
        principal = await authenticate(request)
        if not principal.role.allows(role):
            raise Forbidden(f"this needs the {role} role; the caller is a {principal.role}")
        return principal

    caller.required_role = role  # type: ignore[attr-defined]
    return caller


PlatformDep = Annotated[Platform, Depends(get_platform)]
Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
Modeler = Annotated[Principal, Depends(require(Role.MODELER))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
