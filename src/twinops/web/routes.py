"""The console's shell and assets: open to everyone, like ``/healthz``; no data flows here.

The shell (``/`` and ``/console``) and the files under ``/console/assets/`` load without a
key; the app then asks for an API key, keeps it in ``sessionStorage`` and calls ``/v1/...``
with ``Authorization: Bearer``. Plain Starlette routes, not API operations: they are not in
the OpenAPI document and need no role.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

STATIC_DIR = Path(__file__).resolve().parent / "static"
ASSETS_PREFIX = "/console/assets"

# Module scripts need a JavaScript type; the system's mime table may lack or differ on these.
for _type, _ext in (
    ("text/javascript", ".js"),
    ("text/javascript", ".mjs"),
    ("text/css", ".css"),
    ("image/svg+xml", ".svg"),
):
    mimetypes.add_type(_type, _ext)

# Everything the console loads comes from this server; data only from /v1 on the same origin.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


async def shell(request: Request) -> Response:
    """The single page; the app routes by URL fragment (``#/twins/pump-01-01-01``)."""
    index = STATIC_DIR / "index.html"
    if not index.is_file():  # pragma: no cover - a broken installation
        return PlainTextResponse("the console's files are not installed", status_code=503)
    headers = {**SECURITY_HEADERS, "Cache-Control": "no-cache"}
    return FileResponse(index, media_type="text/html; charset=utf-8", headers=headers)


class ConsoleAssets(StaticFiles):
    """The console's static files, with the same security headers as the shell."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a file, adding the headers to the response start."""

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                for name, value in SECURITY_HEADERS.items():
                    headers.append((name.lower().encode(), value.encode()))
                headers.append((b"cache-control", b"no-cache"))
                message["headers"] = headers
            await send(message)

        await super().__call__(scope, receive, send_with_headers)


def console_routes() -> list[Route | Mount]:
    """The routes to add to the app: the shell at ``/`` and ``/console``, assets below."""
    return [
        Route("/", shell, methods=["GET", "HEAD"], include_in_schema=False),
        Route("/console", shell, methods=["GET", "HEAD"], include_in_schema=False),
        Route("/console/", shell, methods=["GET", "HEAD"], include_in_schema=False),
        Mount(ASSETS_PREFIX, app=ConsoleAssets(directory=STATIC_DIR), name="console-assets"),
    ]
