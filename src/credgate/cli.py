"""The ``credgate`` command line: the root app, which assembles each feature's sub-app.

Each feature owns its commands (``<feature>/cli.py``, over the helpers in
:mod:`credgate.core.cli`); the commands that act on the whole installation (``keys``, ``vault``,
``worker``) are in :mod:`credgate.cli_installation`. This module keeps what sets up and serves an
installation (``init``, ``serve``), the benchmarks, and tells :mod:`credgate.core.cli` how
feature commands get their services: from the container, opened for one command.

Secrets are printed only by the commands that create them (``init``, ``api-credentials create``,
``api-credentials regenerate``, ``admins token``, ``admins reset-password``).
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from credgate import __version__
from credgate.admins.cli import admins_app
from credgate.apicredentials.cli import api_credentials_app
from credgate.bootstrap import initialise
from credgate.classic.cli import engines_app
from credgate.cli_installation import backup, keys_app, open_services, restore, vault_app, worker
from credgate.connectors.cli import connector_credentials_app
from credgate.core.cli import fail, set_services_opener, settings_or_exit
from credgate.core.db import Database
from credgate.demo import DemoOpt, demo_app
from credgate.outbound.cli import deliveries_app, exporters_app, webhooks_app
from credgate.platform.cli import platform_app
from credgate.sdk_commands import call_command, token_command
from credgate.security.keyfiles import BootstrapError
from credgate.users.cli import profiles_app, users_app

__all__ = ["app", "main"]

set_services_opener(open_services)

app = typer.Typer(
    name="credgate",
    help="credgate: OAuth 2.0 API credentials inbound, connector credentials outbound.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
bench_app = typer.Typer(
    help="Benchmarks: ratios against a baseline measured in the same run.", no_args_is_help=True
)

for sub_app, name in (
    (api_credentials_app, "api-credentials"),
    (keys_app, "keys"),
    (admins_app, "admins"),
    (bench_app, "bench"),
    (connector_credentials_app, "connector-credentials"),
    (vault_app, "vault"),
    (users_app, "users"),
    (profiles_app, "profiles"),
    (engines_app, "engines"),
    (platform_app, "platform"),
    (webhooks_app, "webhooks"),
    (deliveries_app, "deliveries"),
    (exporters_app, "exporters"),
    (demo_app, "demo"),
):
    app.add_typer(sub_app, name=name)


@app.callback(invoke_without_command=True)
def main_callback(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        typer.echo(__version__)
        raise typer.Exit(0)


# init / serve ---------------------------------------------------------------------------------


@app.command()
def init(demo: DemoOpt = False) -> None:
    """Create keys and the database, add a signing key and the first administrator (idempotent)."""
    settings = settings_or_exit()
    db = Database(settings.resolved_database_url)
    try:
        _vault, _pepper, report = initialise(settings, db)
    except BootstrapError as exc:
        fail(str(exc))
    finally:
        db.dispose()
    for path in report.created_files:
        typer.echo(f"created {path} (keep it safe and back it up: it is needed to read the data)")
    for warning in report.warnings:
        typer.secho(f"warning: {warning}", fg=typer.colors.YELLOW, err=True)
    if report.created_signing_key:
        typer.echo(f"created signing key {report.created_signing_key}")
    if report.admin_username:
        typer.echo(f"created administrator {report.admin_username!r}")
        if report.admin_password:
            typer.echo(f"  password: {report.admin_password}   (shown once)")
    typer.echo(f"credgate is initialised: {settings.resolved_database_url.split('?')[0]}")
    if demo:
        from credgate.demo import load

        load()


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address (CREDGATE_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (CREDGATE_PORT).")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes (CREDGATE_WORKERS).")
    ] = None,
) -> None:
    """Set up if needed, then serve HTTP."""
    import uvicorn

    for name, value in (("HOST", host), ("PORT", port), ("WORKERS", workers)):
        if value is not None:
            os.environ[f"CREDGATE_{name}"] = str(value)
    settings = settings_or_exit()
    from credgate.core.logs import configure_logging

    configure_logging(settings.log_level, settings.log_format)
    try:
        _vault, _pepper, report = initialise(settings, Database(settings.resolved_database_url))
    except BootstrapError as exc:
        fail(str(exc))
    if report.admin_password:
        typer.echo(
            f"created administrator {report.admin_username!r} with password {report.admin_password}"
            "   (shown once)"
        )
    typer.echo(
        f"credgate {__version__} serving on http://{settings.host}:{settings.port}", err=True
    )
    uvicorn.run(
        "credgate.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        access_log=False,
        log_config=None,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=10,
    )


# bench ----------------------------------------------------------------------------------------


@bench_app.command("token")
def bench_token(
    seconds: Annotated[int, typer.Option(min=1, max=300, help="Seconds per load round.")] = 5,
    rounds: Annotated[
        int, typer.Option(min=1, max=20, help="Alternating rounds of each load.")
    ] = 3,
    connections: Annotated[int, typer.Option(min=1, max=1024, help="Concurrent connections.")] = 32,
) -> None:
    """Token endpoint throughput vs a raw-ASGI echo of the same body, on one server process (needs wrk)."""
    from credgate.bench.token import main as run

    run(seconds=seconds, rounds=rounds, connections=connections)


# token / call: the APIs as an integration sees them (credgate.sdk_commands) ------------------

app.command("token")(token_command)
app.command("call")(call_command)
app.command("worker")(worker)
app.command("backup")(backup)
app.command("restore")(restore)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
