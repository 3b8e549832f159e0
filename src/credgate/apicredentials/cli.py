"""``credgate api-credentials ...``: OAuth 2.0 clients. Secrets are printed once, by ``create``
and ``regenerate``, and never again."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from credgate.core.cli import (
    JsonOpt,
    YesOpt,
    cli_actor,
    did_you_mean,
    emit,
    fail,
    parse_duration,
    sub_app,
    using,
)
from credgate.core.cli_lists import as_dict, service_list_command

if TYPE_CHECKING:
    from credgate.apicredentials.services import ApiCredentialService

__all__ = ["api_credentials_app"]

api_credentials_app = sub_app("Manage API credentials (OAuth 2.0 clients).")

RefArg = Annotated[str, typer.Argument(help="Client id or name.")]
RateLimitOpt = Annotated[
    str | None,
    typer.Option(
        help="Its own limit on every API family, e.g. 60/minute or 1000 per hour "
        '("": back to the families\' limits).'
    ),
]


def _service() -> type[ApiCredentialService]:
    from credgate.apicredentials.services import ApiCredentialService

    return ApiCredentialService


def _checked_permissions(values: list[str]) -> list[str]:
    """The ``--permission`` values, or exit naming the first unknown one and its likely id."""
    from credgate.core.permissions import CATALOGUE, UnknownPermissionError, parse_permissions

    for value in values:
        try:
            parse_permissions([value])
        except UnknownPermissionError:
            ids = [p.id for p in CATALOGUE]
            fail(
                f"--permission: unknown permission {value!r}{did_you_mean(value, ids)}; "
                f"allowed: {', '.join(ids)}"
            )
    return values


def _print_credential(data: dict[str, Any]) -> None:
    typer.echo(f"client_id:    {data['client_id']}")
    typer.echo(f"name:         {data['name']}")
    typer.echo(f"description:  {data['description']}")
    typer.echo(f"permissions:  {', '.join(data['permissions'])}")
    typer.echo(f"disabled:     {data['disabled']}")
    own_limit = data.get("rate_limit") or "(each API family's own)"
    typer.echo(f"rate limit:   {own_limit}")
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
    rate_limit: RateLimitOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an API credential; prints the client id and the secret, once."""
    permission = _checked_permissions(permission)
    with using(_service()) as credentials:
        created = credentials.create(
            name=name,
            description=description,
            permissions=permission,
            rate_limit=rate_limit,
            actor=cli_actor(),
        )
        emit(
            {**created.credential.as_dict(), "client_secret": created.client_secret},
            as_json,
            _print_secret,
        )


service_list_command(
    api_credentials_app,
    _service,
    lambda credentials: credentials.page,
    as_dict,
    [
        ("client id", "client_id"),
        ("name", "name"),
        ("state", lambda r: "disabled" if r["disabled"] else "enabled"),
        ("permissions", "permissions"),
    ],
    noun="API credential(s)",
    help="List API credentials by name, a page at a time (or --all).",
)


@api_credentials_app.command("show")
def ac_show(ref: RefArg, as_json: JsonOpt = False) -> None:
    """Show one API credential (never its secret)."""
    with using(_service()) as credentials:
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
    rate_limit: RateLimitOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Edit an API credential."""
    if permission:
        permission = _checked_permissions(permission)
    with using(_service()) as credentials:
        current = credentials.find(ref)
        view = credentials.update(
            current.client_id,
            actor=cli_actor(),
            name=name,
            description=description,
            permissions=permission or None,
            disabled=disable,
            rate_limit=rate_limit,
        )
        emit(view.as_dict(), as_json, _print_credential)


@api_credentials_app.command("delete")
def ac_delete(ref: RefArg, yes: YesOpt = False) -> None:
    """Delete an API credential: new tokens stop at once, live ones within seconds."""
    with using(_service()) as credentials:
        current = credentials.find(ref)
        if not yes and not typer.confirm(
            f"Delete API credential {current.name!r} ({current.client_id})?"
        ):
            fail("not deleted", code=1)
        credentials.delete(current.client_id, actor=cli_actor())
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
    with using(_service()) as credentials:
        current = credentials.find(ref)
        created = credentials.regenerate(current.client_id, actor=cli_actor(), overlap=window)
        emit(
            {**created.credential.as_dict(), "client_secret": created.client_secret},
            as_json,
            _print_secret,
        )
