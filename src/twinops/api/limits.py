"""Request limits: a cap on request body size (ASGI middleware) and per-key rate limiting."""

from __future__ import annotations

import json
import math
import re
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from twinops.errors import MalformedInput, PayloadTooLarge

PROBLEM_JSON = "application/problem+json"  # same value as api.problems; not imported, see below

# ASCII digits only: int() would also accept "+5", " 5" and "5_0", which are not valid
# Content-Length values and could make this layer and the server disagree on the length.
_DIGITS = re.compile(rb"[0-9]+")
# Any length with more digits than this is over every sane limit; checking the digit count
# first keeps int() away from huge strings (and its 4300-digit conversion guard).
_MAX_LENGTH_DIGITS = 18
_INVALID = -1  # what _declared_length returns for a malformed header


class BodyTooLarge(PayloadTooLarge):
    """Raised from ``receive`` when the body read so far is over the limit.

    It is a ``PayloadTooLarge`` so that, should it reach the app's exception handlers (an
    endpoint reading the stream itself), it is treated as the client error it is rather than
    logged as an unexpected 500; ``BodySizeLimit`` replaces whatever the app answers anyway.
    """


# The middleware writes its two responses itself instead of going through ``api.problems``:
# that module imports FastAPI and the exception tree handlers, and this one must stay usable
# around any ASGI app (and cheap on the path every request takes). The body has the same shape.
async def send_problem(
    send: Send, scope: Scope, status: int, code: str, title: str, detail: str
) -> None:
    """Send a complete RFC 7807 problem response (and ask the server to close the connection)."""
    body: dict[str, object] = {
        "type": f"urn:twinops:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    path = scope.get("path")
    if path:
        body["instance"] = path
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(payload)).encode()),
                # The rest of the body may still be on the wire, unread: reusing the
                # connection would make the server parse it as the next request.
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def _declared_length(scope: Scope) -> int | None:
    """The request's Content-Length: None if absent, ``_INVALID`` if malformed."""
    values = {
        value.strip() for name, value in scope.get("headers", ()) if name == b"content-length"
    }
    if not values:
        return None
    # Repeated identical values are allowed (RFC 9110 8.6); differing ones are an attack or a bug.
    if len(values) > 1:
        return _INVALID
    value: bytes = values.pop()
    if not _DIGITS.fullmatch(value):
        return _INVALID
    digits = value.lstrip(b"0") or b"0"
    if len(digits) > _MAX_LENGTH_DIGITS:
        return sys.maxsize  # over any limit, whatever the exact value
    return int(digits)


class BodySizeLimit:
    """Pure ASGI middleware refusing HTTP request bodies over ``max_bytes`` with a 413 problem.

    A declared Content-Length over the limit is refused before the app runs. Otherwise the bytes
    are counted as the app reads them, so chunked uploads (no Content-Length) and bodies longer
    than declared are caught too: ``receive`` raises ``BodyTooLarge``, the app's response to
    that is discarded and replaced by the 413. If the app had already started its response, no
    413 can be sent any more; the middleware just stops the app from reading further.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes must be >= 0")
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app with the body limit enforced (non-HTTP scopes pass through)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        declared = _declared_length(scope)
        if declared == _INVALID:
            await send_problem(
                send,
                scope,
                400,
                MalformedInput.code,
                MalformedInput.title,
                "the Content-Length header is not a valid non-negative integer",
            )
            return
        if declared is not None and declared > self.max_bytes:
            await send_problem(
                send, scope, 413, PayloadTooLarge.code, PayloadTooLarge.title, self._detail()
            )
            return

        received = 0
        exceeded = False
        started = False  # a response start has reached the server

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:  # the app caught the first BodyTooLarge and tried again
                raise BodyTooLarge(self._detail())
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise BodyTooLarge(self._detail())
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            # Once the limit is hit, whatever the app answers (FastAPI turns the exception into
            # a 400 "error parsing the body") is a side effect of the abort: drop it so the
            # 413 below is the response, unless the app's response was already under way.
            if exceeded and not started:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            # After the abort, anything the app raises is fallout from it, not a server error
            # worth a traceback; before it, errors are the app's and propagate unchanged.
            if not exceeded:
                raise
        if exceeded and not started:
            await send_problem(
                send, scope, 413, PayloadTooLarge.code, PayloadTooLarge.title, self._detail()
            )

    def _detail(self) -> str:
        return f"the request body is over the {self.max_bytes}-byte limit"


class RateLimiter:
    """Thread-safe in-process token buckets, one per key (client, API key, tenant, ...).

    Each bucket holds up to ``burst`` tokens and refills at ``rate_per_second``; a request costs
    ``cost`` tokens. A rate of 0 or less disables limiting. Memory stays bounded: a bucket that
    has had time to refill completely is indistinguishable from a new one and is dropped, and
    the table never holds more than ``max_keys`` buckets (least recently used go first).
    """

    def __init__(
        self,
        rate_per_second: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        *,
        max_keys: int = 100_000,
    ) -> None:
        self.rate = float(rate_per_second)
        self.unlimited = not self.rate > 0  # also true for NaN
        if not self.unlimited and burst < 1:
            raise ValueError("burst must be >= 1 when the rate is limited")
        if max_keys < 1:
            raise ValueError("max_keys must be >= 1")
        self.burst = burst
        self.max_keys = max_keys
        self._clock = clock
        self._lock = threading.Lock()
        # key -> (tokens, time of last update), ordered from least to most recently used.
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def __len__(self) -> int:
        """How many keys currently have a bucket."""
        with self._lock:
            return len(self._buckets)

    def check(self, key: str, cost: float = 1.0) -> float | None:
        """Take ``cost`` tokens for ``key``: None if allowed, else seconds until it would be."""
        if self.unlimited:
            return None
        if not 0 <= cost <= self.burst:
            # A cost over the burst could never be paid; saying "retry later" would be a lie.
            raise ValueError(f"cost must be between 0 and the burst ({self.burst}), got {cost}")
        with self._lock:
            now = self._clock()
            self._evict_full(now)
            bucket = self._buckets.pop(key, None)
            if bucket is None:
                tokens = float(self.burst)
            else:
                held, last = bucket
                # max(): a clock that steps back must not drain the bucket.
                tokens = min(float(self.burst), held + max(0.0, now - last) * self.rate)
            wait: float | None = None
            if tokens >= cost:
                tokens -= cost
            else:
                wait = (cost - tokens) / self.rate
            # Re-inserted at the end: the table stays ordered by last use.
            self._buckets[key] = (tokens, now)
            if len(self._buckets) > self.max_keys:
                # Over the cap the oldest key loses its state and later starts with a full
                # bucket: a small leniency for one idle client, in exchange for bounded memory.
                self._buckets.popitem(last=False)
            return wait

    def _evict_full(self, now: float) -> None:
        """Drop buckets idle long enough to be full again, oldest first (lock held)."""
        # Any bucket refills completely within burst / rate seconds, and the table is ordered
        # by last use, so scanning from the oldest can stop at the first recently used bucket:
        # the cost is proportional to what is evicted, not to the table size.
        refill_all = self.burst / self.rate
        while self._buckets:
            key, (_, last) = next(iter(self._buckets.items()))
            if now - last < refill_all:
                break
            del self._buckets[key]


def retry_after_header(seconds: float) -> str:
    """A ``Retry-After`` value: the wait rounded up to whole seconds, at least 1."""
    if not math.isfinite(seconds):
        raise ValueError(f"retry-after must be finite, got {seconds}")
    return str(max(1, math.ceil(seconds)))
