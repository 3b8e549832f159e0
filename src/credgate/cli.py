"""The ``credgate`` command line. Thin: parse arguments, call services, print results.

Secrets are printed only by the commands that create them (``init``, ``api-credentials create``,
``api-credentials regenerate``, ``admins token``, ``admins reset-password``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError

from credgate import __version__
from credgate.bootstrap import initialise
from credgate.core.audit.services import Actor
from credgate.core.config import Settings, load_settings
from credgate.core.db import Database
from credgate.core.errors import CredgateError
from credgate.security.keyfiles import BootstrapError

app = typer.Typer(
    name="credgate",
    help="credgate: OAuth 2.0 API credentials inbound, connector credentials outbound.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
api_credentials = typer.Typer(
    help="Manage API credentials (OAuth 2.0 clients).", no_args_is_help=True
)
keys_app = typer.Typer(help="Manage token-signing keys.", no_args_is_help=True)
admins_app = typer.Typer(help="Manage administrators and their API tokens.", no_args_is_help=True)
app.add_typer(api_credentials, name="api-credentials")
app.add_typer(keys_app, name="keys")
app.add_typer(admins_app, name="admins")
bench_app = typer.Typer(
    help="Benchmarks: ratios against a baseline measured in the same run.", no_args_is_help=True
)
app.add_typer(bench_app, name="bench")

connector_credentials_app = typer.Typer(
    help="Manage connector credentials (outbound HTTPS and SFTP); secrets are never shown.",
    no_args_is_help=True,
)
vault_app = typer.Typer(
    help="Manage the vault's master keys (AES-256-GCM encryption of stored secrets).",
    no_args_is_help=True,
)
app.add_typer(connector_credentials_app, name="connector-credentials")
app.add_typer(vault_app, name="vault")

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def fail(message: str, code: int = 2) -> NoReturn:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def parse_duration(text: str, option: str) -> dt.timedelta:
    match = _DURATION.match(text)
    if not match:
        fail(f"{option}: {text!r} is not a duration; use e.g. 90s, 30m, 1h or 2d")
    return dt.timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def settings_or_exit(**overrides: Any) -> Settings:
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
def container_for_cli() -> Iterator[Any]:
    from credgate.container import Container

    settings = settings_or_exit()
    try:
        container = Container.open(settings)
    except BootstrapError as exc:
        fail(str(exc))
    except LookupError as exc:
        fail(str(exc))
    try:
        yield container
    except CredgateError as exc:
        errors = getattr(exc, "errors", None)
        if errors:
            fail("; ".join(f"{e.field}: {e.message}" for e in errors))
        fail(str(exc))
    finally:
        container.close()


def emit(data: Any, as_json: bool, render: Callable[[Any], None]) -> None:
    if as_json:
        typer.echo(json.dumps(data, indent=2, default=str))
    else:
        render(data)


JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@app.callback(invoke_without_command=True)
def main_callback(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        typer.echo(__version__)
        raise typer.Exit(0)


# init / serve ---------------------------------------------------------------------------------


@app.command()
def init() -> None:
    """Create keys and the database, add a signing key and the first administrator (idempotent)."""
    settings = settings_or_exit()
    try:
        _vault, _pepper, report = initialise(settings, Database(settings.resolved_database_url))
    except BootstrapError as exc:
        fail(str(exc))
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


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address (CREDGATE_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (CREDGATE_PORT).")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes (CREDGATE_WORKERS).")
    ] = None,
) -> None:
    """Set up if needed, then serve HTTP."""
    import uvicorn

    for name, value in (("HOST", host), ("PORT", port), ("WORKERS", workers)):
        if value is not None:
            os.environ[f"CREDGATE_{name}"] = str(value)
    settings = settings_or_exit()
    from credgate.core.logs import configure_logging

    configure_logging(settings.log_level, settings.log_format)
    try:
        _vault, _pepper, report = initialise(settings, Database(settings.resolved_database_url))
    except BootstrapError as exc:
        fail(str(exc))
    if report.admin_password:
        typer.echo(
            f"created administrator {report.admin_username!r} with password {report.admin_password}"
            "   (shown once)"
        )
    typer.echo(
        f"credgate {__version__} serving on http://{settings.host}:{settings.port}", err=True
    )
    uvicorn.run(
        "credgate.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        access_log=False,
        log_config=None,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=10,
    )


# api-credentials ------------------------------------------------------------------------------


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


@api_credentials.command("create")
def ac_create(
    name: Annotated[str, typer.Option(help="Unique name, e.g. the calling application.")],
    permission: Annotated[
        list[str], typer.Option("--permission", "-p", help="Permission id; repeat.")
    ],
    description: Annotated[str, typer.Option(help="What uses it, and why.")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Create an API credential; prints the client id and the secret, once."""
    with container_for_cli() as rt:
        created = rt.api_credentials.create(
            name=name, description=description, permissions=permission, actor=Actor.cli()
        )
        emit(
            {**created.credential.as_dict(), "client_secret": created.client_secret},
            as_json,
            _print_secret,
        )


