"""``credgate admins ...``: administrators and their personal admin API tokens.

Passwords are read from a prompt (or ``CREDGATE_NEW_ADMIN_PASSWORD`` for ``create``), never from
arguments; generated passwords and new tokens are printed once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from credgate.core.cli import JsonOpt, cli_actor, emit, parse_duration, sub_app, using
from credgate.core.cli_lists import as_dict, filtered_list_command, service_list_command
from credgate.core.cli_options import new_password

if TYPE_CHECKING:
    from credgate.admins.services import AdminService, AdminTokenView
    from credgate.core.paging import Page, PageRequest

__all__ = ["admins_app"]

admins_app = sub_app("Manage administrators and their API tokens.")
tokens_app = sub_app("List and revoke admin API tokens.")
admins_app.add_typer(tokens_app, name="tokens")


def _service() -> type[AdminService]:
    from credgate.admins.services import AdminService

    return AdminService


@admins_app.command("create")
def admins_create(
    username: Annotated[str, typer.Argument()],
    password: Annotated[str, new_password("CREDGATE_NEW_ADMIN_PASSWORD")],
) -> None:
    """Add an administrator."""
    with using(_service()) as admins:
        admins.create(username, password, actor=cli_actor())
        typer.echo(f"created administrator {username!r}")


service_list_command(
    admins_app,
    _service,
    lambda admins: admins.admins_page,
    as_dict,
    [
        ("username", "username"),
        ("state", lambda r: "disabled" if r["disabled"] else "active"),
        ("created", "created_at"),
    ],
    noun="administrator(s)",
    help="List administrators by username, a page at a time (or --all).",
)


@admins_app.command("disable")
def admins_disable(username: Annotated[str, typer.Argument()]) -> None:
    """Disable USERNAME: no sign-in; their sessions and admin API tokens are refused."""
    with using(_service()) as admins:
        admins.set_disabled(username, True, actor=cli_actor())
        typer.echo(f"disabled administrator {username!r}")


@admins_app.command("enable")
def admins_enable(username: Annotated[str, typer.Argument()]) -> None:
    """Enable USERNAME again (their unexpired tokens work again)."""
    with using(_service()) as admins:
        admins.set_disabled(username, False, actor=cli_actor())
        typer.echo(f"enabled administrator {username!r}")


@admins_app.command("change-password")
def admins_change_password(username: Annotated[str, typer.Argument()]) -> None:
    """Change USERNAME's password: asks for the current one, then the new one twice.

    Passwords are only ever read from the terminal, never from arguments or the environment,
    so that they stay out of shell history and process listings. Other sessions end.
    """
    current = typer.prompt("Current password", hide_input=True)
    new = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    with using(_service()) as admins:
        admins.change_password(username, current, new, actor=cli_actor())
        typer.echo(f"changed the password of {username!r}; their sessions have ended")


@admins_app.command("reset-password")
def admins_reset_password(
    username: Annotated[str, typer.Argument()],
    prompt: Annotated[
        bool,
        typer.Option("--prompt", help="Type the new password (twice) instead of generating one."),
    ] = False,
) -> None:
    """Give USERNAME a new password: a generated one, printed once, or one typed at a prompt.

    Every session of theirs ends.
    """
    chosen = (
        typer.prompt("New password", hide_input=True, confirmation_prompt=True) if prompt else None
    )
    with using(_service()) as admins:
        password = admins.reset_password(username, actor=cli_actor(), new_password=chosen)
        if chosen is None:
            typer.echo(f"new password for {username!r}: {password}\n(shown once)")
        else:
            typer.echo(f"set a new password for {username!r}")
        typer.echo("their sessions have ended")


ExpiresOpt = Annotated[
    str | None,
    typer.Option(
        "--expires-in",
        help="Lifetime, e.g. 12h, 30d (default CREDGATE_ADMIN_TOKEN_DEFAULT_DAYS, "
        "at most CREDGATE_ADMIN_TOKEN_MAX_DAYS).",
    ),
]


@admins_app.command("token")
def admins_token(
    username: Annotated[str, typer.Argument()],
    name: Annotated[str, typer.Option(help="What the token is for (unique per admin).")] = "cli",
    expires_in: ExpiresOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a personal admin API token for USERNAME; prints it once."""
    ttl = parse_duration(expires_in, "--expires-in") if expires_in is not None else None
    with using(_service()) as admins:
        issued = admins.issue_token(username, name, actor=cli_actor(), ttl=ttl)
        emit(
            issued.as_dict(),
            as_json,
            lambda d: typer.echo(
                f"admin API token: {d['token']}\n(shown once; expires {d['expires_at']})"
            ),
        )


@filtered_list_command(
    tokens_app,
    _service,
    as_dict,
    [
        ("admin", "admin"),
        ("name", "name"),
        ("created", "created_at"),
        ("last used", lambda r: r["last_used_at"] or "never"),
        ("expires", lambda r: f"{r['expires_at']}{' (expired)' if r['expired'] else ''}"),
    ],
    noun="token(s)",
    help="List admin API tokens, newest first: name, created, last used, expiry. Never the secrets.",
)
def admins_tokens_list(
    admins: AdminService,
    username: Annotated[
        str | None, typer.Argument(help="Whose tokens (default: every administrator's).")
    ] = None,
) -> Callable[[PageRequest], Page[AdminTokenView]]:
    return lambda wanted: admins.tokens_page(wanted, username)


@tokens_app.command("revoke")
def admins_tokens_revoke(
    username: Annotated[str, typer.Argument()],
    name: Annotated[str, typer.Argument(help="The token's name (see `tokens list`).")],
) -> None:
    """Revoke USERNAME's token NAME: refused from the next request on."""
    with using(_service()) as admins:
        admins.revoke_token(admins.token_id(username, name), actor=cli_actor())
        typer.echo(f"revoked {username!r}'s admin API token {name!r}")
