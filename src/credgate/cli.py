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
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from credgate import __version__
from credgate.admins.cli import admins_app
from credgate.apicredentials.cli import api_credentials_app
from credgate.classic.cli import engines_app
from credgate.cli_installation import backup, keys_app, open_services, restore, vault_app, worker
from credgate.connectors.cli import connector_credentials_app
from credgate.core.cli import (
    JsonOpt,
    database_errors_to_exit,
    emit,
    fail,
    name_metavars,
    set_services_opener,
    settings_or_exit,
    sub_app,
)
from credgate.demo import DemoOpt, demo_app
from credgate.outbound.cli import deliveries_app, exporters_app, webhooks_app
from credgate.platform.cli import platform_app
from credgate.sdk_commands import call_command, token_command
from credgate.users.cli import profiles_app, users_app

if TYPE_CHECKING:
    from credgate.bootstrap import InitReport
    from credgate.core.config import Settings

__all__ = ["app", "main"]

set_services_opener(open_services)

app = typer.Typer(
    name="credgate",
    help="credgate: OAuth 2.0 API credentials inbound, connector credentials outbound.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    add_completion=False,
)
bench_app = sub_app("Benchmarks: ratios against a baseline measured in the same run.")

for sub, name in (
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
    app.add_typer(sub, name=name)


@app.callback(invoke_without_command=True)
def main_callback(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        typer.echo(__version__)
        raise typer.Exit(0)


# init / serve / info --------------------------------------------------------------------------


def _set_up(settings: Settings) -> InitReport:
    """Create or check the installation; one-line errors for keys and the database."""
    from credgate.bootstrap import initialise
    from credgate.core.db import Database
    from credgate.security.keyfiles import BootstrapError

    db = Database(settings.resolved_database_url)
    try:
        with database_errors_to_exit(settings.resolved_database_url):
            _vault, _pepper, report = initialise(settings, db)
    except BootstrapError as exc:
        fail(str(exc))
    finally:
        db.dispose()
    _remember_home(settings)
    return report


def _remember_home(settings: Settings) -> None:
    """When no configuration said where the instance lives, write one that does, so that later
    commands (from here, a directory below, or, for the user's first instance, anywhere) find
    this instance rather than start an empty one."""
    from credgate.core.config import CONFIG_NAME, locate_instance, user_config_file

    if os.environ.get("CREDGATE_DATA_DIR") or os.environ.get("CREDGATE_DATABASE_URL"):
        return  # the environment says where the data is; it will say so again
    location = locate_instance()
    if location.config_file is not None or location.source == "CREDGATE_HOME":
        return
    project = location.home / CONFIG_NAME
    lines = [
        "# credgate's settings for this instance (keys: the README's configuration table, in",
        "# lower case without CREDGATE_). Commands run here or below use this instance.",
        f'data_dir = "{_relative(settings.data_dir, location.home)}"',
    ]
    _write_new(project, lines)
    user = user_config_file()
    if not user.exists():
        _write_new(
            user,
            [
                "# The default credgate instance, used from directories without a credgate.toml.",
                f"data_dir = {str(settings.data_dir.resolve())!r}".replace("'", '"'),
            ],
        )


def _relative(path: Path, home: Path) -> str:
    try:
        return str(path.resolve().relative_to(home))
    except ValueError:
        return str(path.resolve())


def _write_new(path: Path, lines: list[str]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
    except OSError as exc:
        typer.secho(
            f"warning: could not write {path} ({exc.strerror})", fg=typer.colors.YELLOW, err=True
        )
        return
    typer.echo(f"wrote {path}", err=True)


@app.command()
def init(demo: DemoOpt = False) -> None:
    """Create keys and the database, add a signing key and the first administrator (idempotent)."""
    settings = settings_or_exit()
    report = _set_up(settings)
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
def info(as_json: JsonOpt = False) -> None:
    """Which instance commands act on here: its home, configuration file, data and database."""
    from credgate.core.config import ConfigurationError, locate_instance

    settings = settings_or_exit()
    try:
        location = locate_instance()
    except ConfigurationError as exc:
        fail(f"invalid configuration: {exc}")
    from credgate.security.keyfiles import master_key_path

    database = settings.resolved_database_url.split("?")[0]
    data = {
        "version": __version__,
        "home": str(settings.home or location.home),
        "found_by": location.source,
        "config_file": str(location.config_file) if location.config_file else None,
        "data_dir": str(settings.data_dir),
        "database": _shown_url(database),
        "initialised": settings.master_key is not None or master_key_path(settings).exists(),
        "listen": f"http://{settings.host}:{settings.port}",
        "admin_api": settings.admin_api_url,
    }

    def render(d: dict[str, Any]) -> None:
        width = max(len(k) for k in d) + 1
        for key, value in d.items():
            shown = {True: "yes", False: "no", None: "-"}.get(value, value)
            typer.echo(f"{key.replace('_', ' ') + ':':<{width + 1}} {shown}")

    emit(data, as_json, render)


def _shown_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _port_free_or_exit(host: str, port: int) -> None:
    """Fail before anything starts when the address is taken, with the way out."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            fail(
                f"cannot listen on {host}:{port}: {exc.strerror or exc} "
                "(is another credgate serve running? choose another port with --port)"
            )


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address (CREDGATE_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (CREDGATE_PORT).")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes (CREDGATE_WORKERS).")
    ] = None,
) -> None:
    """Set up if needed, then serve HTTP."""
    for name, value in (("HOST", host), ("PORT", port), ("WORKERS", workers)):
        if value is not None:
            os.environ[f"CREDGATE_{name}"] = str(value)
    settings = settings_or_exit()
    _port_free_or_exit(settings.host, settings.port)
    from credgate.core.logs import configure_logging

    configure_logging(settings.log_level, settings.log_format)
    report = _set_up(settings)
    if report.admin_password:
        typer.echo(
            f"created administrator {report.admin_username!r} with password {report.admin_password}"
            "   (shown once)"
        )
    typer.echo(
        f"credgate {__version__} serving on http://{settings.host}:{settings.port}", err=True
    )
    import uvicorn

    uvicorn.run(
        "credgate.app:create_served_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        access_log=False,
        log_config=None,
        proxy_headers=False,
        server_header=False,
        # Longer than a load balancer keeps its idle upstream connections (nginx and most cloud
        # balancers: 60 s), so that it never sends a request on one credgate is closing.
        timeout_keep_alive=75,
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


def command() -> Any:
    """The click command of ``credgate``, its options named for what they take."""
    root = typer.main.get_command(app)
    name_metavars(root)
    return root


def main() -> None:
    try:
        command()(prog_name="credgate")
    except KeyboardInterrupt:
        sys.exit(130)
