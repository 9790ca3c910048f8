"""``twinops telemetry``: replay a CSV/Parquet file into a twin's history; export a range."""

from __future__ import annotations

import functools
import re
import sys
from pathlib import Path
from typing import Annotated, BinaryIO

import typer

from twinops.cli.context import ConfigOption, DataDirOption, UrlOption, emit, fail, open_client
from twinops.errors import InvalidInput
from twinops.ingest.file_mapping import load_mapping
from twinops.ingest.files import DEFAULT_BATCH, MAX_BATCH, replay_file
from twinops.sdk import ApiError, Client

app = typer.Typer(help="Telemetry files: replay them in, export ranges out.", no_args_is_help=True)


def _invalid(exc: InvalidInput) -> typer.Exit:
    """Report a local validation error (mapping, options) and choose the exit code."""
    typer.echo(f"error: {exc.detail}", err=True)
    for violation in exc.violations[:50]:
        typer.echo(f"  {violation.field}: [{violation.rule}] {violation.message}", err=True)
    return typer.Exit(2)


@app.command()
def replay(
    file: Annotated[Path, typer.Argument(help="CSV or Parquet file", exists=True, dir_okay=False)],
    mapping: Annotated[
        Path,
        typer.Option(
            "--mapping", help="column mapping (JSON or TOML)", exists=True, dir_okay=False
        ),
    ],
    twin: Annotated[str | None, typer.Option("--twin", help="send every row to this twin")] = None,
    speed: Annotated[
        float | None,
        typer.Option("--speed", help="N times the original pace (1 = original)"),
    ] = None,
    as_fast_as_possible: Annotated[
        bool,
        typer.Option("--as-fast-as-possible", help="no pacing (the default)"),
    ] = False,
    batch: Annotated[
        int, typer.Option("--batch", min=1, max=MAX_BATCH, help="points per request")
    ] = DEFAULT_BATCH,
    url: UrlOption = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Replay FILE through a column mapping into the ingest pipeline; print the summary."""
    if speed is not None and as_fast_as_possible:
        raise typer.BadParameter("give --speed or --as-fast-as-possible, not both")
    try:
        rules = load_mapping(mapping)
        if twin is not None:
            rules = rules.with_twin(twin)
        with open_client(url, data_dir, config) as client:
            label = "file:" + re.sub(r"[^A-Za-z0-9_.:/-]", "_", file.name)
            send = functools.partial(client.ingest, source=label)
            summary = replay_file(file, rules, send, speed=speed, batch_size=batch)
    except InvalidInput as exc:
        raise _invalid(exc) from exc
    except ApiError as exc:
        raise fail(exc) from exc
    emit(summary.to_json())


def _format_of(out: Path, given: str | None) -> str:
    if given is not None:
        return given
    return "parquet" if out.suffix.lower() in (".parquet", ".pq") else "csv"


@app.command()
def export(
    twin_id: Annotated[str, typer.Argument(metavar="TWIN", help="the twin")],
    field: Annotated[
        list[str], typer.Option("--field", help="a field to export (repeat for several)")
    ],
    out: Annotated[Path, typer.Option("--out", help="output file, or - for stdout")],
    start: Annotated[str | None, typer.Option("--start", help="RFC 3339 or epoch")] = None,
    end: Annotated[str | None, typer.Option("--end", help="RFC 3339 or epoch (exclusive)")] = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="csv or parquet (default: from --out's suffix, else csv)"),
    ] = None,
    url: UrlOption = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Export fields of TWIN over [--start, --end) as CSV or Parquet (long format)."""
    chosen = _format_of(out, fmt)
    if chosen not in ("csv", "parquet"):
        raise typer.BadParameter("--format is csv or parquet")
    to_stdout = str(out) == "-"
    with open_client(url, data_dir, config) as client:
        try:
            if to_stdout:
                client.export(twin_id, field, _stdout(), start=start, end=end, format=chosen)
                return
            written = _export_to(client, out, twin_id, field, start, end, chosen)
        except ApiError as exc:
            raise fail(exc) from exc
    emit({"twin": twin_id, "fields": field, "format": chosen, "out": str(out), "bytes": written})


def _stdout() -> BinaryIO:
    return sys.stdout.buffer


def _export_to(
    client: Client,
    out: Path,
    twin_id: str,
    fields: list[str],
    start: str | None,
    end: str | None,
    fmt: str,
) -> int:
    """Write the export next to ``out`` and move it into place only once it is complete."""
    partial = out.with_name(out.name + ".partial")
    try:
        with partial.open("wb") as handle:
            written = client.export(twin_id, fields, handle, start=start, end=end, format=fmt)
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return written