@api_credentials.command("list")
def ac_list(as_json: JsonOpt = False) -> None:
    """List API credentials."""
    with container_for_cli() as rt:
        items = [c.as_dict() for c in rt.api_credentials.list()]

        def render(rows: list[dict[str, Any]]) -> None:
            typer.echo(f"{len(rows)} API credential(s)")
            for row in rows:
                state = " (disabled)" if row["disabled"] else ""
                typer.echo(
                    f"  {row['client_id']}  {row['name']}{state}  [{', '.join(row['permissions'])}]"
                )

        emit(items, as_json, render)


@api_credentials.command("show")
def ac_show(
    ref: Annotated[str, typer.Argument(help="Client id or name.")], as_json: JsonOpt = False
) -> None:
    """Show one API credential (never its secret)."""
    with container_for_cli() as rt:
        emit(rt.api_credentials.find(ref).as_dict(), as_json, _print_credential)


@api_credentials.command("update")
def ac_update(
    ref: Annotated[str, typer.Argument(help="Client id or name.")],
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
    with container_for_cli() as rt:
        current = rt.api_credentials.find(ref)
        view = rt.api_credentials.update(
            current.client_id,
            actor=Actor.cli(),
            name=name,
            description=description,
            permissions=permission or None,
            disabled=disable,
        )
        emit(view.as_dict(), as_json, _print_credential)


@api_credentials.command("delete")
def ac_delete(
    ref: Annotated[str, typer.Argument(help="Client id or name.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete an API credential: new tokens stop at once, live ones within seconds."""
    with container_for_cli() as rt:
        current = rt.api_credentials.find(ref)
        if not yes and not typer.confirm(
            f"Delete API credential {current.name!r} ({current.client_id})?"
        ):
            fail("not deleted", code=1)
        rt.api_credentials.delete(current.client_id, actor=Actor.cli())
        typer.echo(f"deleted {current.client_id}")


@api_credentials.command("regenerate")
def ac_regenerate(
    ref: Annotated[str, typer.Argument(help="Client id or name.")],
    overlap: Annotated[
        str, typer.Option(help="Keep the old secret valid this long, e.g. 1h (max 30d).")
    ] = "0",
    as_json: JsonOpt = False,
) -> None:
    """Generate a new secret; prints it once."""
    window = parse_duration(overlap, "--overlap")
    with container_for_cli() as rt:
        current = rt.api_credentials.find(ref)
        created = rt.api_credentials.regenerate(
            current.client_id, actor=Actor.cli(), overlap=window
        )
        emit(
            {**created.credential.as_dict(), "client_secret": created.client_secret},
            as_json,
            _print_secret,
        )


# keys -----------------------------------------------------------------------------------------


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Sign new tokens with a new key; the old one stays published until its tokens expire."""
    from credgate.core.audit.services import record

    with container_for_cli() as rt:
        old = rt.keys().active.kid
        kid = rt.rotate_keys()
        with rt.db.session() as session:
            record(session, Actor.cli(), "signing_key.rotate", "signing_key", kid)
        typer.echo(f"new signing key {kid}; {old} stays in the JWKS until its last token expires")


@keys_app.command("list")
def keys_list(as_json: JsonOpt = False) -> None:
    """Published signing keys."""
    with container_for_cli() as rt:
        keys = rt.keys()
        rows = [
            {
                "kid": k.kid,
                "active": k.kid == keys.active.kid,
                "created_at": k.created_at.isoformat(),
                "published_until": k.publish_until.isoformat() if k.publish_until else None,
            }
            for k in keys.published
        ]

        def render(items: list[dict[str, Any]]) -> None:
            for item in items:
                flag = "active " if item["active"] else "retired"
                until = f" until {item['published_until']}" if item["published_until"] else ""
                typer.echo(f"{flag} {item['kid']}  created {item['created_at']}{until}")

        emit(rows, as_json, render)


# admins ---------------------------------------------------------------------------------------


@admins_app.command("create")
def admins_create(
    username: Annotated[str, typer.Argument()],
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            envvar="CREDGATE_NEW_ADMIN_PASSWORD",
        ),
    ],
) -> None:
    """Add an administrator."""
    with container_for_cli() as rt:
        rt.admins.create(username, password, actor=Actor.cli())
        typer.echo(f"created administrator {username!r}")


@admins_app.command("list")
def admins_list(as_json: JsonOpt = False) -> None:
    """List administrators."""
    with container_for_cli() as rt:
        rows = [a.as_dict() for a in rt.admins.list_admins()]

        def render(items: list[dict[str, Any]]) -> None:
            for item in items:
                state = "disabled" if item["disabled"] else "active  "
                typer.echo(f"{state} {item['username']}  created {item['created_at']}")

        emit(rows, as_json, render)


@admins_app.command("disable")
def admins_disable(username: Annotated[str, typer.Argument()]) -> None:
    """Disable USERNAME: no sign-in; their sessions and admin API tokens are refused."""
    with container_for_cli() as rt:
        rt.admins.set_disabled(username, True, actor=Actor.cli())
        typer.echo(f"disabled administrator {username!r}")


@admins_app.command("enable")
def admins_enable(username: Annotated[str, typer.Argument()]) -> None:
    """Enable USERNAME again (their unexpired tokens work again)."""
    with container_for_cli() as rt:
        rt.admins.set_disabled(username, False, actor=Actor.cli())
        typer.echo(f"enabled administrator {username!r}")


@admins_app.command("change-password")
def admins_change_password(username: Annotated[str, typer.Argument()]) -> None:
    """Change USERNAME's password: asks for the current one, then the new one twice.

    Passwords are only ever read from the terminal, never from arguments or the environment,
    so that they stay out of shell history and process listings. Other sessions end.
    """
    current = typer.prompt("Current password", hide_input=True)
    new = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    with container_for_cli() as rt:
        rt.admins.change_password(username, current, new, actor=Actor.cli())
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
    with container_for_cli() as rt:
        password = rt.admins.reset_password(username, actor=Actor.cli(), new_password=chosen)
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
    with container_for_cli() as rt:
        issued = rt.admins.issue_token(username, name, actor=Actor.cli(), ttl=ttl)
        emit(
            issued.as_dict(),
            as_json,
            lambda d: typer.echo(
                f"admin API token: {d['token']}\n(shown once; expires {d['expires_at']})"
            ),
        )


tokens_app = typer.Typer(help="List and revoke admin API tokens.", no_args_is_help=True)
admins_app.add_typer(tokens_app, name="tokens")


@tokens_app.command("list")
def admins_tokens_list(
    username: Annotated[
        str | None, typer.Argument(help="Whose tokens (default: every administrator's).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List admin API tokens: name, created, last used, expiry. Never the secrets."""
    with container_for_cli() as rt:
        rows = [t.as_dict() for t in rt.admins.list_tokens(username)]

        def render(items: list[dict[str, Any]]) -> None:
            if not items:
                typer.echo("no admin API tokens")
            for item in items:
                state = "expired" if item["expired"] else "expires"
                used = item["last_used_at"] or "never"
                typer.echo(
                    f"{item['admin']}  {item['name']!r}  created {item['created_at']}  "
                    f"last used {used}  {state} {item['expires_at']}"
                )

        emit(rows, as_json, render)


@tokens_app.command("revoke")
def admins_tokens_revoke(
    username: Annotated[str, typer.Argument()],
    name: Annotated[str, typer.Argument(help="The token's name (see `tokens list`).")],
) -> None:
    """Revoke USERNAME's token NAME: refused from the next request on."""
    with container_for_cli() as rt:
        rt.admins.revoke_token(rt.admins.token_id(username, name), actor=Actor.cli())
        typer.echo(f"revoked {username!r}'s admin API token {name!r}")


# users, profiles, engines (classic integration methods) --------------------------------------

users_app = typer.Typer(help="Manage classic user accounts.", no_args_is_help=True)
profiles_app = typer.Typer(help="Manage classic user profiles.", no_args_is_help=True)
engines_app = typer.Typer(help="Manage the engines registry.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(profiles_app, name="profiles")
app.add_typer(engines_app, name="engines")


@users_app.command("create")
def users_create(
    username: Annotated[str, typer.Argument()],
    profile: Annotated[str, typer.Option(help="Profile name (see `credgate profiles list`).")],
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            envvar="CREDGATE_NEW_USER_PASSWORD",
        ),
    ],
) -> None:
    """Add a classic user account."""
    with container_for_cli() as rt:
        rt.users.create_user(username, password, profile=profile, actor=Actor.cli())
        typer.echo(f"created user {username!r} with profile {profile!r}")


@users_app.command("list")
def users_list(as_json: JsonOpt = False) -> None:
    """List classic users."""
    with container_for_cli() as rt:
        items = [u.as_dict() for u in rt.users.list_users()]
        emit(
            items,
            as_json,
            lambda rows: typer.echo(
                "\n".join(f"{r['username']}  profile={r['profile']}" for r in rows) or "(none)"
            ),
        )


@users_app.command("delete")
def users_delete(
    username: Annotated[str, typer.Argument()],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a classic user account."""
    with container_for_cli() as rt:
        if not yes and not typer.confirm(f"Delete user {username!r}?"):
            fail("not deleted", code=1)
        rt.users.delete_user(username, actor=Actor.cli())
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
    with container_for_cli() as rt:
        rt.users.create_profile(
            name, data_privacy=data_privacy, finder_access=finder_access, actor=Actor.cli()
        )
        typer.echo(f"created profile {name!r}")


@profiles_app.command("list")
def profiles_list(as_json: JsonOpt = False) -> None:
    """List profiles."""
    with container_for_cli() as rt:
        items = [p.as_dict() for p in rt.users.list_profiles()]
        emit(
            items,
            as_json,
            lambda rows: typer.echo(
                "\n".join(
                    f"{r['name']}  data_privacy={r['data_privacy']}  "
                    f"finder_access={str(r['finder_access']).lower()}"
                    for r in rows
                )
                or "(none)"
            ),
        )


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
    with container_for_cli() as rt:
        view = rt.engines.add(
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
    with container_for_cli() as rt:
        items = [e.as_wire() for e in rt.engines.list()]
        emit(
            items,
            as_json,
            lambda rows: typer.echo(
                "\n".join(f"{r['name']}  {r['status']}  {r['address']}:{r['port']}" for r in rows)
                or "(none)"
            ),
        )


@engines_app.command("delete")
def engines_delete(
    name: Annotated[str, typer.Argument()],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Remove an engine from the registry."""
    with container_for_cli() as rt:
        if not yes and not typer.confirm(f"Delete engine {name!r}?"):
            fail("not deleted", code=1)
        rt.engines.delete(name, actor=Actor.cli())
        typer.echo(f"deleted engine {name!r}")


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


# connector-credentials ------------------------------------------------------------------------


def _print_connector_credential(data: dict[str, Any]) -> None:
    typer.echo(f"id:             {data['id']}")
    typer.echo(f"name:           {data['name']}")
    typer.echo(f"protocol:       {data['protocol']}")
    typer.echo(f"url:            {data['url']}")
    for key, value in data["authorization"].items():
        label = "type" if key == "type" else key
        typer.echo(f"  {label + ':':<20} {value}")
    if data.get("redirect_url"):
        typer.echo(f"redirect_url:   {data['redirect_url']}")
    typer.echo(f"created:        {data['created_at']} by {data['created_by']}")
    typer.echo(f"updated:        {data['updated_at']} by {data['updated_by']}")
    test = data["last_test"]
    if test["at"]:
        verdict = "ok" if test["ok"] else "failed"
        typer.echo(f"last test:      {verdict} at {test['at']} {test['detail']}".rstrip())
    if data["status"]:
        typer.echo(f"status:         {data['status']}")


def _read_body_file(path: str) -> dict[str, Any]:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"--file: cannot read {path}: {exc.strerror}")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"--file: not valid JSON (line {exc.lineno}, column {exc.colno})")
    if not isinstance(data, dict):
        fail("--file: must hold a JSON object with name, protocol, url and authorization")
    return data


def _secret_fields_of(body: dict[str, Any]) -> list[str]:
    """The secret fields of the body's protocol and type (none when either is not valid)."""
    from credgate.connectors.credentials import AUTH_FIELDS, AuthType, Protocol

    auth = body.get("authorization")
    raw_protocol, raw_type = (
        body.get("protocol"),
        auth.get("type") if isinstance(auth, dict) else None,
    )
    try:
        protocol = Protocol(str(raw_protocol).strip().upper())
        auth_type = (
            AuthType.BASIC
            if protocol is Protocol.SFTP and not raw_type
            else AuthType(str(raw_type).strip().upper())
        )
    except ValueError:
        return []
    return [spec.name for spec in AUTH_FIELDS.get((protocol, auth_type), ()) if spec.secret]


def _apply_options(
    body: dict[str, Any],
    *,
    name: str | None,
    protocol: str | None,
    url: str | None,
    auth_type: str | None,
    fields: list[str] | None,
) -> dict[str, Any]:
    body = dict(body)
    for key, value in (("name", name), ("protocol", protocol), ("url", url)):
        if value is not None:
            body[key] = value
    auth = body.get("authorization")
    auth = dict(auth) if isinstance(auth, dict) else {}
    if auth_type is not None:
        auth["type"] = auth_type
    for item in fields or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            fail(f"--field: {key.strip() or item!r} must read NAME=VALUE")
        auth[key.strip()] = value
    if auth or "authorization" in body:
        body["authorization"] = auth
    return body


def _fill_secrets(
    body: dict[str, Any], *, from_stdin: bool, ask: bool, only_missing: bool = True
) -> None:
    """Put the type's secret into the body: from stdin, or from a prompt that does not echo."""
    from credgate.connectors.credentials import MASK

    names = _secret_fields_of(body)
    auth = body.get("authorization")
    if not names or not isinstance(auth, dict):
        if from_stdin:
            fail("--secret-stdin: this protocol and authorization type have no secret")
        return
    for secret in names:
        current = auth.get(secret)
        missing = current in (None, "")
        if only_missing and not missing and not (ask and current == MASK):
            continue
        if from_stdin:
            value = sys.stdin.readline().rstrip("\r\n")
        elif ask or missing:
            value = typer.prompt(secret.replace("_", " "), hide_input=True)
        else:
            continue
        auth[secret] = value


NameOpt = Annotated[str | None, typer.Option(help="Unique name, e.g. the third-party tool.")]
ProtocolOpt = Annotated[str | None, typer.Option(help="HTTPS or SFTP.")]
UrlOpt = Annotated[
    str | None,
    typer.Option(help="Instance URL https://{host}[:{port}]/ or hostname sftp://{host}:{port}/."),
]
TypeOpt = Annotated[
    str | None,
    typer.Option(
        "--type",
        help="NONE, BASIC, BEARER, OAUTH2_CLIENT_CREDENTIALS or OAUTH2_AUTHORIZATION_CODE "
        "(SFTP: BASIC).",
    ),
]
FieldOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--field",
        "-F",
        help="A public authorization field, NAME=VALUE (username, client_id, access_token_url, "
        "authorization_url, scope, header_prefix, host_key); repeat.",
    ),
]
FileOpt = Annotated[
    str | None,
    typer.Option(
        "--file", "-f", help="The body as JSON, as for the REST API ('-' reads standard input)."
    ),
]
SecretStdinOpt = Annotated[
    bool,
    typer.Option(
        "--secret-stdin",
        help="Read the secret (password, token or client secret) from the first line of "
        "standard input instead of a prompt.",
    ),
]


