"""Loopback peers of the outbound-container tests.

* :func:`make_tls` issues a private CA and a server certificate for 127.0.0.1 (trustme): every
  peer speaks https, since connector credentials accept only https addresses, and the sending
  side trusts the CA through ``outbound_ca_bundle``.
* :class:`TlsServer` runs an ASGI app with uvicorn over TLS in a background thread.
* :class:`ResourcePeer` is a counting client-credentials token endpoint and a protected resource
  that can answer 401 once or always.
* :class:`Provider` is an Authlib authorization server (authorization code + PKCE S256, rotating
  refresh tokens) behind a minimal Starlette adapter.
* :class:`SshPeer` is asyncssh's SFTP server running in its own thread and event loop.
* :class:`CredgateServer` is credgate itself in a subprocess, over TLS.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import logging
import os
import re
import secrets
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

import asyncssh
import httpx
import trustme
import uvicorn
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import AuthorizationServer, OAuth2Request
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant, RefreshTokenGrant
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

SRC = Path(__file__).resolve().parents[2] / "src"


# --- TLS ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tls:
    ca_bundle: Path
    certfile: Path
    keyfile: Path


def make_tls(directory: Path) -> Tls:
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    tls = Tls(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    ca.cert_pem.write_to_path(str(tls.ca_bundle))
    cert.cert_chain_pems[0].write_to_path(str(tls.certfile))
    cert.private_key_pem.write_to_path(str(tls.keyfile))
    return tls


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TlsServer:
    """uvicorn over TLS on 127.0.0.1:<free port> in a thread; ``with`` starts and stops it."""

    def __init__(self, app: Any, tls: Tls) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self.url = f"https://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            log_level="warning",
            lifespan="off",
            http="h11",
            ws="none",
            loop="asyncio",
            access_log=False,
            ssl_certfile=str(tls.certfile),
            ssl_keyfile=str(tls.keyfile),
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def __enter__(self) -> TlsServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("test server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()


# --- client credentials token endpoint and resource -----------------------------------------

CC_CLIENT_ID = "outbound-client"
CC_CLIENT_SECRET = "cs_Outbound+Secret/Value=7"


@dataclass
class ResourcePeer:
    expires_in: int = 3600
    reject_next: int = 0
    always_401: bool = False
    error: str | None = None
    token_requests: int = 0
    resource_requests: int = 0
    issued: list[str] = field(default_factory=list)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/", self._root),
                Route("/token", self._token, methods=["POST"]),
                Route("/resource", self._resource),
            ]
        )

    async def _root(self, request: Request) -> Response:
        return await self._resource(request)

    async def _token(self, request: Request) -> Response:
        self.token_requests += 1
        header = request.headers.get("authorization", "")
        user, _, password = base64.b64decode(header.removeprefix("Basic ")).decode().partition(":")
        if not (
            hmac.compare_digest(unquote_plus(user), CC_CLIENT_ID)
            and hmac.compare_digest(unquote_plus(password), CC_CLIENT_SECRET)
        ):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        form = dict(parse_qsl((await request.body()).decode()))
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        if self.error:
            return JSONResponse({"error": self.error}, status_code=400)
        token = "at_" + secrets.token_urlsafe(24)
        self.issued.append(token)
        return JSONResponse(
            {"access_token": token, "token_type": "Bearer", "expires_in": self.expires_in}
        )

    async def _resource(self, request: Request) -> Response:
        self.resource_requests += 1
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if self.always_401 or self.reject_next > 0 or token not in self.issued:
            self.reject_next = max(0, self.reject_next - 1)
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        return JSONResponse({"ok": True})


# --- Authlib authorization server ----------------------------------------------------------

AC_CLIENT_ID = "crm-connector"
AC_CLIENT_SECRET = "cs_authcode+secret/43"
AC_USER = "admin@example"


@dataclass
class AcClient:
    redirect_uris: list[str] = field(default_factory=list)

    def get_client_id(self) -> str:
        return AC_CLIENT_ID

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str | None) -> str:
        return scope or ""

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(client_secret.encode(), AC_CLIENT_SECRET.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token")


@dataclass
class AcCode:
    code: str
    redirect_uri: str
    scope: str
    code_challenge: str | None
    code_challenge_method: str | None

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


@dataclass
class AcToken:
    access_token: str
    refresh_token: str | None
    scope: str
    expires_at: float
    revoked: bool = False

    def check_client(self, client: AcClient) -> bool:
        return True

    def get_scope(self) -> str:
        return self.scope

    def is_revoked(self) -> bool:
        return self.revoked

    def is_expired(self) -> bool:
        return time.time() >= self.expires_at


@dataclass
class ProviderState:
    expires_in: int = 3600
    client: AcClient = field(default_factory=AcClient)
    codes: dict[str, AcCode] = field(default_factory=dict)
    tokens: dict[str, AcToken] = field(default_factory=dict)
    by_refresh: dict[str, AcToken] = field(default_factory=dict)
    code_verifiers: list[str] = field(default_factory=list)
    presented: list[str] = field(default_factory=list)

    def secrets(self) -> list[str]:
        found = [AC_CLIENT_SECRET, *self.tokens, *self.by_refresh, *self.codes]
        return found + self.code_verifiers


class _CodeGrant(AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        data = request.payload.data
        self.server.state.codes[code] = AcCode(
            code,
            data.get("redirect_uri"),
            data.get("scope", ""),
            data.get("code_challenge"),
            data.get("code_challenge_method"),
        )

    def query_authorization_code(self, code: str, client: AcClient) -> AcCode | None:
        verifier = self.request.payload.data.get("code_verifier")
        if verifier:
            self.server.state.code_verifiers.append(verifier)
        found: AcCode | None = self.server.state.codes.get(code)
        return found

    def delete_authorization_code(self, authorization_code: AcCode) -> None:
        self.server.state.codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code: AcCode) -> str:
        return AC_USER


class _Pkce(CodeChallenge):  # type: ignore[misc]
    def get_authorization_code_challenge(self, authorization_code: AcCode) -> str | None:
        return authorization_code.code_challenge

    def get_authorization_code_challenge_method(self, authorization_code: AcCode) -> str | None:
        return authorization_code.code_challenge_method


class _RotatingRefresh(RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> AcToken | None:
        self.server.state.presented.append(refresh_token)
        found: AcToken | None = self.server.state.by_refresh.get(refresh_token)
        return found if found and not found.revoked else None

    def authenticate_user(self, refresh_token: AcToken) -> str:
        return AC_USER

    def revoke_old_credential(self, refresh_token: AcToken) -> None:
        refresh_token.revoked = True


class _FormRequest(OAuth2Request):  # type: ignore[misc]
    def __init__(self, method: str, uri: str, headers: Mapping[str, str], data: dict[str, str]):
        super().__init__(method, uri, headers=headers)
        self.payload = BasicOAuth2Payload(data)
        self._data = data

    @property
    def args(self) -> dict[str, str]:
        return self._data if self.method == "GET" else {}

    @property
    def form(self) -> dict[str, str]:
        return self._data if self.method == "POST" else {}


class Provider(AuthorizationServer):  # type: ignore[misc]
    """Authlib's generic authorization server; the administrator approves at once."""

    def __init__(self, state: ProviderState) -> None:
        super().__init__(scopes_supported=["read", "offline_access"])
        self.state = state
        self.register_token_generator(
            "default",
            BearerTokenGenerator(
                access_token_generator=lambda **_: "at_" + secrets.token_urlsafe(24),
                refresh_token_generator=lambda **_: "rt_" + secrets.token_urlsafe(24),
                expires_generator=lambda client, grant_type: state.expires_in,
            ),
        )
        self.register_grant(_CodeGrant, [_Pkce(required=True)])
        self.register_grant(_RotatingRefresh)

    def query_client(self, client_id: str) -> AcClient | None:
        return self.state.client if client_id == AC_CLIENT_ID else None

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        issued = AcToken(
            token["access_token"],
            token.get("refresh_token"),
            token.get("scope", ""),
            time.time() + token["expires_in"],
        )
        self.state.tokens[issued.access_token] = issued
        if issued.refresh_token:
            self.state.by_refresh[issued.refresh_token] = issued

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None

    def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
        return request

    def handle_response(self, status: int, body: Any, headers: Any) -> Response:
        if isinstance(body, dict):
            return JSONResponse(body, status_code=status, headers=dict(headers))
        return Response(body or b"", status_code=status, headers=dict(headers))

    def app(self) -> Starlette:
        async def root(request: Request) -> Response:
            return await resource(request)

        async def authorize(request: Request) -> Response:
            oauth_request = _FormRequest(
                "GET", str(request.url), request.headers, dict(request.query_params)
            )
            try:
                grant = self.get_consent_grant(oauth_request, end_user=AC_USER)
            except OAuth2Error as error:
                return self.handle_error_response(oauth_request, error)  # type: ignore[no-any-return]
            return self.create_authorization_response(  # type: ignore[no-any-return]
                oauth_request, grant_user=AC_USER, grant=grant
            )

        async def token(request: Request) -> Response:
            form = dict(parse_qsl((await request.body()).decode()))
            oauth_request = _FormRequest("POST", str(request.url), request.headers, form)
            return self.create_token_response(oauth_request)  # type: ignore[no-any-return]

        async def resource(request: Request) -> Response:
            header = request.headers.get("authorization", "")
            found = self.state.tokens.get(header.removeprefix("Bearer "))
            if found is None or found.is_expired():
                return JSONResponse({"error": "invalid_token"}, status_code=401)
            return JSONResponse({"user": AC_USER})

        return Starlette(
            routes=[
                Route("/", root),
                Route("/authorize", authorize),
                Route("/token", token, methods=["POST"]),
            ]
        )


