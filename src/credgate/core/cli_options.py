"""Option declarations that more than one feature's commands share."""

from __future__ import annotations

from typing import Any

import typer

__all__ = ["new_password"]


def new_password(envvar: str) -> Any:
    """The option of a new account's password: asked for twice and not echoed, or taken from
    ``envvar`` for scripts, never from the command line where it would stay in the history."""
    return typer.Option(prompt=True, hide_input=True, confirmation_prompt=True, envvar=envvar)
