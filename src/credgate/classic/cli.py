"""``credgate engines ...``: the engines registry the classic Engines API answers from."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Annotated

import typer

from credgate.core.cli import (
    JsonOpt,
    YesOpt,
    cli_actor,
    emit,
    fail,
    rows_command,
    sub_app,
    using,
)

if TYPE_CHECKING:
    from credgate.classic.engines import EngineService

__all__ = ["engines_app"]

engines_app = sub_app("Manage the engines registry.")


def _engines() -> AbstractContextManager[EngineService]:
    from credgate.classic.engines import EngineService

    return using(EngineService)


@engines_app.command("add")
def engines_add(
    name: Annotated[str, typer.Argument()],
    address: Annotated[str, typer.Option(help="Host name or address.")] = "",
    port: Annotated[int, typer.Option(help="Port.")] = 999,
    status: Annotated[str, typer.Option(help="CONNECTED, DISCONNECTED or CONNECTING.")] = (
        "CONNECTED"
    ),
    description: Annotated[str, typer.Option()] = "",
    database_uid: Annotated[str, typer.Option("--database-uid")] = "",
    machine_id: Annotated[str, typer.Option("--machine-id")] = "",
    timezone: Annotated[str, typer.Option()] = "UTC",
    version: Annotated[str, typer.Option()] = "",
    as_json: JsonOpt = False,
) -> None:
    """Add an engine to the registry."""
    with _engines() as engines:
        view = engines.add(
            name,
            actor=cli_actor(),
            address=address,
            port=port,
            status=status,
            description=description,
            database_uid=database_uid,
            machine_id=machine_id,
            timezone=timezone,
            version=version,
        )
        emit(view.as_wire(), as_json, lambda d: typer.echo(f"added engine {d['name']!r}"))


rows_command(
    engines_app,
    _engines,
    lambda engines: [e.as_wire() for e in engines.list()],
    [
        ("name", "name"),
        ("status", "status"),
        ("address", lambda r: f"{r['address']}:{r['port']}"),
    ],
    help="List the engines registry.",
)


@engines_app.command("delete")
def engines_delete(name: Annotated[str, typer.Argument()], yes: YesOpt = False) -> None:
    """Remove an engine from the registry."""
    with _engines() as engines:
        if not yes and not typer.confirm(f"Delete engine {name!r}?"):
            fail("not deleted", code=1)
        engines.delete(name, actor=cli_actor())
        typer.echo(f"deleted engine {name!r}")