def consent_credential(container: Any, url: str, state: ProviderState, name: str = "CRM") -> str:
    """An authorization-code connector credential at the :class:`Provider` at ``url``, whose
    redirect URL the provider now accepts; answers its id."""
    from credgate.core.audit.services import Actor

    view = container.connector_credentials.create(
        {
            "name": name,
            "protocol": "HTTPS",
            "url": f"{url}/",
            "authorization": {
                "type": "OAUTH2_AUTHORIZATION_CODE",
                "client_id": AC_CLIENT_ID,
                "client_secret": AC_CLIENT_SECRET,
                "authorization_url": f"{url}/authorize",
                "access_token_url": f"{url}/token",
                "scope": "read offline_access",
            },
        },
        actor=Actor("tests", "pytest"),
    )
    assert view.redirect_url is not None
    state.client.redirect_uris = [view.redirect_url]
    return str(view.id)


# --- SFTP -----------------------------------------------------------------------------------

SFTP_USER = "exporter"
SFTP_PASSWORD = "Sftp-outbound-pa55-4e1d"


@dataclass
class SshLog:
    connections: int = 0
    auth_started: int = 0
    password_attempts: int = 0


class _RecordingServer(asyncssh.SSHServer):
    def __init__(self, log: SshLog) -> None:
        self.log = log

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.log.connections += 1

    def begin_auth(self, username: str) -> bool:
        self.log.auth_started += 1
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        self.log.password_attempts += 1
        return username == SFTP_USER and hmac.compare_digest(
            password.encode(), SFTP_PASSWORD.encode()
        )


