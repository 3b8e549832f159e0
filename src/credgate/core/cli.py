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
import inspect
import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer

from credgate.core.errors import CredgateError
from credgate.core.paging import DEFAULT_LIMIT, MAX_LIMIT, Page, PageRequest, pages
from credgate.core.suggest import did_you_mean

if TYPE_CHECKING:
    from credgate.core.audit.services import Actor
    from credgate.core.config import Settings
    from credgate.core.services import Services

__all__ = [
    "AllOpt",
    "Column",
    "CursorOpt",
    "DataAliasOpt",
    "FileOpt",
    "JsonOpt",
    "LimitOpt",
    "SearchOpt",
    "ServicesOpener",
    "YesOpt",
    "admin_api",
    "cli_actor",
    "database_errors_to_exit",
    "did_you_mean",
    "emit",
    "emit_page",
    "emit_table",
    "errors_to_exit",
    "fail",
    "json_object",
    "list_command",
    "local_fallback_note",
    "name_metavars",
    "open_services",
    "parse_duration",
    "rows_command",
    "set_services_opener",
    "settings_or_exit",
    "sub_app",
    "table",
    "using",
]

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
FileOpt = Annotated[
    str | None,
    typer.Option(
        "--file", "-f", metavar="FILE", help="A JSON object in a file ('-' reads standard input)."
    ),
]
# The older spelling, JSON text or @file.json; kept working, no longer shown.
DataAliasOpt = Annotated[str | None, typer.Option("--data", hidden=True)]


def cli_actor() -> Actor:
    """Who the audit log says acted: the command line (imported late: it needs the database)."""
    from credgate.core.audit.services import Actor

    return Actor.cli()


def sub_app(help: str) -> typer.Typer:
    """A command group with the settings every ``credgate`` group shares: plain help (fast, and
    readable when piped), no completion install, no pretty tracebacks."""
    return typer.Typer(
        help=help,
        no_args_is_help=True,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        add_completion=False,
    )


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


Column = tuple[str, str | Callable[[dict[str, Any]], Any]]
"""A table column: its heading, and the row's key or a function of the row."""


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value) or "-"
    return str(value)


def table(rows: Iterable[dict[str, Any]], columns: Sequence[Column]) -> str:
    """Rows as aligned columns under upper-case headings; ``(none)`` when there are none."""
    cells = [
        [_cell(get(row) if callable(get) else row.get(get)) for _, get in columns] for row in rows
    ]
    if not cells:
        return "(none)"
    lines = [[heading.upper() for heading, _ in columns], *cells]
    widths = [max(len(line[i]) for line in lines) for i in range(len(columns))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def emit_table(
    data: Any,
    as_json: bool,
    columns: Sequence[Column],
    key: str | None = None,
    counted: str | None = None,
) -> None:
    """``data`` as JSON (``--json``), else its rows (``data[key]`` when given) as a table, and,
    when ``counted`` names them, a last line with ``data["total"]``: ``12 webhook(s)``."""

    def render(d: Any) -> None:
        typer.echo(table(d[key] if key else d, columns))
        if counted:
            typer.echo(f"{d['total'] if key else len(d)} {counted}")

    emit(data, as_json, render)


def json_object(file: str | None, data: str | None = None, *, required: bool = True) -> Any:
    """The JSON object of ``--file FILE`` ('-': standard input), or of the hidden ``--data``
    alias (JSON text, or ``@file``); ``None`` when neither is given and none is required."""
    if file is not None and data is not None:
        fail("--file: give the JSON object once (--file or --data, not both)")
    option, source = ("--file", file) if data is None else ("--data", data)
    if source is None:
        if required:
            fail("--file: give a JSON object in a file, e.g. --file body.json")
        return None
    if option == "--data" and not source.startswith("@"):
        text = source
    else:
        path = source.removeprefix("@") if option == "--data" else source
        try:
            text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            fail(f"{option}: cannot read {path} ({exc.strerror})")
        except UnicodeDecodeError:
            fail(f"{option}: {path} is not UTF-8 text")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"{option}: not valid JSON (line {exc.lineno}, column {exc.colno})")
    except RecursionError:
        fail(f"{option}: nested too deeply")
    if not isinstance(value, dict):
        fail(f"{option}: must hold a JSON object")
    return value


