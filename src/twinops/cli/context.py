"""How a CLI command reaches twinops: a server (``--url``) or the local data folder."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from twinops.config import Settings, load_settings
from twinops.sdk import ApiError, Client
from twinops.security.entities import Principal, Role

UrlOption = Annotated[
    str | None, typer.Option("--url", envvar="TWINOPS_URL", help="server URL; default: local")
]
DataDirOption = Annotated[
    Path | None, typer.Option("--data-dir", help="local data folder (default ./twinops-data)")
]
ConfigOption = Annotated[Path | None, typer.Option("--config", help="TOML configuration file")]


def settings_for(data_dir: Path | None = None, config: Path | None = None) -> Settings:
    """Settings from the config file and environment, with command-line overrides."""
    return load_settings(config).with_overrides(data_dir=data_dir)


@contextmanager
def open_client(
    url: str | None,
    data_dir: Path | None = None,
    config: Path | None = None,
    *,
    run_jobs: bool = False,
) -> Iterator[Client]:
    """A client for the server at ``url``, or for an in-process app on the local data folder.

    ``run_jobs``: locally, also run queued jobs in this process while the client is open.
    """
    if url:
        with Client(url, os.environ.get("TWINOPS_API_KEY")) as client:
            yield client
        return
    from fastapi.testclient import TestClient

    from twinops.api import create_app
    from twinops.platform import Platform

    settings = settings_for(data_dir, config)
    platform = Platform.open(settings)
    local = Principal(settings.default_tenant, "local-cli", Role.ADMIN, None, "local")
    try:
        if run_jobs:
            platform.start_jobs()
        # The same app a server runs, reached in-process: one code path for both modes.
        app = create_app(platform, local_principal=local)
        with TestClient(app, raise_server_exceptions=False) as http:
            yield Client(http=http)
    finally:
        platform.close()


def emit(value: Any) -> None:
    """Print a JSON result (pretty on a terminal, compact in a pipe)."""
    if sys.stdout.isatty():
        from rich import print_json

        print_json(data=value)
    else:
        print(json.dumps(value, ensure_ascii=False))


def fail(exc: ApiError) -> typer.Exit:
    """Report an API error on stderr and choose the exit code."""
    problem = exc.problem
    typer.echo(f"error: {problem.get('detail') or exc}", err=True)
    for error in problem.get("errors", [])[:50]:
        typer.echo(
            f"  {error.get('field')}: [{error.get('rule')}] {error.get('message')}", err=True
        )
    return typer.Exit(1)


def read_json(path: Path) -> Any:
    """A JSON file (``-`` for stdin), tolerant of a byte-order mark."""
    text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8-sig")
    return json.loads(text)
