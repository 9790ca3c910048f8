"""``twinops jobs``: submit specs, follow jobs with a progress bar, fetch results, reproduce."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from twinops.cli.context import (
    ConfigOption,
    DataDirOption,
    UrlOption,
    emit,
    fail,
    open_client,
)
from twinops.sdk import ApiError, Client

app = typer.Typer(help="Jobs: scenario runs queued, followed, reproduced.", no_args_is_help=True)

FINISHED = ("succeeded", "failed", "cancelled")

JobId = Annotated[str, typer.Argument(metavar="ID", help="the job's id")]
JsonFlag = Annotated[
    bool, typer.Option("--json", help="print the job as one JSON line (the last line of output)")
]


# YAML without implicit timestamps: times stay the text the spec wrote (RFC 3339), which JSON
# can carry to the server.
_SpecLoader: Any = type("_SpecLoader", (yaml.SafeLoader,), {})
_SpecLoader.yaml_implicit_resolvers = {
    first: [r for r in resolvers if r[0] != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read_spec(path: Path) -> dict[str, Any]:
    """A spec file: YAML or JSON (``-``: stdin), which must hold one mapping."""
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8-sig")
        if path.suffix.lower() == ".json":
            spec = json.loads(text)
        else:
            spec = yaml.load(text, Loader=_SpecLoader)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise typer.BadParameter(f"{path}: {exc}") from exc
    if not isinstance(spec, dict):
        raise typer.BadParameter(f"{path}: a spec is a mapping with a 'kind'")
    return spec


def _follow(client: Client, job: dict[str, Any]) -> dict[str, Any]:
    """Wait for a job, drawing its progress on stderr."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        SpinnerColumn,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task(job["id"], total=1.0)

        def update(current: dict[str, Any]) -> None:
            progress = current.get("progress") or {}
            message = progress.get("message") or ""
            bar.update(
                task,
                completed=float(progress.get("fraction") or 0.0),
                description=f"{current['id']} {current['status']}"
                + (f": {message[:60]}" if message else ""),
            )

        return client.wait_job(job["id"], on_update=update)


def _show(job: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(job, ensure_ascii=False, separators=(",", ":")))
    else:
        emit(job)


def _report_end(job: dict[str, Any]) -> None:
    error = job.get("error")
    if job["status"] != "succeeded" and error:
        typer.echo(f"job {job['id']} {job['status']}: {error.get('message')}", err=True)
        typer.echo(f"its log: twinops jobs log {job['id']}", err=True)


@app.command()
def submit(
    spec: Annotated[Path, typer.Argument(metavar="SPEC", help="YAML or JSON spec ('-': stdin)")],
    wait: Annotated[
        bool, typer.Option("--wait", help="follow the job (progress on stderr) until it ends")
    ] = False,
    as_json: JsonFlag = False,
    priority: Annotated[
        int | None, typer.Option("--priority", help="-100..100, higher runs first")
    ] = None,
    url: UrlOption = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Submit the job in SPEC; with --wait, exit 0 only when it succeeds."""
    body = read_spec(spec)
    if priority is not None:
        body["priority"] = priority
    with open_client(url, data_dir, config, run_jobs=wait) as client:
        try:
            job = client.submit_job(body)
            if wait:
                job = _follow(client, job)
        except ApiError as exc:
            raise fail(exc) from exc
    if not url and not wait:
        typer.echo(
            "queued in the local data folder: it runs when `twinops serve` does (or use --wait)",
            err=True,
        )
    _report_end(job)
    _show(job, as_json)
    if wait and job["status"] != "succeeded":
        raise typer.Exit(1)


@app.command()
def get(
    job_id: JobId,
    as_json: JsonFlag = False,
    url: UrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Show a job: status, progress, attempts, timings, error, output hashes."""
    with open_client(url, data_dir) as client:
        try:
            _show(client.job(job_id), as_json)
        except ApiError as exc:
            raise fail(exc) from exc


@app.command("list")
def list_jobs(
    status: Annotated[str | None, typer.Option("--status", help="only jobs in this status")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="at most this many")] = 50,
    url: UrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """List the tenant's jobs, newest first."""
    with open_client(url, data_dir) as client:
        try:
            found = []
            for job in client.jobs(status):
                found.append(job)
                if len(found) >= limit:
                    break
        except ApiError as exc:
            raise fail(exc) from exc
    emit(found)


@app.command()
def cancel(job_id: JobId, url: UrlOption = None, data_dir: DataDirOption = None) -> None:
    """Cancel a queued or running job."""
    with open_client(url, data_dir) as client:
        try:
            emit(client.cancel_job(job_id))
        except ApiError as exc:
            raise fail(exc) from exc


@app.command()
def log(job_id: JobId, url: UrlOption = None, data_dir: DataDirOption = None) -> None:
    """Print a job's log (the model's output and traceback included)."""
    with open_client(url, data_dir) as client:
        try:
            sys.stdout.write(client.job_log(job_id))
        except ApiError as exc:
            raise fail(exc) from exc


@app.command()
def artifacts(job_id: JobId, url: UrlOption = None, data_dir: DataDirOption = None) -> None:
    """List a job's artifacts with their sha256."""
    with open_client(url, data_dir) as client:
        try:
            emit(client.job_artifacts(job_id))
        except ApiError as exc:
            raise fail(exc) from exc


@app.command()
def download(
    job_id: JobId,
    name: Annotated[str, typer.Argument(help="artifact name, e.g. outputs/summary.json")],
    out: Annotated[Path, typer.Option("--out", help="file to write ('-': stdout)")] = Path("-"),
    url: UrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Write one artifact of a job to --out."""
    with open_client(url, data_dir) as client:
        try:
            data = client.artifact(job_id, name)
        except ApiError as exc:
            raise fail(exc) from exc
    if str(out) == "-":
        sys.stdout.buffer.write(data)
    else:
        out.write_bytes(data)


@app.command()
def summary(job_id: JobId, url: UrlOption = None, data_dir: DataDirOption = None) -> None:
    """Print a succeeded job's summary."""
    with open_client(url, data_dir) as client:
        try:
            emit(client.job_summary(job_id))
        except ApiError as exc:
            raise fail(exc) from exc


@app.command()
def reproduce(
    job_id: JobId,
    as_json: JsonFlag = False,
    url: UrlOption = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Re-run a job from its stored inputs; exit 0 when every output hash matches."""
    with open_client(url, data_dir, config, run_jobs=True) as client:
        try:
            rerun = _follow(client, client.reproduce_job(job_id))
        except ApiError as exc:
            raise fail(exc) from exc
    verdict = rerun.get("reproduction") or {}
    if as_json:
        _show(rerun, True)
    else:
        for output in verdict.get("outputs", []):
            mark = "match" if output["matches"] else "DIFFERS"
            typer.echo(f"{mark:8} {output['name']}  {output['reproduced'] or '-'}")
    _report_end(rerun)
    if verdict.get("matches") is True:
        typer.echo(f"job {rerun['id']} reproduced {job_id}: every output hash matches", err=True)
        return
    differing = verdict.get("differing") or []
    typer.echo(
        f"job {rerun['id']} did not reproduce {job_id}: {', '.join(differing) or 'no outputs'}",
        err=True,
    )
    raise typer.Exit(1)
