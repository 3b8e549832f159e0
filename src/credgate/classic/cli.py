"""``credgate engines ...``: the engines registry the classic Engines API answers from."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from credgate.classic.engines import EngineService
from credgate.core.audit.services import Actor
from credgate.core.cli import JsonOpt, YesOpt, emit, fail, open_services

__all__ = ["engines_app"]

engines_app = typer.Typer(help="Manage the engines registry.", no_args_is_help=True)


@contextmanager
def _engines() -> Iterator[EngineService]:
    with open_services() as services:
        yield services.get(EngineService)


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
            actor=Actor.cli(),
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


@engines_app.command("list")
def engines_list(as_json: JsonOpt = False) -> None:
    """List the engines registry."""
    with _engines() as engines:
        items = [e.as_wire() for e in engines.list()]
        emit(
            items,
            as_json,
            lambda rows: typer.echo(
                "\n".join(f"{r['name']}  {r['status']}  {r['address']}:{r['port']}" for r in rows)
                or "(none)"
            ),
        )


@engines_app.command("delete")
def engines_delete(name: Annotated[str, typer.Argument()], yes: YesOpt = False) -> None:
    """Remove an engine from the registry."""
    with _engines() as engines:
        if not yes and not typer.confirm(f"Delete engine {name!r}?"):
            fail("not deleted", code=1)
        engines.delete(name, actor=Actor.cli())
        typer.echo(f"deleted engine {name!r}")
