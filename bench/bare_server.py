"""The bare-FastAPI baseline server: GET /v1/twins/{twin_id} answers a constant JSON body.

Served as ``twinops serve`` serves its app (uvicorn with httptools and uvloop, no access
log) from an ``async`` route, as ours is, so the ratio between the two isolates what twinops
adds per request. Not a benchmark on its own; the read benchmarks start it.

    python bench/bare_server.py --port 8765 --body twin.json [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Response

_BODY: dict[str, Any] = {"$dtId": "x", "$metadata": {"$model": "dtmi:twinops:example:Pump;1"}}


def create_app(body: dict[str, Any]) -> FastAPI:
    """An app with a constant twin endpoint and a health check."""
    app = FastAPI(title="bare baseline")

    @app.get("/healthz")
    def healthz() -> Any:
        return {"status": "ok"}

    @app.get("/v1/twins/{twin_id}")
    async def get_twin(twin_id: str, response: Response) -> Any:
        response.headers["ETag"] = 'W/"constant"'
        return body

    return app


def app_factory() -> FastAPI:
    """Factory for ``uvicorn --factory`` (several workers): the body comes from the env."""
    import os

    path = os.environ.get("BARE_BODY_FILE")
    return create_app(json.loads(Path(path).read_text()) if path else _BODY)


def main(argv: list[str] | None = None) -> int:
    """Serve the baseline until terminated."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    parser.add_argument("--body", type=Path, default=None, help="JSON file to answer with")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    args = parser.parse_args(argv)
    import uvicorn

    if args.workers > 1:
        import os

        if args.body is not None:
            os.environ["BARE_BODY_FILE"] = str(args.body.resolve())
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        uvicorn.run(
            "bare_server:app_factory",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            access_log=False,
        )
        return 0
    body = json.loads(args.body.read_text()) if args.body else _BODY
    uvicorn.run(create_app(body), host=args.host, port=args.port, access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
