"""The request middleware: a request id, a server span and the HTTP metrics of every request.

Plain ASGI (no web framework import). It runs outermost, so requests refused by the
authentication or the size limits are measured too. Routes are labelled by their template
(``/v1/twins/{twin_id}``), read from the scope after routing; a request no route matched is
labelled ``unmatched``, so label values stay bounded whatever paths callers send.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from opentelemetry.trace import SpanKind, Status, StatusCode

from twinops.obs import logs, tracing
from twinops.obs.metrics import Metrics

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

REQUEST_ID_HEADER = "x-request-id"
UNMATCHED = "unmatched"
log = logging.getLogger("twinops.http")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def route_template(scope: Scope) -> str | None:
    """The template of the route the router matched, or None before routing."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else None


Leaf = tuple[re.Pattern[str], frozenset[str] | None, str]


def leaf_routes(routes: Iterable[Any]) -> list[Leaf]:
    """Every routable path of an app (inside included routers too): regex, methods, template."""
    leaves: list[Leaf] = []
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            leaves.extend(leaf_routes(getattr(inner, "routes", ())))
            continue
        regex, path = getattr(route, "path_regex", None), getattr(route, "path", None)
        if isinstance(regex, re.Pattern) and isinstance(path, str):
            methods = getattr(route, "methods", None)
            leaves.append((regex, frozenset(methods) if methods else None, path))
    return leaves


class _Answer:
    """What the app answered so far: the status (500 until a response starts)."""

    __slots__ = ("status",)

    def __init__(self) -> None:
        self.status = 500


class ObserveRequests:
    """Sets the request id, opens the server span, records latency by route template.

    ``access_log``: ``all`` logs a line per request; ``problems`` only 4xx/5xx answers and
    requests slower than ``slow_seconds`` (the metrics count every request either way);
    ``off`` none.
    """

    def __init__(
        self,
        app: ASGIApp,
        metrics: Metrics,
        access_log: str = "problems",
        slow_seconds: float = 1.0,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log
        self.slow_seconds = slow_seconds
        self._leaves: list[Leaf] | None = None

    def logs_request(self, status: int, seconds: float) -> bool:
        """Whether the access log takes a request that ended so."""
        if self.access_log == "problems":
            return status >= 400 or seconds >= self.slow_seconds
        return self.access_log == "all"

    def route(self, scope: Scope) -> str:
        """The route template of a request (``unmatched`` when no route takes its path).

        A request answered before routing (401, 413, 429 from the middlewares) is matched
        against the app's routes here, so it is labelled by its template too.
        """
        found = route_template(scope)
        if found is not None:
            return found
        if self._leaves is None:
            router = getattr(scope.get("app"), "router", None)
            self._leaves = leaf_routes(getattr(router, "routes", ()))
        path, method = str(scope.get("path", "")), str(scope.get("method", ""))
        partial = UNMATCHED
        for regex, methods, template in self._leaves:
            if regex.match(path):
                if methods is None or method in methods:
                    return template
                if partial == UNMATCHED:
                    partial = template  # the path matches, the method does not (405)
        return partial

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = str(scope.get("method", "GET"))
        request_id = logs.new_request_id(_header(scope, b"x-request-id"))
        token = logs.REQUEST_ID.set(request_id)
        answer = _Answer()
        echo = (b"x-request-id", request_id.encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer.status = int(message["status"])
                message["headers"] = [*message.get("headers", ()), echo]
            await send(message)

        started = time.perf_counter()
        self.metrics.http_in_flight.inc()
        parent = _header(scope, b"traceparent")
        try:
            if parent is None and not tracing.recording():
                # No span to record and none to continue: spare every request a no-op span.
                await self.app(scope, receive, send_with_id)
            else:
                await self._traced(scope, receive, send_with_id, answer, request_id, parent)
        finally:
            seconds = time.perf_counter() - started
            route, status = self.route(scope), answer.status
            self.metrics.http_in_flight.dec()
            self.metrics.http_request(method, route, status, seconds)
            if self.logs_request(status, seconds) and log.isEnabledFor(logging.INFO):
                log.info("%s %s %d %.1f ms", method, route, status, seconds * 1000)
            logs.REQUEST_ID.reset(token)

    async def _traced(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        answer: _Answer,
        request_id: str,
        parent: str | None,
    ) -> None:
        """Serve the request in a server span named after its route template."""
        method = str(scope.get("method", "GET"))
        with tracing.span(
            f"HTTP {method}",
            {"http.request.method": method, "twinops.request_id": request_id},
            kind=SpanKind.SERVER,
            parent=parent,
        ) as span:
            try:
                await self.app(scope, receive, send)
            finally:
                route = self.route(scope)
                if span.is_recording():
                    span.update_name(f"HTTP {method} {route}")
                    span.set_attribute("http.route", route)
                    span.set_attribute("http.response.status_code", answer.status)
                    if answer.status >= 500:
                        span.set_status(Status(StatusCode.ERROR))
