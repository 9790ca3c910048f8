"""Dependencies shared by the routes: the platform and the caller's tenant."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from twinops.platform import Platform


# Both are async on purpose: FastAPI would run a sync dependency on the thread pool, a
# thread hop per request for what is an attribute lookup.
async def get_platform(request: Request) -> Platform:
    """The platform the app was built around."""
    platform: Platform = request.app.state.platform
    return platform


async def get_tenant(request: Request) -> str:
    """The caller's tenant (the security issue replaces this with the authenticated one)."""
    tenant: str = request.app.state.platform.settings.default_tenant
    return tenant


PlatformDep = Annotated[Platform, Depends(get_platform)]
TenantDep = Annotated[str, Depends(get_tenant)]
