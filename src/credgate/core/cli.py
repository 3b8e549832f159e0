"""What every ``credgate`` command shares: errors and exit codes, output, durations, settings,
and the services a command acts on.

Each feature has its own Typer sub-app (``<feature>/cli.py``) and ``credgate.cli`` assembles
them. A feature command never opens the installation itself: it asks for the services it needs
by type, and the entry point decides how they are built::

    with open_services() as services:
        services.get(ApiCredentialService).create(...)

``credgate.cli`` registers the opener (:func:`set_services_opener`) when it is imported, so
that imports point down: features know this module, never the composition root.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError

from credgate.core.config import Settings, load_settings
from credgate.core.errors import CredgateError
from credgate.core.paging import DEFAULT_LIMIT, MAX_LIMIT, Page, PageRequest, iterate
from credgate.core.services import Services

__all__ = [
    "AllOpt",
    "CursorOpt",
    "JsonOpt",
    "LimitOpt",
    "SearchOpt",
    "ServicesOpener",
    "YesOpt",
    "emit",
    "emit_page",
    "errors_to_exit",
    "fail",
    "list_command",
    "open_services",
    "parse_duration",
    "set_services_opener",
    "settings_or_exit",
]

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
LimitOpt = Annotated[
    int, typer.Option("--limit", help=f"Rows per page, 1-{MAX_LIMIT}.", show_default=True)
]
AllOpt = Annotated[
    bool, typer.Option("--all", help="Every row, read and printed in batches; ignores --limit.")
]
SearchOpt = Annotated[
    str, typer.Option("--search", "-q", help="Only rows whose name or id has this.")
]
CursorOpt = Annotated[
    str | None, typer.Option("--cursor", help="Start after this cursor (printed after a page).")
]

T = TypeVar("T")
S = TypeVar("S")

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``error: message`` in red on standard error and exit with ``code``."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def emit(data: Any, as_json: bool, render: Callable[[Any], None]) -> None:
    """Print ``data`` as indented JSON (``--json``), or for people with ``render``."""
    if as_json:
        typer.echo(json.dumps(data, indent=2, default=str))
    else:
        render(data)


def emit_page(
    read: Callable[[PageRequest], Page[T]],
    shape: Callable[[T], dict[str, Any]],
    line: Callable[[dict[str, Any]], str],
    *,
    limit: int = DEFAULT_LIMIT,
    every: bool = False,
    search: str = "",
    cursor: str | None = None,
    as_json: bool = False,
    noun: str = "row(s)",
) -> None:
    """Print one page of a list (``--limit``, ``--cursor``, ``--search``), or every row in
    batches as they are read (``--all``), one ``line`` per row or a JSON array of ``shape``."""
    with errors_to_exit():
        first = PageRequest.parse(MAX_LIMIT if every else limit, cursor, search)
    if every:
        rows = (shape(item) for item in iterate(lambda wanted: read(first.after(wanted.cursor))))
        if as_json:
            typer.echo("[", nl=False)
            for index, row in enumerate(rows):
                typer.echo(("," if index else "") + "\n  " + json.dumps(row, default=str), nl=False)
            typer.echo("\n]")
        else:
            for row in rows:
                typer.echo(line(row))
        return
    page = read(first).map(shape)
    if as_json:
        typer.echo(json.dumps(page.items, indent=2, default=str))
    else:
        typer.echo(f"{len(page.items)} of {page.total} {noun}" if page.total else "(none)")
        for row in page.items:
            typer.echo(line(row))
    if page.next_cursor:
        typer.echo(f"more: --cursor {page.next_cursor} (or --all)", err=True)


def list_command(
    app: typer.Typer,
    service: type[S],
    read: Callable[[S], Callable[[PageRequest], Page[T]]],
    shape: Callable[[T], dict[str, Any]],
    line: Callable[[dict[str, Any]], str],
    *,
    noun: str,
    help: str,
) -> None:
    """Add a ``list`` command to ``app`` that pages through ``read(service)`` (see
    :func:`emit_page`)."""

    @app.command("list", help=help)
    def list_rows(
        limit: LimitOpt = DEFAULT_LIMIT,
        every: AllOpt = False,
        search: SearchOpt = "",
        cursor: CursorOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        with open_services() as services:
            emit_page(
                read(services.get(service)),
                shape,
                line,
                limit=limit,
                every=every,
                search=search,
                cursor=cursor,
                as_json=as_json,
                noun=noun,
            )


def parse_duration(text: str, option: str) -> dt.timedelta:
    """``90s``, ``30m``, ``1h``, ``2d`` or a number of seconds; anything else fails ``option``."""
    match = _DURATION.match(text)
    if not match:
        fail(f"{option}: {text!r} is not a duration; use e.g. 90s, 30m, 1h or 2d")
    return dt.timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def settings_or_exit(**overrides: Any) -> Settings:
    """The settings, or exit naming each ``CREDGATE_*`` variable at fault."""
    from pydantic_settings import SettingsError

    try:
        return load_settings(**overrides)
    except SettingsError as exc:  # a value the settings sources could not even read
        fail(f"invalid configuration: {exc}")
    except ValidationError as exc:
        problems = "; ".join(
            f"CREDGATE_{'_'.join(str(p) for p in err['loc']).upper() or 'CONFIG'}: {err['msg']}"
            for err in exc.errors()
        )
        fail(f"invalid configuration: {problems}")


@contextmanager
def errors_to_exit() -> Iterator[None]:
    """Turn a service's :class:`CredgateError` into ``error: ...`` and exit code 2."""
    try:
        yield
    except CredgateError as exc:
        errors = getattr(exc, "errors", None)
        if errors:
            fail("; ".join(f"{e.field}: {e.message}" for e in errors))
        fail(str(exc))


ServicesOpener = Callable[[], AbstractContextManager[Services]]
"""Opens the installation for one command and closes it afterwards; exits when it cannot."""

_opener: ServicesOpener | None = None


def set_services_opener(opener: ServicesOpener) -> None:
    """Say how commands get their services (``credgate.cli`` opens the container)."""
    global _opener  # one entry point per process sets it, once, when it is imported
    _opener = opener


@contextmanager
def open_services() -> Iterator[Services]:
    """The services of the installation, for the length of one command.

    A :class:`CredgateError` raised inside becomes ``error: ...`` and exit code 2.
    """
    if _opener is None:
        raise RuntimeError(
            "no services opener is set; credgate.cli sets one when it assembles the commands"
        )
    with _opener() as services, errors_to_exit():
        yield services
