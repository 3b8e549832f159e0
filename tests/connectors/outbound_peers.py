"""Loopback peers of the outbound-container tests.

Every peer speaks https (``support.make_tls``, served by ``support.TlsServer``).

* :class:`ResourcePeer` is a counting client-credentials token endpoint and a protected resource
  that can answer 401 once or always.
* :class:`Provider` (support/provider.py) is an Authlib authorization server (authorization code
  + PKCE S256, rotating refresh tokens); :func:`consent_credential` makes a credential for it.
* :class:`SshPeer` is asyncssh's SFTP server running in its own thread and event loop.
* :class:`CredgateServer` is credgate itself in a subprocess, over TLS.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import os
import re
import secrets
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

import asyncssh
import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from served import SRC
from support import Tls, TlsServer, assert_no_secrets, free_port, make_tls
from support.provider import CLIENT_ID as AC_CLIENT_ID
from support.provider import CLIENT_SECRET as AC_CLIENT_SECRET
from support.provider import Provider, ProviderState
from support.ssh import AuthLog, RecordingServer

__all__ = [
    "AC_CLIENT_ID",
    "AC_CLIENT_SECRET",
    "CC_CLIENT_ID",
    "CC_CLIENT_SECRET",
    "SFTP_PASSWORD",
    "SFTP_USER",
    "SRC",
    "CredgateServer",
    "Provider",
    "ProviderState",
    "ResourcePeer",
    "SshPeer",
    "Tls",
    "TlsServer",
    "assert_no_secrets",
    "consent_credential",
    "free_port",
    "make_tls",
]


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


# --- Authlib authorization server (support/provider.py) --------------------------------------


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


class SshPeer:
    """asyncssh's SSH server with SFTP chrooted to ``root``, in a thread with its own loop."""

    def __init__(self, root: Path, key: asyncssh.SSHKey) -> None:
        self.root = root
        self.key = key
        self.log = AuthLog()
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncssh.SSHAcceptor | None = None

    async def _start(self) -> None:
        self._server = await asyncssh.listen(
            "127.0.0.1",
            0,
            server_host_keys=[self.key],
            server_factory=lambda: RecordingServer(self.log, SFTP_USER, SFTP_PASSWORD),
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
