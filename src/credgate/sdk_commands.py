"""`credgate token` and `credgate call`: the platform APIs as an integration sees them.

Both go through `credgate.client` (the same token request, renewal, 401 retry and 429 waits an
integration gets). The client secret comes from `--client-secret`, else `CREDGATE_CLIENT_SECRET`,
else a hidden prompt; it is never printed, and neither is any error that could contain it.
"""

from __future__ import annotations

import base64
import binascii
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

if TYPE_CHECKING:  # the SDK and httpx load when a command runs, not for --help
    from credgate.client import ClientConfig

__all__ = ["call_command", "decode_claims", "token_command"]

BaseUrlOpt = Annotated[
    str | None,
    typer.Option("--base-url", envvar="CREDGATE_BASE_URL", help="One origin serving both hosts."),
]
InstanceOpt = Annotated[
    str | None, typer.Option("--instance", envvar="CREDGATE_INSTANCE", help="Instance name.")
]
RegionOpt = Annotated[
    str | None, typer.Option("--region", envvar="CREDGATE_REGION", help="us, eu, pac or meta.")
]
DomainOpt = Annotated[
    str | None, typer.Option("--domain", envvar="CREDGATE_DOMAIN", help="Domain of the hosts.")
]
ClientIdOpt = Annotated[
    str, typer.Option("--client-id", envvar="CREDGATE_CLIENT_ID", help="API credential id.")
]
SecretOpt = Annotated[
    str | None,
    typer.Option(
        "--client-secret",
        envvar="CREDGATE_CLIENT_SECRET",
        show_envvar=True,
        help="Client secret (prefer the environment variable; prompted for when absent).",
        show_default=False,
    ),
]
LegacyOpt = Annotated[
    bool, typer.Option("--legacy", help="Use the legacy /api/v1/token on the API host.")
]
ScopeOpt = Annotated[
    str | None, typer.Option("--scope", help="Scope to ask for (default service:integration).")
]


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _config(
    base_url: str | None,
    instance: str | None,
    region: str | None,
    domain: str | None,
    client_id: str,
    client_secret: str | None,
    legacy: bool,
    scope: str | None,
) -> ClientConfig:
    from credgate.client import LEGACY_TOKEN_PATH, TOKEN_PATH, ClientConfig, ConfigurationError

    if not client_secret:
        client_secret = typer.prompt("Client secret", hide_input=True)
    options: dict[str, Any] = {"token_path": LEGACY_TOKEN_PATH if legacy else TOKEN_PATH}
    if scope is not None:
        options["scope"] = scope
    try:
        return ClientConfig(
            client_id=client_id,
            client_secret=client_secret or "",
            base_url=base_url,
            instance=instance,
            region=region,
            domain=domain,
            **options,
        )
    except ConfigurationError as exc:
        _fail(f"--{exc.field.replace('_', '-')}: {str(exc).split(': ', 1)[-1]}")


def fetch_token(config: ClientConfig) -> str:
    """One access token, fetched exactly as `Client` does (429 waits included)."""
    import httpx

    from credgate.client import CredgateAuth

    with httpx.Client(timeout=config.timeout, follow_redirects=False) as http:
        try:
            return CredgateAuth(config).fetch_token(http.send)
        except httpx.HTTPError as exc:
            _fail(f"{config.token_url}: {type(exc).__name__}: {exc}", 1)


def decode_claims(token: str) -> dict[str, Any]:
    """The JWT's claims (RFC 7519 section 7.2 steps 1-7), NOT verified: for reading only."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("the access token is not a JWT (expected three dot-separated parts)")
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("the access token's payload is not base64url JSON") from exc
    if not isinstance(claims, dict):
        raise ValueError("the access token's payload is not a JSON object")
    return claims


def token_command(
    client_id: ClientIdOpt,
    base_url: BaseUrlOpt = None,
    instance: InstanceOpt = None,
    region: RegionOpt = None,
    domain: DomainOpt = None,
    client_secret: SecretOpt = None,
    legacy: LegacyOpt = False,
    scope: ScopeOpt = None,
    claims: Annotated[
        bool, typer.Option("--claims", help="Print the token's claims as JSON (not verified).")
    ] = False,
) -> None:
    """Get an access token the way an integration does (client credentials grant)."""
    from credgate.client import CredgateError

    config = _config(base_url, instance, region, domain, client_id, client_secret, legacy, scope)
    try:
        token = fetch_token(config)
    except CredgateError as exc:
        _fail(str(exc), 1)
    if not claims:
        typer.echo(token)
        return
    try:
        typer.echo(json.dumps(decode_claims(token), indent=2, sort_keys=True))
    except ValueError as exc:
        _fail(str(exc), 1)


def _body(data: str | None) -> Any:
    if data is None:
        return None
    text = data
    if data.startswith("@"):
        path = Path(data[1:])
        try:
            text = sys.stdin.read() if data == "@-" else path.read_text(encoding="utf-8")
        except OSError as exc:
            _fail(f"--data: cannot read {path}: {exc.strerror}")
    try:
        return json.loads(text)
    except ValueError as exc:
        _fail(f"--data: not JSON ({exc})")


def _headers(values: list[str] | None) -> dict[str, str]:
    headers: dict[str, str] = {}
    for value in values or []:
        name, sep, content = value.partition(":")
        if not sep or not name.strip():
            _fail(f"--header: {value!r} must look like 'Name: value'")
        headers[name.strip()] = content.strip()
    return headers


def call_command(
    method: Annotated[str, typer.Argument(help="HTTP method, such as GET or POST.")],
    path: Annotated[str, typer.Argument(help="Path on the API host, such as /api/v1/workflows.")],
    client_id: ClientIdOpt,
    data: Annotated[
        str | None, typer.Option("--data", help="JSON body, or @file (@- for standard input).")
    ] = None,
    header: Annotated[
        list[str] | None, typer.Option("--header", help="Extra header 'Name: value' (repeat).")
    ] = None,
    base_url: BaseUrlOpt = None,
    instance: InstanceOpt = None,
    region: RegionOpt = None,
    domain: DomainOpt = None,
    client_secret: SecretOpt = None,
    legacy: LegacyOpt = False,
    scope: ScopeOpt = None,
) -> None:
    """Call a platform API with automatic token handling; print the status and the body.

    Exits 1 when the API answers 400 or more.
    """
    from credgate.client import Client, CredgateError

    body = _body(data)
    headers = _headers(header)
    config = _config(base_url, instance, region, domain, client_id, client_secret, legacy, scope)
    kwargs: dict[str, Any] = {"headers": headers}
    if body is not None:
        kwargs["json"] = body
    try:
        with Client(config) as client:
            response = client.request(method.upper(), path, raise_errors=False, **kwargs)
    except ValueError as exc:
        _fail(str(exc))
    except CredgateError as exc:
        _fail(str(exc), 1)
    typer.echo(f"HTTP {response.status_code} {response.reason_phrase}".rstrip())
    if "json" in response.headers.get("content-type", ""):
        try:
            typer.echo(json.dumps(response.json(), indent=2))
        except ValueError:
            typer.echo(response.text)
    elif response.content:
        typer.echo(response.text)
    if response.status_code >= 400:
        raise typer.Exit(1)
