"""``twinops twins``: get, put, patch, delete, list, import; and ``twinops query``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from twinops.cli.context import DataDirOption, UrlOption, emit, fail, open_client, read_json
from twinops.sdk import ApiError

app = typer.Typer(help="Twins and their relationships.", no_args_is_help=True)

BodyFile = Annotated[Path, typer.Argument(help="JSON file, or - for stdin")]
IfMatch = Annotated[str | None, typer.Option("--if-match", help="the ETag you last read")]


@app.command()
def get(twin_id: str, url: UrlOption = None, data_dir: DataDirOption = None) -> None:
    """Show one twin."""
    with open_client(url, data_dir) as client:
        try:
            emit(client.get_twin(twin_id))
        except ApiError as exc:
            raise fail(exc) from exc


@app.command()
def put(
    twin_id: str,
    body: BodyFile,
    if_match: IfMatch = None,
    url: UrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Create or replace a twin from a JSON body (``$metadata.$model`` plus properties)."""
    document = read_json(body)
    with open_client(url, data_dir) as client:
        try:
            emit(client.put_twin(twin_id, document, if_match=if_match))
        except ApiError as exc:
            raise fail(exc) from exc


@app.command()
def patch(
    twin_id: str,
    body: BodyFile,
    if_match: IfMatch = None,
    url: UrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Apply a JSON Patch (RFC 6902) to a twin."""
    operations = read_json(body)
    with open_client(url, data_dir) as client:
        try:
            emit(client.patch_twin(twin_id, operations, if_match=if_match))
        except ApiError as exc:
            raise fail(exc) from exc


@app.command()
def delete(
    twin_id: str, if_match: IfMatch = None, url: UrlOption = None, data_dir: DataDirOption = None
) -> None:
    """Delete a twin that has no relationships."""
    with open_client(url, data_dir) as client:
        try:
            client.delete_twin(twin_id, if_match=if_match)
        except ApiError as exc:
            raise fail(exc) from exc


@app.command("list")
def list_twins(
    model: Annotated[str | None, typer.Option(help="only twins of this exact model")] = None,
    url: UrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """List twins."""
    with open_client(url, data_dir) as client:
        emit(list(client.list_twins(model)))


@app.command("import")
def import_graph(body: BodyFile, url: UrlOption = None, data_dir: DataDirOption = None) -> None:
    """Create twins and relationships from ``{"twins": [...], "relationships": [...]}``."""
    document = read_json(body)
    with open_client(url, data_dir) as client:
        try:
            emit(client.import_graph(document.get("twins", []), document.get("relationships", [])))
        except ApiError as exc:
            raise fail(exc) from exc


def query(
    text: Annotated[str, typer.Argument(help='e.g. "SELECT T FROM DIGITALTWINS T"')],
    url: UrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Run a twin query and print every result."""
    with open_client(url, data_dir) as client:
        try:
            emit(list(client.query(text)))
        except ApiError as exc:
            raise fail(exc) from exc


@app.command()
def relate(
    source: str,
    relationship_id: str,
    name: Annotated[str, typer.Option("--name", help="relationship name from the model")],
    target: Annotated[str, typer.Option("--target", help="target twin id")],
    properties: Annotated[
        str, typer.Option("--properties", help="relationship properties as a JSON object")
    ] = "{}",
    url: UrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Create or replace a relationship from SOURCE to --target."""
    try:
        extra = json.loads(properties)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"--properties is not JSON: {exc}") from exc
    body = {**extra, "$relationshipName": name, "$targetId": target}
    with open_client(url, data_dir) as client:
        try:
            emit(client.put_relationship(source, relationship_id, body))
        except ApiError as exc:
            raise fail(exc) from exc


@app.command()
def relationships(
    source: str,
    name: Annotated[str | None, typer.Option("--name", help="only this relationship")] = None,
    url: UrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """List a twin's outgoing relationships."""
    with open_client(url, data_dir) as client:
        try:
            emit(list(client.list_relationships(source, name)))
        except ApiError as exc:
            raise fail(exc) from exc
