"""Authentication as ASGI middleware: callers are known before any body is read or parsed.

Doing it in a route dependency would let FastAPI decode the body first, so a caller without
credentials could learn how its body parses (400) instead of being told to authenticate (401).
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from twinops.api.limits import RateLimiter
from twinops.api.problems import error_problem
from twinops.errors import TooManyRequests, TwinOpsError
from twinops.security.entities import Principal
from twinops.security.service import SecurityService

GUARDED_PREFIX = "/v1/"


class Authenticate:
    """Resolve the caller of every ``/v1`` request, or answer 401/429 without calling the app."""

    def __init__(
        self,
        app: ASGIApp,
        security: SecurityService,
        limiter: RateLimiter,
        local_principal: Principal | None = None,
    ) -> None:
        self.app = app
        self.security = security
        self.limiter = limiter
        self.local_principal = local_principal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Attach the principal to the request state, or answer with a problem."""
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(GUARDED_PREFIX):
            await self.app(scope, receive, send)
            return
        try:
            principal = await self._principal(Headers(scope=scope).get("authorization"))
        except TwinOpsError as exc:
            await error_problem(exc, str(scope.get("path")))(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)

    async def _principal(self, header: str | None) -> Principal:
        if self.local_principal is not None and header is None:
            return self.local_principal
        principal = self.security.cached_principal(header)
        if principal is None:
            principal = await run_in_threadpool(self.security.authenticate, header)
        wait = self.limiter.check(principal.key_id or principal.actor)
        if wait is not None:
            raise TooManyRequests("over this key's request rate; slow down", retry_after=wait)
        return principal
