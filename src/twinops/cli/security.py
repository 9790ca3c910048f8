"""``twinops keys`` and ``twinops audit``: API keys and the audit chain."""

from __future__ import annotations

from typing import Annotated

import typer

from twinops.cli.context import DataDirOption, UrlOption, emit, fail, open_client
from twinops.sdk import ApiError

keys = typer.Typer(help="API keys: create (shown once), list, revoke.", no_args_is_help=True)
audit = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)


@keys.command("create")
def create_key(
    name: Annotated[str, typer.Option("--name", help="what the key is for")],
    role: Annotated[str, typer.Option("--role", help="viewer, operator, modeler or admin")],
    tenant: Annotated[str | None, typer.Option("--tenant", help="another tenant")] = None,
    expires: Annotated[str | None, typer.Option("--expires", help="RFC 3339 expiry")] = None,
    url: UrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Create an API key and print it (this is the only time it is shown)."""
    with open_client(url, data_dir) as client:
        try:
            emit(client.create_key(name, role, tenant=tenant, expires_at=expires))
        except ApiError as exc:
            raise fail(exc) from exc


@keys.command("list")
def list_keys(url: UrlOption = None, data_dir: DataDirOption = None) -> None:
    """List the tenant's keys (never their secrets)."""
    with open_client(url, data_dir) as client:
        try:
            emit(client.list_keys())
        except ApiError as exc:
            raise fail(exc) from exc


@keys.command("revoke")
def revoke_key(key_id: str, url: UrlOption = None, data_dir: DataDirOption = None) -> None:
    """Revoke a key; it stops working at once."""
    with open_client(url, data_dir) as client:
        try:
            client.revoke_key(key_id)
        except ApiError as exc:
            raise fail(exc) from exc


@audit.command("verify")
def verify(url: UrlOption = None, data_dir: DataDirOption = None) -> None:
    """Check the audit chain; exit 1 naming the first broken record."""
    with open_client(url, data_dir) as client:
        try:
            report = client.verify_audit()
        except ApiError as exc:
            raise fail(exc) from exc
    emit(report)
    if not report["intact"]:
        typer.echo(
            f"audit chain broken at record {report['firstBroken']}: {report['reason']}", err=True
        )
        raise typer.Exit(1)


@audit.command("list")
def list_audit(
    after: Annotated[int, typer.Option("--after", help="last seq already seen")] = 0,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 100,
    url: UrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Show audit records in order."""
    with open_client(url, data_dir) as client:
        try:
            emit(client.audit(after, limit))
        except ApiError as exc:
            raise fail(exc) from exc
