"""``twinops registry``: registered model versions, aliases, evidence and the promotion gate."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from twinops.cli.context import DataDirOption, UrlOption, emit, fail, open_client
from twinops.cli.jobs import read_spec
from twinops.sdk import ApiError

app = typer.Typer(
    help="Model registry: versions, aliases (production, candidate...), evidence, gates.",
    no_args_is_help=True,
)

Name = Annotated[str, typer.Argument(help="the registered model's name, e.g. pump")]
Alias = Annotated[str, typer.Argument(help="an alias: production, candidate, or your own")]


@app.command("list")
def list_models(url: UrlOption = None, data_dir: DataDirOption = None) -> None:
    """List registered models with their latest version and aliases."""
    with open_client(url, data_dir) as client:
        try:
            emit(client.registered_models())
        except ApiError as exc:
            raise fail(exc) from exc


@app.command()
def show(
    name: Name,
    version: Annotated[
        str | None, typer.Argument(help="a version number or alias; all versions if left out")
    ] = None,
    url: UrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Show a model's versions, or one version with its evidence and gate."""
    with open_client(url, data_dir) as client:
        try:
            emit(
                client.registered_model(name)
                if version is None
                else client.model_version(name, version)
            )
        except ApiError as exc:
            raise fail(exc) from exc


@app.command()
def register(
    name: Name,
    file: Annotated[Path, typer.Argument(help="the version: YAML or JSON ('-': stdin)")],
    url: UrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Register a new version of NAME from FILE (model, parameters, thresholds...)."""
    body = read_spec(file)
    with open_client(url, data_dir) as client:
        try:
            emit(client.register_version(name, body))
        except ApiError as exc:
            raise fail(exc) from exc


@app.command()
def alias(
    name: Name,
    alias: Alias,
    version: Annotated[int, typer.Argument(help="the version the alias will point at")],
    reason: Annotated[str, typer.Option(help="why, for the audit log")] = "",
    url: UrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Move ALIAS to VERSION (production: admin only, and the promotion gate must pass)."""
    with open_client(url, data_dir) as client:
        try:
            emit(client.move_alias(name, alias, version, reason))
        except ApiError as exc:
            raise fail(exc) from exc


@app.command()
def rollback(
    name: Name, alias: Alias, url: UrlOption = None, data_dir: DataDirOption = None
) -> None:
    """Move ALIAS back to where it pointed before its last move."""
    with open_client(url, data_dir) as client:
        try:
            emit(client.rollback_alias(name, alias))
        except ApiError as exc:
            raise fail(exc) from exc


@app.command()
def evidence(
    name: Name,
    version: Annotated[int, typer.Argument(help="the version the job ran")],
    job: Annotated[str, typer.Option("--job", help="a succeeded validate or regression job")],
    url: UrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Score a finished job that ran VERSION and keep it as that version's evidence."""
    with open_client(url, data_dir) as client:
        try:
            emit(client.attach_evidence(name, version, job))
        except ApiError as exc:
            raise fail(exc) from exc


@app.command()
def history(
    name: Name,
    alias: Annotated[str | None, typer.Option(help="only this alias")] = None,
    url: UrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Every alias move of NAME, oldest first."""
    with open_client(url, data_dir) as client:
        try:
            emit(client.alias_history(name, alias))
        except ApiError as exc:
            raise fail(exc) from exc