class SshPeer:
    """asyncssh's SSH server with SFTP chrooted to ``root``, in a thread with its own loop."""

    def __init__(self, root: Path, key: asyncssh.SSHKey) -> None:
        self.root = root
        self.key = key
        self.log = SshLog()
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncssh.SSHAcceptor | None = None

    async def _start(self) -> None:
        self._server = await asyncssh.listen(
            "127.0.0.1",
            0,
            server_host_keys=[self.key],
            server_factory=lambda: _RecordingServer(self.log),
            sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=str(self.root).encode()),
            allow_scp=False,
        )
        self.port = self._server.get_port()

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def __enter__(self) -> SshPeer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


# --- credgate itself in a subprocess --------------------------------------------------------


class CredgateServer:
    """``credgate.app:create_app`` served by uvicorn in a subprocess, over TLS.

    (``credgate serve`` does not terminate TLS, and connector credentials accept only https
    addresses, so the same app factory is started with uvicorn's TLS options.)
    """

    def __init__(self, env: Mapping[str, str], tls: Tls, port: int, log: Path) -> None:
        self.url = f"https://127.0.0.1:{port}"
        self._tls = tls
        self._log_path = log
        self._log = log.open("wb")
        full_env = {**os.environ, **env, "PYTHONPATH": str(SRC)}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "credgate.app:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--ssl-certfile",
                str(tls.certfile),
                "--ssl-keyfile",
                str(tls.keyfile),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            env=full_env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(
            verify=ssl.create_default_context(cafile=str(self._tls.ca_bundle)), timeout=2
        ) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        "credgate did not start: " + self._log_path.read_text(errors="replace")
                    )
                try:
                    if client.get(f"{self.url}/readyz").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        raise RuntimeError("credgate did not become ready")

    def tokens_issued(self) -> int:
        with httpx.Client(
            verify=ssl.create_default_context(cafile=str(self._tls.ca_bundle)), timeout=5
        ) as client:
            text = client.get(f"{self.url}/metrics").text
        match = re.search(r"^credgate_tokens_issued_total ([0-9.e+]+)$", text, re.MULTILINE)
        assert match, "credgate_tokens_issued_total is missing from /metrics"
        return int(float(match.group(1)))

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self._log.close()


# --- log checks -----------------------------------------------------------------------------


def assert_no_secrets(
    records: Iterable[logging.LogRecord],
    values: Iterable[str],
    *,
    skip: tuple[str, ...] = ("authlib",),
) -> int:
    """Fail if a secret appears in a log record (message, arguments, traceback).

    ``skip`` names loggers of the test peers (Authlib's server logs what it receives).
    """
    wanted = [v for v in values if v]
    checked = 0
    for record in records:
        if record.name.startswith(skip):
            continue
        checked += 1
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += repr(record.exc_info[1]) + str(record.exc_info[1])
        if record.exc_text:
            text += record.exc_text
        for value in wanted:
            assert value not in text, f"a secret appears in a log record of {record.name}"
    return checked
