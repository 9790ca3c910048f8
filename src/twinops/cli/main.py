"""The ``twinops`` command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from twinops.cli import jobs, models, registry, retention, security, telemetry, twins
from twinops.cli.context import ConfigOption, DataDirOption, settings_for
from twinops.config import env_name

app = typer.Typer(
    help="twinops: build, run and trust digital twins.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(models.app, name="models")
app.add_typer(twins.app, name="twins")
app.add_typer(security.keys, name="keys")
app.add_typer(security.audit, name="audit")
app.add_typer(retention.app, name="retention")
app.add_typer(telemetry.app, name="telemetry")
app.add_typer(jobs.app, name="jobs")
app.add_typer(registry.app, name="registry")
app.command("query")(twins.query)

HostOption = Annotated[str | None, typer.Option("--host", help="bind address (127.0.0.1)")]
PortOption = Annotated[int | None, typer.Option("--port", help="port (8000)")]


WorkersOption = Annotated[
    int, typer.Option("--workers", min=1, max=64, help="API worker processes (1)")
]


def _serve(
    host: str | None,
    port: int | None,
    data_dir: Path | None,
    config: Path | None,
    workers: int,
    demo: bool,
) -> None:
    import os

    import uvicorn

    from twinops.api import create_app
    from twinops.platform import Platform, configure_logging

    settings = settings_for(data_dir, config).with_overrides(host=host, port=port)
    configure_logging(settings)  # log_format: JSON lines unless a terminal reads them (auto)
    platform = Platform.open(settings)
    if demo:
        from twinops.demo import TelemetryFeeder, describe, load_demo

        typer.echo(f"pump-fleet demo loaded: {describe(load_demo(platform))}")
        TelemetryFeeder(platform).start()
        typer.echo("demo telemetry is flowing: every pump, every second, in 5-second batches")
    if settings.mqtt_url:
        platform.start_mqtt()
        typer.echo(
            f"consuming MQTT telemetry: {settings.mqtt_topic_prefix}/<tenant>/<twin>/telemetry"
        )
    from twinops.state.retention_service import RetentionScheduler

    # One enforcer per server, in this process whatever the workers. It needs no open pool:
    # after the multi-worker close below, the database reconnects on demand.
    if RetentionScheduler(platform.retention, settings.retention_interval_seconds).start():
        typer.echo(f"retention enforced every {settings.retention_interval_seconds:g} s")
    # One job runner per server, in this process whatever the workers (they only submit).
    platform.start_jobs()
    typer.echo(f"jobs run on {settings.jobs_executor} workers ({settings.jobs_workers} at once)")
    first_key = platform.security.first_admin_key()
    if first_key is not None:
        typer.echo(
            "An admin API key was created for this data folder; it is shown this once:\n"
            f"  {first_key}\n"
            "Send it as 'Authorization: Bearer <key>' (or export TWINOPS_API_KEY=<key>)."
        )
    typer.echo(f"twinops on http://{settings.host}:{settings.port} (docs at /docs)")
    if workers == 1:
        from twinops.platform import freeze_startup_heap

        app = create_app(platform)
        freeze_startup_heap()
        try:
            uvicorn.run(
                app,
                host=settings.host,
                port=settings.port,
                log_config=None,  # uvicorn logs through twinops' handler and format
                access_log=False,  # the request middleware logs requests, with their ids
            )
        finally:
            platform.close()
        return
    # The job runner, the demo's feeder and the MQTT consumer write through the platform from
    # here: keep it open, only hand back the connections pooled before the workers start.
    platform.db.release_connections()
    # Worker processes rebuild the platform from the environment, so pass the settings on.
    os.environ[env_name("data_dir")] = str(settings.data_dir)
    os.environ[env_name("database_url")] = settings.resolved_database_url
    if config is not None:
        os.environ["TWINOPS_CONFIG"] = str(config)
    from twinops.api.workers import WorkerSupervisor

    try:
        WorkerSupervisor(settings.host, settings.port, workers).run()
    finally:
        platform.close()


@app.command()
def serve(
    host: HostOption = None,
    port: PortOption = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
    workers: WorkersOption = 1,
) -> None:
    """Serve the API (embedded default: SQLite in ./twinops-data, 127.0.0.1:8000)."""
    _serve(host, port, data_dir, config, workers, demo=False)


@app.command()
def demo(
    host: HostOption = None,
    port: PortOption = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
    workers: WorkersOption = 1,
) -> None:
    """Serve with the pump-fleet demo loaded."""
    _serve(host, port, data_dir, config, workers, demo=True)


if __name__ == "__main__":
    app()