@connector_credentials_app.command("create")
def cc_create(
    file: FileOpt = None,
    name: NameOpt = None,
    protocol: ProtocolOpt = None,
    url: UrlOpt = None,
    auth_type: TypeOpt = None,
    field: FieldOpt = None,
    secret_stdin: SecretStdinOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Create a connector credential. A secret not in --file is asked for (not echoed)."""
    if file == "-" and secret_stdin:
        fail("--file - and --secret-stdin both read standard input; use one")
    body = _read_body_file(file) if file else {}
    body = _apply_options(
        body, name=name, protocol=protocol, url=url, auth_type=auth_type, fields=field
    )
    _fill_secrets(body, from_stdin=secret_stdin, ask=False)
    with container_for_cli() as rt:
        view = rt.connector_credentials.create(body, actor=Actor.cli())
        emit(view.as_dict(), as_json, _print_connector_credential)


@connector_credentials_app.command("list")
def cc_list(
    protocol: Annotated[str | None, typer.Option(help="Only HTTPS or only SFTP.")] = None,
    offset: Annotated[int, typer.Option(help="Credentials to skip.")] = 0,
    limit: Annotated[int, typer.Option(help="Credentials to show (1 to 500).")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """List connector credentials, with the total count."""
    with container_for_cli() as rt:
        page = rt.connector_credentials.list(protocol=protocol, offset=offset, limit=limit)

        def render(data: dict[str, Any]) -> None:
            typer.echo(f"{data['total']} connector credential(s)")
            for row in data["items"]:
                status = f"  ({row['status']})" if row["status"] else ""
                typer.echo(
                    f"  {row['id']}  {row['name']}  {row['protocol']} "
                    f"{row['authorization']['type']}  {row['url']}{status}"
                )

        emit(page.as_dict(), as_json, render)


@connector_credentials_app.command("show")
def cc_show(
    ref: Annotated[str, typer.Argument(help="Id or name.")], as_json: JsonOpt = False
) -> None:
    """Show one connector credential, its secrets masked."""
    with container_for_cli() as rt:
        emit(rt.connector_credentials.find(ref).as_dict(), as_json, _print_connector_credential)


@connector_credentials_app.command("update")
def cc_update(
    ref: Annotated[str, typer.Argument(help="Id or name.")],
    file: FileOpt = None,
    name: NameOpt = None,
    protocol: ProtocolOpt = None,
    url: UrlOpt = None,
    auth_type: TypeOpt = None,
    field: FieldOpt = None,
    secret_stdin: SecretStdinOpt = False,
    change_secret: Annotated[
        bool, typer.Option("--change-secret", help="Ask for a new secret (not echoed).")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Edit a connector credential. The stored secret is kept unless a new one is given; a new
    authorization type asks for its secret."""
    if file == "-" and secret_stdin:
        fail("--file - and --secret-stdin both read standard input; use one")
    with container_for_cli() as rt:
        current = rt.connector_credentials.find(ref)
        body = _read_body_file(file) if file else current.as_dict()
        body = {k: v for k, v in body.items() if k in ("name", "protocol", "url", "authorization")}
        shown = current.as_dict()
        if not file and (
            (auth_type is not None and auth_type.strip().upper() != shown["authorization"]["type"])
            or (protocol is not None and protocol.strip().upper() != shown["protocol"])
        ):
            body["authorization"] = {}  # another type: its fields start empty
        body = _apply_options(
            body, name=name, protocol=protocol, url=url, auth_type=auth_type, fields=field
        )
        retyped = (body.get("protocol"), (body.get("authorization") or {}).get("type")) != (
            shown["protocol"],
            shown["authorization"]["type"],
        )
        _fill_secrets(body, from_stdin=secret_stdin, ask=change_secret or retyped)
        view = rt.connector_credentials.update(current.id, body, actor=Actor.cli())
        emit(view.as_dict(), as_json, _print_connector_credential)


@connector_credentials_app.command("delete")
def cc_delete(
    ref: Annotated[str, typer.Argument(help="Id or name.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a connector credential. Connectors that use it stay, and report it missing."""
    with container_for_cli() as rt:
        current = rt.connector_credentials.find(ref)
        users = rt.connectors.count_using(current.id)
        note = f"; {users} connector(s) use it and will report it missing" if users else ""
        if not yes and not typer.confirm(f"Delete connector credential {current.name!r}{note}?"):
            fail("not deleted", code=1)
        rt.connector_credentials.delete(current.id, actor=Actor.cli())
        typer.echo(f"deleted {current.id}")


@connector_credentials_app.command("test")
def cc_test(
    ref: Annotated[str, typer.Argument(help="Id or name.")],
    as_json: JsonOpt = False,
) -> None:
    """Test a connector credential: reach the tool and authenticate. Exit 1 when it fails."""
    import asyncio

    with container_for_cli() as rt:
        current = rt.connector_credentials.find(ref)
        verdict = asyncio.run(rt.connections.test(current.id))
        data = {"ok": verdict.ok, "code": verdict.code, "detail": verdict.detail}
        emit(data, as_json, lambda d: typer.echo(f"{'ok' if d['ok'] else 'FAILED'}: {d['detail']}"))
    if not verdict.ok:
        raise typer.Exit(1)


@connector_credentials_app.command("connect")
def cc_connect(ref: Annotated[str, typer.Argument(help="Id or name.")]) -> None:
    """Start the OAuth 2.0 consent of an authorization code credential: prints the URL to open."""
    with container_for_cli() as rt:
        current = rt.connector_credentials.find(ref)
        typer.echo(rt.connections.start_consent(current.id))


# vault ----------------------------------------------------------------------------------------


@contextmanager
def _rotation_progress() -> Iterator[tuple[Callable[[int], None], Callable[[int], None]]]:
    """Callbacks (start with a total, advance by n) that drive a progress bar on stderr."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    task = progress.add_task("re-encrypting", total=None)
    with progress:
        yield (
            lambda total: progress.update(task, total=total),
            lambda n: progress.advance(task, n),
        )


def _vault_database() -> tuple[Settings, Database]:
    settings = settings_or_exit()
    return settings, Database(settings.resolved_database_url)


def _report_reencryption(report: Any, from_environment: bool, drop_old: bool) -> None:
    typer.echo(
        f"re-encrypted {report.reencrypted} value(s) under key version {report.current_version}"
    )
    if report.remaining:
        left = ", ".join(f"version {v}: {n}" for v, n in report.remaining.items())
        fail(
            f"some values are still under older keys ({left}); run `credgate vault reencrypt` "
            "again",
            code=1,
        )
    if from_environment:
        typer.echo(
            "no value uses an older key version any more: you may remove the older entries "
            f"from CREDGATE_MASTER_KEY, keeping only version {report.current_version}"
        )
    elif drop_old:
        typer.echo(f"the key file now holds only version {report.current_version}")
    else:
        typer.echo(
            "no value uses an older key version any more; run `credgate vault reencrypt "
            "--drop-old` to remove them from the key file"
        )


DropOldOpt = Annotated[
    bool,
    typer.Option(
        "--drop-old",
        help="Once nothing uses them, remove the older key versions from the key file.",
    ),
]
BatchOpt = Annotated[
    int, typer.Option(min=1, max=10000, help="Values re-encrypted per transaction.")
]


@vault_app.command("rotate-key")
def vault_rotate_key(drop_old: DropOldOpt = False, batch_size: BatchOpt = 200) -> None:
    """Add a new master key version and re-encrypt every stored secret under it.

    Keys in the key file (<data_dir>/master.key): the new version is appended to the file
    (the older ones are kept, so nothing becomes unreadable if this is interrupted), then every
    signing key, connector secret and key check is re-encrypted, batch by batch.

    Keys in CREDGATE_MASTER_KEY: nothing is changed. The command prints the new value of
    CREDGATE_MASTER_KEY (new version first, older ones kept). Set it on every node, restart
    them, then run `credgate vault reencrypt` once; afterwards the older entries may be removed.
    """
    from credgate.models import SEALED
    from credgate.security.keyfiles import BootstrapError
    from credgate.security.rotation import (
        RotationError,
        keys_from_environment,
        propose_key,
        rotate_key_file,
    )

    settings, db = _vault_database()
    try:
        if keys_from_environment(settings):
            proposal = propose_key(settings, db)
            typer.echo(f"new master key version {proposal.version}. Set on every node:")
            typer.echo("")
            typer.secho(f"CREDGATE_MASTER_KEY={proposal.value}", bold=True)
            typer.echo("")
            typer.echo(
                "(shown once; nothing was changed yet). Restart the nodes with it, then run "
                "`credgate vault reencrypt`."
            )
            return
        with _rotation_progress() as (start, advance):
            version, report = rotate_key_file(
                settings,
                db,
                SEALED,
                drop_old=drop_old,
                batch_size=batch_size,
                on_start=start,
                on_progress=advance,
            )
        typer.echo(f"added master key version {version} to the key file")
        with db.session() as session:
            from credgate.core.audit.services import record

            record(session, Actor.cli(), "vault.rotate_key", "master_key", str(version))
        _report_reencryption(report, False, drop_old)
    except (BootstrapError, RotationError) as exc:
        fail(str(exc))
    finally:
        db.dispose()


@vault_app.command("reencrypt")
def vault_reencrypt(drop_old: DropOldOpt = False, batch_size: BatchOpt = 200) -> None:
    """Re-encrypt every stored secret under the newest master key version given.

    Run it after setting a new CREDGATE_MASTER_KEY from `credgate vault rotate-key`, or to
    finish a rotation that was interrupted. It is safe to run again.
    """
    from credgate.models import SEALED
    from credgate.security.keyfiles import BootstrapError
    from credgate.security.rotation import (
        RotationError,
        keys_from_environment,
        reencrypt_installation,
    )

    settings, db = _vault_database()
    try:
        with _rotation_progress() as (start, advance):
            report = reencrypt_installation(
                settings,
                db,
                SEALED,
                drop_old=drop_old,
                batch_size=batch_size,
                on_start=start,
                on_progress=advance,
            )
        with db.session() as session:
            from credgate.core.audit.services import record

            record(
                session,
                Actor.cli(),
                "vault.reencrypt",
                "master_key",
                str(report.current_version),
            )
        _report_reencryption(report, keys_from_environment(settings), drop_old)
    except (BootstrapError, RotationError) as exc:
        fail(str(exc))
    finally:
        db.dispose()


@vault_app.command("status")
def vault_status(as_json: JsonOpt = False) -> None:
    """How many stored secrets each master key version holds."""
    from credgate.models import SEALED
    from credgate.security.keyfiles import BootstrapError, check_keys, open_keys
    from credgate.security.rotation import versions_in_use

    settings, db = _vault_database()
    try:
        vault, pepper = open_keys(settings)
        check_keys(db, vault, pepper)
        data = {
            "current_version": vault.current_version,
            "loaded_versions": list(vault.versions),
            "values_by_version": {str(v): n for v, n in versions_in_use(db, SEALED).items()},
        }
    except BootstrapError as exc:
        fail(str(exc))
    finally:
        db.dispose()

    def render(d: dict[str, Any]) -> None:
        typer.echo(f"current key version: {d['current_version']}")
        typer.echo(f"loaded versions:     {', '.join(map(str, d['loaded_versions']))}")
        for version, count in d["values_by_version"].items():
            typer.echo(f"  version {version}: {count} value(s)")

    emit(data, as_json, render)


# platform definitions and requests (credgate.platform.commands) ------------------------------

from credgate.platform.commands import platform_app  # noqa: E402 - after the helpers it uses

app.add_typer(platform_app, name="platform")

# token / call: the APIs as an integration sees them (credgate.sdk_commands) ------------------

from credgate.sdk_commands import call_command, token_command  # noqa: E402

app.command("token")(token_command)
app.command("call")(call_command)


# outbound connectors: webhooks, deliveries, exporters, the worker (credgate.outbound.commands)

from credgate.outbound import commands as outbound_commands  # noqa: E402

app.add_typer(outbound_commands.webhooks_app, name="webhooks")
app.add_typer(outbound_commands.deliveries_app, name="deliveries")
app.add_typer(outbound_commands.exporters_app, name="exporters")
app.command("worker")(outbound_commands.worker)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