def emit_page(
    read: Callable[[PageRequest], Page[T]],
    shape: Callable[[T], dict[str, Any]],
    columns: Sequence[Column],
    *,
    limit: int = DEFAULT_LIMIT,
    every: bool = False,
    search: str = "",
    cursor: str | None = None,
    as_json: bool = False,
    noun: str = "row(s)",
) -> None:
    """Print one page of a list (``--limit``, ``--cursor``, ``--search``) as a table, or every
    row in batches as they are read (``--all``: a table per batch, or a streamed JSON array)."""
    with errors_to_exit():
        first = PageRequest.parse(MAX_LIMIT if every else limit, cursor, search)
    if every:
        batches = pages(lambda wanted: read(first.after(wanted.cursor)))
        if as_json:
            typer.echo("[", nl=False)
            count = 0
            for batch in batches:
                for item in batch:
                    row = json.dumps(shape(item), default=str)
                    typer.echo(("," if count else "") + "\n  " + row, nl=False)
                    count += 1
            typer.echo("\n]")
        else:
            for index, batch in enumerate(batches):
                lines = table([shape(item) for item in batch], columns).splitlines()
                typer.echo("\n".join(lines if index == 0 else lines[1:]))
        return
    page = read(first).map(shape)
    if as_json:
        typer.echo(json.dumps(page.items, indent=2, default=str))
    else:
        typer.echo(table(page.items, columns))
        if page.total:
            typer.echo(f"{len(page.items)} of {page.total} {noun}")
    if page.next_cursor:
        typer.echo(f"more: --cursor {page.next_cursor} (or --all)", err=True)


def _paging(
    limit: LimitOpt = DEFAULT_LIMIT,
    every: AllOpt = False,
    search: SearchOpt = "",
    cursor: CursorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Only a signature: the paging options every list command ends with."""


PAGING_OPTIONS = tuple(inspect.signature(_paging, eval_str=True).parameters.values())
"""The paging options of every ``list`` command, for a command whose signature is built."""


def list_command(
    app: typer.Typer,
    read: Callable[[Services], Callable[[PageRequest], Page[Any]]],
    shape: Callable[[Any], dict[str, Any]],
    columns: Sequence[Column],
    *,
    noun: str,
    help: str,
) -> None:
    """Add a ``list`` command to ``app`` that pages through ``read(services)`` (see
    :func:`emit_page`). ``read`` imports its service when called, so that listing the
    commands loads no feature."""

    def list_rows(**paging: Any) -> None:
        with open_services() as services:
            emit_page(read(services), shape, columns, noun=noun, **paging)

    # Typer reads a command's options from its signature.
    list_rows.__signature__ = inspect.Signature(list(PAGING_OPTIONS))  # type: ignore[attr-defined]
    app.command("list", help=help)(list_rows)


def parse_duration(text: str, option: str) -> dt.timedelta:
    """``90s``, ``30m``, ``1h``, ``2d`` or a number of seconds; anything else fails ``option``."""
    match = _DURATION.match(text)
    if not match:
        fail(f"{option}: {text!r} is not a duration; use e.g. 90s, 30m, 1h or 2d")
    return dt.timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def settings_or_exit(**overrides: Any) -> Settings:
    """The settings, or exit naming each ``CREDGATE_*`` variable (or the file) at fault."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from credgate.core.config import ConfigurationError, load_settings

    try:
        return load_settings(**overrides)
    except ConfigurationError as exc:
        fail(f"invalid configuration: {exc}")
    except SettingsError as exc:  # a value the settings sources could not even read
        fail(f"invalid configuration: {exc}")
    except ValidationError as exc:
        problems = "; ".join(
            f"CREDGATE_{'_'.join(str(p) for p in err['loc']).upper() or 'CONFIG'}: {err['msg']}"
            for err in exc.errors()
        )
        fail(f"invalid configuration: {problems}")


@contextmanager
def database_errors_to_exit(url: str) -> Iterator[None]:
    """A database that cannot be reached or opened becomes one line naming it (exit 2)."""
    from sqlalchemy import exc as sa_exc
    from sqlalchemy.engine import make_url

    try:
        yield
    except (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.ArgumentError) as exc:
        try:
            shown = make_url(url).render_as_string(hide_password=True).split("?")[0]
        except sa_exc.ArgumentError:
            fail("CREDGATE_DATABASE_URL: not a database URL")
        cause = getattr(exc, "orig", None) or exc
        reason = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
        fail(f"cannot open the database {shown}: {reason}")
    except ModuleNotFoundError as exc:
        fail(f"CREDGATE_DATABASE_URL: the driver {exc.name!r} is not installed")


def admin_api(settings: Settings, method: str, path: str, **params: str) -> Any:
    """Call the running server's admin API (``CREDGATE_ADMIN_API_URL``) and return its JSON
    answer, or ``None`` when no server is configured. Failures exit with one line."""
    if not settings.admin_api_url or settings.admin_api_token is None:
        return None
    import httpx

    url = f"{settings.admin_api_url}/admin/api/v1{path}"
    headers = {"Authorization": f"Bearer {settings.admin_api_token.get_secret_value()}"}
    try:
        answer = httpx.request(method, url, params=params, headers=headers, timeout=120)
    except httpx.HTTPError as exc:
        fail(
            f"cannot reach the credgate admin API at {settings.admin_api_url} "
            f"(CREDGATE_ADMIN_API_URL): {type(exc).__name__}: {exc}"
        )
    try:
        body = answer.json()
    except ValueError:
        body = None
    if answer.status_code == 401:
        fail("the credgate admin API refused CREDGATE_ADMIN_API_TOKEN (expired or revoked?)")
    if answer.status_code >= 400:
        detail = body.get("message") or body.get("error") if isinstance(body, dict) else None
        errors = body.get("errors") if isinstance(body, dict) else None
        if errors:
            detail = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in errors)
        fail(str(detail or f"the credgate admin API answered HTTP {answer.status_code}"))
    return body


