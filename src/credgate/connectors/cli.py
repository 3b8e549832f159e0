"""``credgate connector-credentials ...``: how credgate reaches third-party tools.

Secrets are taken from ``--file``, ``--secret-stdin`` or a prompt that does not echo, and are
never printed: ``show`` masks them.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from credgate.core.cli import (
    AllOpt,
    Column,
    CursorOpt,
    DataAliasOpt,
    JsonOpt,
    LimitOpt,
    SearchOpt,
    YesOpt,
    admin_api,
    cli_actor,
    emit,
    emit_page,
    emit_table,
    fail,
    json_object,
    local_fallback_note,
    open_services,
    settings_or_exit,
    sub_app,
)
from credgate.core.paging import DEFAULT_LIMIT

if TYPE_CHECKING:
    from credgate.connectors.connections import Connections
    from credgate.connectors.credentials.services import ConnectorCredentialService
    from credgate.connectors.services import ConnectorService

__all__ = ["connector_credentials_app"]

connector_credentials_app = sub_app(
    "Manage connector credentials (outbound HTTPS and SFTP); secrets are never shown."
)


@dataclass(frozen=True, slots=True)
class _Connectors:
    credentials: ConnectorCredentialService
    connectors: ConnectorService
    connections: Connections


@contextmanager
def _connectors() -> Iterator[_Connectors]:
    from credgate.connectors.connections import Connections
    from credgate.connectors.credentials.services import ConnectorCredentialService
    from credgate.connectors.services import ConnectorService

    with open_services() as services:
        yield _Connectors(
            services.get(ConnectorCredentialService),
            services.get(ConnectorService),
            services.get(Connections),
        )


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


def _read_body_file(file: str | None, data: str | None) -> dict[str, Any]:
    body: dict[str, Any] = json_object(file, data, required=False) or {}
    return body


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
        metavar="TYPE",
        help="NONE, BASIC, BEARER, OAUTH2_CLIENT_CREDENTIALS or OAUTH2_AUTHORIZATION_CODE "
        "(SFTP: BASIC).",
    ),
]
FieldOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--field",
        "-F",
        metavar="NAME=VALUE",
        help="A public authorization field, NAME=VALUE (username, client_id, access_token_url, "
        "authorization_url, scope, header_prefix, host_key); repeat.",
    ),
]
FileOpt = Annotated[
    str | None,
    typer.Option(
        "--file",
        "-f",
        metavar="FILE",
        help="The body as JSON, as for the REST API ('-' reads standard input).",
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
    data: DataAliasOpt = None,
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
    body = _read_body_file(file, data)
    body = _apply_options(
        body, name=name, protocol=protocol, url=url, auth_type=auth_type, fields=field
    )
    _fill_secrets(body, from_stdin=secret_stdin, ask=False)
    with _connectors() as svc:
        view = svc.credentials.create(body, actor=cli_actor())
        emit(view.as_dict(), as_json, _print_connector_credential)


_CREDENTIAL_COLUMNS: list[Column] = [
    ("id", "id"),
    ("name", "name"),
    ("protocol", "protocol"),
    ("type", lambda r: r["authorization"]["type"]),
    ("url", "url"),
    ("status", "status"),
]


@connector_credentials_app.command("list")
def cc_list(
    protocol: Annotated[str | None, typer.Option(help="Only HTTPS or only SFTP.")] = None,
    limit: LimitOpt = DEFAULT_LIMIT,
    every: AllOpt = False,
    search: SearchOpt = "",
    cursor: CursorOpt = None,
    offset: Annotated[
        int | None, typer.Option(help="Credentials to skip (the older paging).", hidden=True)
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List connector credentials by name, a page at a time (or --all)."""
    with _connectors() as svc:
        if offset is not None:
            page = svc.credentials.list(protocol=protocol, offset=offset, limit=limit)
            emit_table(
                page.as_dict(),
                as_json,
                _CREDENTIAL_COLUMNS,
                key="items",
                counted="connector credential(s)",
            )
            return
        emit_page(
            lambda wanted: svc.credentials.page(wanted, protocol=protocol),
            lambda view: view.as_dict(),
            _CREDENTIAL_COLUMNS,
            limit=limit,
            every=every,
            search=search,
            cursor=cursor,
            as_json=as_json,
            noun="connector credential(s)",
        )


@connector_credentials_app.command("show")
def cc_show(
    ref: Annotated[str, typer.Argument(help="Id or name.")], as_json: JsonOpt = False
) -> None:
    """Show one connector credential, its secrets masked."""
    with _connectors() as svc:
        emit(svc.credentials.find(ref).as_dict(), as_json, _print_connector_credential)


@connector_credentials_app.command("update")
def cc_update(
    ref: Annotated[str, typer.Argument(help="Id or name.")],
    file: FileOpt = None,
    data: DataAliasOpt = None,
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
    with _connectors() as svc:
        current = svc.credentials.find(ref)
        given = file is not None or data is not None
        body = _read_body_file(file, data) if given else current.as_dict()
        body = {k: v for k, v in body.items() if k in ("name", "protocol", "url", "authorization")}
        shown = current.as_dict()
        if not given and (
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
        view = svc.credentials.update(current.id, body, actor=cli_actor())
        emit(view.as_dict(), as_json, _print_connector_credential)


@connector_credentials_app.command("delete")
def cc_delete(
    ref: Annotated[str, typer.Argument(help="Id or name.")],
    yes: YesOpt = False,
) -> None:
    """Delete a connector credential. Connectors that use it stay, and report it missing."""
    with _connectors() as svc:
        current = svc.credentials.find(ref)
        users = svc.connectors.count_using(current.id)
        note = f"; {users} connector(s) use it and will report it missing" if users else ""
        if not yes and not typer.confirm(f"Delete connector credential {current.name!r}{note}?"):
            fail("not deleted", code=1)
        svc.credentials.delete(current.id, actor=cli_actor())
        typer.echo(f"deleted {current.id}")


@connector_credentials_app.command("test")
def cc_test(
    ref: Annotated[str, typer.Argument(help="Id or name.")],
    as_json: JsonOpt = False,
) -> None:
    """Test a connector credential: reach the tool and authenticate. Exit 1 when it fails.

    With CREDGATE_ADMIN_API_URL set, the running server tests it (its network and CA bundle).
    """
    settings = settings_or_exit()
    with _connectors() as svc:
        current = svc.credentials.find(ref)
        data = admin_api(settings, "POST", f"/connector-credentials/{current.id}/test")
        if data is None:
            local_fallback_note("testing")
            import asyncio

            verdict = asyncio.run(svc.connections.test(current.id))
            data = {"ok": verdict.ok, "code": verdict.code, "detail": verdict.detail}
    emit(data, as_json, lambda d: typer.echo(f"{'ok' if d['ok'] else 'FAILED'}: {d['detail']}"))
    if not data["ok"]:
        raise typer.Exit(1)


@connector_credentials_app.command("connect")
def cc_connect(
    ref: Annotated[str, typer.Argument(help="Id or name.")], as_json: JsonOpt = False
) -> None:
    """Start the OAuth 2.0 consent of an authorization code credential: prints the URL to open."""
    with _connectors() as svc:
        current = svc.credentials.find(ref)
        url = svc.connections.start_consent(current.id)
    emit({"authorization_url": url}, as_json, lambda d: typer.echo(d["authorization_url"]))
