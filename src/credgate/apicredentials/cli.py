"""``credgate api-credentials ...``: OAuth 2.0 clients. Secrets are printed once, by ``create``
and ``regenerate``, and never again."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from credgate.apicredentials.services import ApiCredentialService, CredentialView
from credgate.core.audit.services import Actor
from credgate.core.cli import (
    JsonOpt,
    YesOpt,
    emit,
    fail,
    list_command,
    open_services,
    parse_duration,
)

__all__ = ["api_credentials_app"]

api_credentials_app = typer.Typer(
    help="Manage API credentials (OAuth 2.0 clients).", no_args_is_help=True
)

RefArg = Annotated[str, typer.Argument(help="Client id or name.")]


@contextmanager
def _credentials() -> Iterator[ApiCredentialService]:
    with open_services() as services:
        yield services.get(ApiCredentialService)


def _print_credential(data: dict[str, Any]) -> None:
    typer.echo(f"client_id:    {data['client_id']}")
    typer.echo(f"name:         {data['name']}")
    typer.echo(f"description:  {data['description']}")
    typer.echo(f"permissions:  {', '.join(data['permissions'])}")
    typer.echo(f"disabled:     {data['disabled']}")
    typer.echo(f"created:      {data['created_at']} by {data['created_by']}")
    if data.get("secret_overlap_until"):
        typer.echo(f"old secret valid until: {data['secret_overlap_until']}")


def _print_secret(data: dict[str, Any]) -> None:
    _print_credential(data)
    typer.echo("")
    typer.secho(f"client_secret: {data['client_secret']}", bold=True)
    typer.echo("Copy the client secret now: it will not be shown again.")


@api_credentials_app.command("create")
def ac_create(
    name: Annotated[str, typer.Option(help="Unique name, e.g. the calling application.")],
    permission: Annotated[
        list[str], typer.Option("--permission", "-p", help="Permission id; repeat.")
    ],
    description: Annotated[str, typer.Option(help="What uses it, and why.")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Create an API credential; prints the client id and the secret, once."""
    with _credentials() as credentials:
        created = credentials.create(
            name=name, description=description, permissions=permission, actor=Actor.cli()
        )
        emit(
            {**created.credential.as_dict(), "client_secret": created.client_secret},
            as_json,
            _print_secret,
        )


def _line(row: dict[str, Any]) -> str:
    state = " (disabled)" if row["disabled"] else ""
    return f"  {row['client_id']}  {row['name']}{state}  [{', '.join(row['permissions'])}]"


list_command(
    api_credentials_app,
    ApiCredentialService,
    lambda credentials: credentials.page,
    CredentialView.as_dict,
    _line,
    noun="API credential(s)",
    help="List API credentials by name, a page at a time (or --all).",
)


@api_credentials_app.command("show")
def ac_show(ref: RefArg, as_json: JsonOpt = False) -> None:
    """Show one API credential (never its secret)."""
    with _credentials() as credentials:
        emit(credentials.find(ref).as_dict(), as_json, _print_credential)


@api_credentials_app.command("update")
def ac_update(
    ref: RefArg,
    name: Annotated[str | None, typer.Option(help="New name.")] = None,
    description: Annotated[str | None, typer.Option(help="New description.")] = None,
    permission: Annotated[
        list[str] | None, typer.Option("--permission", "-p", help="Replaces the set; repeat.")
    ] = None,
    disable: Annotated[
        bool | None, typer.Option("--disable/--enable", help="Stop or allow new tokens.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Edit an API credential."""
    with _credentials() as credentials:
        current = credentials.find(ref)
        view = credentials.update(
            current.client_id,
            actor=Actor.cli(),
            name=name,
            description=description,
            permissions=permission or None,
            disabled=disable,
        )
        emit(view.as_dict(), as_json, _print_credential)


@api_credentials_app.command("delete")
def ac_delete(ref: RefArg, yes: YesOpt = False) -> None:
    """Delete an API credential: new tokens stop at once, live ones within seconds."""
    with _credentials() as credentials:
        current = credentials.find(ref)
        if not yes and not typer.confirm(
            f"Delete API credential {current.name!r} ({current.client_id})?"
        ):
            fail("not deleted", code=1)
        credentials.delete(current.client_id, actor=Actor.cli())
        typer.echo(f"deleted {current.client_id}")


@api_credentials_app.command("regenerate")
def ac_regenerate(
    ref: RefArg,
    overlap: Annotated[
        str, typer.Option(help="Keep the old secret valid this long, e.g. 1h (max 30d).")
    ] = "0",
    as_json: JsonOpt = False,
) -> None:
    """Generate a new secret; prints it once."""
    window = parse_duration(overlap, "--overlap")
    with _credentials() as credentials:
        current = credentials.find(ref)
        created = credentials.regenerate(current.client_id, actor=Actor.cli(), overlap=window)
        emit(
            {**created.credential.as_dict(), "client_secret": created.client_secret},
            as_json,
            _print_secret,
        )