def local_fallback_note(action: str) -> None:
    """Say, on standard error, that ``action`` runs here rather than in the server."""
    typer.echo(
        f"note: {action} from this process (its network, proxy and CA bundle); set "
        "CREDGATE_ADMIN_API_URL and CREDGATE_ADMIN_API_TOKEN to do it from the running server",
        err=True,
    )


def name_metavars(command: Any) -> None:
    """Give every parameter that takes a value a metavar named for it (``--name NAME``), not for
    its Python type (``<str>``); an explicit metavar is kept. ``command`` is the click command
    Typer builds (duck-typed: Typer carries its own copy of click)."""
    for param in command.params:
        if param.param_type_name == "argument":
            # Typer prints an argument's Python type after its name (``REF <str>``), metavar
            # or not; the name and the help say what it takes.
            param.display_type_rich = lambda ctx: None
        if param.metavar is not None or not param.name or getattr(param, "is_flag", False):
            continue
        if param.param_type_name in ("option", "argument"):
            param.metavar = param.name.upper()
    for sub in getattr(command, "commands", {}).values():
        name_metavars(sub)


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


ServicesOpener = Callable[[], "AbstractContextManager[Services]"]
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


@contextmanager
def using(kind: type[T]) -> Iterator[T]:
    """The one service of type ``kind`` a command acts on, for the length of the command."""
    with open_services() as services:
        yield services.get(kind)


def rows_command(
    app: typer.Typer,
    service: Callable[[], AbstractContextManager[S]],
    rows: Callable[[S], Iterable[dict[str, Any]]],
    columns: Sequence[Column],
    *,
    help: str,
) -> None:
    """Add a ``list`` command to ``app`` that prints every row of a short list at once (a table,
    or ``--json``); long lists page with :func:`list_command` instead."""

    @app.command("list", help=help)
    def list_rows(as_json: JsonOpt = False) -> None:
        with service() as opened:
            emit_table(list(rows(opened)), as_json, columns)
