"""``twinops retention``: show, set and apply history retention policies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from twinops.cli.context import DataDirOption, UrlOption, emit, fail, open_client, read_json
from twinops.sdk import ApiError

app = typer.Typer(
    help="Retention: how long history is kept per model and field.", no_args_is_help=True
)

PolicyFile = Annotated[
    Path,
    typer.Argument(
        help='JSON: {"policies": [{"model", "field", "keep"}]} or the bare list (\'-\': stdin)'
    ),
]


@app.command()
def show(url: UrlOption = None, data_dir: DataDirOption = None) -> None:
    """Show the tenant's retention policies."""
    with open_client(url, data_dir) as client:
        try:
            emit(client.retention_policies())
        except ApiError as exc:
            raise fail(exc) from exc


@app.command("set")
def set_policies(file: PolicyFile, url: UrlOption = None, data_dir: DataDirOption = None) -> None:
    """Replace the tenant's retention policies with the ones in FILE."""
    try:
        body = read_json(file)
    except (OSError, json.JSONDecodeError) as exc:
        raise typer.BadParameter(f"{file}: {exc}") from exc
    if not isinstance(body, dict | list):
        raise typer.BadParameter(f"{file}: expected a JSON object or array")
    with open_client(url, data_dir) as client:
        try:
            emit(client.set_retention_policies(body))
        except ApiError as exc:
            raise fail(exc) from exc


@app.command()
def apply(url: UrlOption = None, data_dir: DataDirOption = None) -> None:
    """Enforce the policies now; prints the history rows deleted per field."""
    with open_client(url, data_dir) as client:
        try:
            emit(client.apply_retention())
        except ApiError as exc:
            raise fail(exc) from exc
