"""Dependencies shared by the routes: the platform, and the authenticated caller by role.

A route names the least role it needs in its signature (``caller: Viewer``, ``Modeler``...);
``tests/api/test_route_security.py`` walks every route and fails when one names none.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, ParamSpec, TypeVar

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from twinops.errors import Forbidden, Unauthorized
from twinops.platform import Platform
from twinops.security.entities import Principal, Role

P = ParamSpec("P")
T = TypeVar("T")


# Async on purpose: FastAPI would run a sync dependency on the thread pool, a thread hop per
# request for an attribute lookup.
async def get_platform(request: Request) -> Platform:
    """The platform the app was built around."""
    platform: Platform = request.app.state.platform
    return platform


async def point_read(
    platform: Platform, read: Callable[P, T], *args: P.args, **kwargs: P.kwargs
) -> T:
    """Run a primary-key read: inline on SQLite, on the thread pool on a server database.

    An indexed SQLite read takes tens of microseconds, less than the hop to a pool thread and
    back; a PostgreSQL round trip must not hold up the event loop.
    """
    if platform.db.is_sqlite:
        return read(*args, **kwargs)
    return await run_in_threadpool(read, *args, **kwargs)


def caller_of(request: Request) -> Principal:
    """The principal the authentication middleware attached to this request."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:
        # Only reachable for a guarded route mounted outside /v1: refuse rather than guess.
        raise Unauthorized("send Authorization: Bearer <API key or token>")
    return principal


def require(role: Role) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency admitting callers whose role includes ``role``."""

    async def caller(request: Request) -> Principal:
        principal = caller_of(request)
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
