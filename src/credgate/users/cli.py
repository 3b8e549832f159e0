"""``credgate users ...`` and ``credgate profiles ...``: classic user accounts and profiles."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from credgate.core.cli import YesOpt, cli_actor, fail, sub_app, using
from credgate.core.cli_lists import as_dict, service_list_command
from credgate.core.cli_options import new_password

if TYPE_CHECKING:
    from credgate.users.services import UserService

__all__ = ["profiles_app", "users_app"]

users_app = sub_app("Manage classic user accounts.")
profiles_app = sub_app("Manage classic user profiles.")


def _service() -> type[UserService]:
    from credgate.users.services import UserService

    return UserService


@users_app.command("create")
def users_create(
    username: Annotated[str, typer.Argument()],
    profile: Annotated[str, typer.Option(help="Profile name (see `credgate profiles list`).")],
    password: Annotated[str, new_password("CREDGATE_NEW_USER_PASSWORD")],
) -> None:
    """Add a classic user account."""
    with using(_service()) as users:
        users.create_user(username, password, profile=profile, actor=cli_actor())
        typer.echo(f"created user {username!r} with profile {profile!r}")


service_list_command(
    users_app,
    _service,
    lambda users: users.page_users,
    as_dict,
    [("username", "username"), ("profile", "profile")],
    noun="classic user(s)",
    help="List classic users by name, a page at a time (or --all).",
)


@users_app.command("delete")
def users_delete(username: Annotated[str, typer.Argument()], yes: YesOpt = False) -> None:
    """Delete a classic user account."""
    with using(_service()) as users:
        if not yes and not typer.confirm(f"Delete user {username!r}?"):
            fail("not deleted", code=1)
        users.delete_user(username, actor=cli_actor())
        typer.echo(f"deleted user {username!r}")


@profiles_app.command("create")
def profiles_create(
    name: Annotated[str, typer.Argument()],
    data_privacy: Annotated[
        str, typer.Option(help="none (full access), partial or full.")
    ] = "none",
    finder_access: Annotated[
        bool, typer.Option("--finder-access/--no-finder-access", help="Finder access.")
    ] = False,
) -> None:
    """Add a profile."""
    with using(_service()) as users:
        users.create_profile(
            name, data_privacy=data_privacy, finder_access=finder_access, actor=cli_actor()
        )
        typer.echo(f"created profile {name!r}")


service_list_command(
    profiles_app,
    _service,
    lambda users: users.page_profiles,
    as_dict,
    [
        ("name", "name"),
        ("data privacy", "data_privacy"),
        ("finder access", "finder_access"),
    ],
    noun="profile(s)",
    help="List profiles by name, a page at a time (or --all).",
)
