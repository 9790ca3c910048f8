"""``twinops models``: validate, upload, list, show, decommission, delete."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from twinops.cli.context import DataDirOption, UrlOption, emit, fail, open_client
from twinops.models.dtdl import DtdlSource, load_paths, parse_documents
from twinops.sdk import ApiError

app = typer.Typer(help="DTDL models: validate, upload and manage versions.", no_args_is_help=True)

Paths = Annotated[list[Path], typer.Argument(help="DTDL files or folders", exists=True)]


def _documents(sources: list[DtdlSource]) -> list[Any]:
    """The JSON documents of the sources, arrays flattened (a file may hold several)."""
    documents: list[Any] = []
    for source in sources:
        try:
            value = source.obj if source.text is None else json.loads(source.text)
        except json.JSONDecodeError as exc:
            raise typer.BadParameter(f"{source.name} is not JSON: {exc}") from exc
        documents.extend(value if isinstance(value, list) else [value])
    return documents


@app.command()
def validate(paths: Paths, url: UrlOption = None) -> None:
    """Validate DTDL documents without storing them; exit 1 with the errors if invalid."""
    sources = load_paths(paths)
    if url:
        with open_client(url) as client:
            try:
                emit(client.validate_models(_documents(sources)))
            except ApiError as exc:
                raise fail(exc) from exc
        return
    result = parse_documents(sources)
    if result.ok:
        emit({"valid": True, "models": sorted(result.documents)})
        return
    for problem in result.problems:
        typer.echo(
            f"{problem.source}: {problem.element}: [{problem.rule}] {problem.message}", err=True
        )
    typer.echo(f"{len(result.problems)} problem(s) found", err=True)
    raise typer.Exit(1)


@app.command()
def upload(paths: Paths, url: UrlOption = None, data_dir: DataDirOption = None) -> None:
    """Upload DTDL documents (any order); prints what changed against earlier versions."""
    documents = _documents(load_paths(paths))
    with open_client(url, data_dir) as client:
        try:
            emit(client.upload_models(documents))
        except ApiError as exc:
            raise fail(exc) from exc


@app.command("list")
def list_models(url: UrlOption = None, data_dir: DataDirOption = None) -> None:
    """List stored models."""
    with open_client(url, data_dir) as client:
        emit(list(client.list_models()))


@app.command()
def show(dtmi: str, url: UrlOption = None, data_dir: DataDirOption = None) -> None:
    """Show one stored model."""
    with open_client(url, data_dir) as client:
        try:
            emit(client.get_model(dtmi))
        except ApiError as exc:
            raise fail(exc) from exc


@app.command()
def decommission(
    dtmi: str,
    undo: Annotated[bool, typer.Option("--undo", help="bring the model back")] = False,
    url: UrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Decommission a model: existing twins stay, new ones may not use it."""
    with open_client(url, data_dir) as client:
        try:
            emit(client.decommission_model(dtmi, not undo))
        except ApiError as exc:
            raise fail(exc) from exc


@app.command()
def delete(dtmi: str, url: UrlOption = None, data_dir: DataDirOption = None) -> None:
    """Delete a model that no twin uses."""
    with open_client(url, data_dir) as client:
        try:
            client.delete_model(dtmi)
        except ApiError as exc:
            raise fail(exc) from exc
