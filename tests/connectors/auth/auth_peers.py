"""Loopback peers for the outbound-auth tests (imported by conftest.py and the tests).

* :class:`LiveServer` runs an ASGI app with uvicorn on 127.0.0.1 and a free port,
  in a background thread (optionally over TLS).
* :class:`TokenServer` is a tiny OAuth 2.0 token endpoint (client credentials)
  plus a protected resource. It counts token and resource requests, issues
  tokens with a short ``expires_in`` and can be told to answer 401.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

CLIENT_ID = "connector-client"
CLIENT_SECRET = "cs_Very+Secret/Value=42"


class LiveServer:
    """uvicorn on 127.0.0.1:<free port> in a thread; ``with`` starts and stops it."""

    def __init__(
        self, app: Any, *, ssl_certfile: str | None = None, ssl_keyfile: str | None = None
    ) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        scheme = "https" if ssl_certfile else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            log_level="warning",
            lifespan="off",
            http="h11",
            ws="none",
            loop="asyncio",
            access_log=False,
            ssl_certfile=ssl_certfile,
            ssl_keyfile=ssl_keyfile,
            backlog=512,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def __enter__(self) -> LiveServer:
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


@dataclass
class TokenServer:
    """State and ASGI app of the counting token endpoint and protected resource."""

    expires_in: int | None = 60
    token_delay: float = 0.0
    reject_next: int = 0  # the next N resource requests get 401 whatever the token
    always_401: bool = False
    # Seconds a token is still accepted after its expiry, as resource servers allow for clock
    # skew; the load tests use it so a request a loaded machine delivers late is not refused.
    leeway: float = 0.0
    error: str | None = None  # answer every token request with this §5.2 error
    token_requests: int = 0
    resource_requests: int = 0
    resource_rejections: int = 0
    auth_methods: list[str] = field(default_factory=list)
    scopes: list[str | None] = field(default_factory=list)
    issued: dict[str, float] = field(default_factory=dict)  # access token -> expiry

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/token", self._token, methods=["POST"]),
                Route("/resource", self._resource, methods=["GET", "POST"]),
            ]
        )

    def _client_auth(self, request: Request, form: dict[str, str]) -> tuple[str, str, str] | None:
        header = request.headers.get("authorization", "")
        if header.startswith("Basic "):
            raw = base64.b64decode(header[6:]).decode()
            user, _, password = raw.partition(":")
            return "client_secret_basic", unquote_plus(user), unquote_plus(password)
        if "client_id" in form:
            return "client_secret_post", form["client_id"], form.get("client_secret", "")
        return None

    async def _token(self, request: Request) -> Response:
        self.token_requests += 1
        form = dict(parse_qsl((await request.body()).decode()))
        if self.token_delay:
            await asyncio.sleep(self.token_delay)
        found = self._client_auth(request, form)
        if (
            found is None
            or not secrets.compare_digest(found[1], CLIENT_ID)
            or not secrets.compare_digest(found[2], CLIENT_SECRET)
        ):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        self.auth_methods.append(found[0])
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        if self.error:
            return JSONResponse(
                {"error": self.error, "error_description": "told to fail"}, status_code=400
            )
        self.scopes.append(form.get("scope"))
        token = secrets.token_urlsafe(24)
        body: dict[str, Any] = {"access_token": token, "token_type": "Bearer"}
        if self.expires_in is not None:
            body["expires_in"] = self.expires_in
        self.issued[token] = time.time() + (self.expires_in or 3600)
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    async def _resource(self, request: Request) -> Response:
        self.resource_requests += 1
        header = request.headers.get("authorization", "")
        token = header[7:] if header.startswith("Bearer ") else ""
        valid = time.time() < self.issued.get(token, 0.0) + self.leeway
        if self.always_401 or self.reject_next > 0 or not valid:
            self.reject_next = max(0, self.reject_next - 1)
            self.resource_rejections += 1
            return JSONResponse(
                {"error": "invalid_token"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        return JSONResponse({"ok": True, "body": (await request.body()).decode()})


@pytest.fixture
def token_server() -> Iterator[tuple[TokenServer, str]]:
    """A running :class:`TokenServer` and its base URL."""
    state = TokenServer()
    with LiveServer(state.app()) as server:
        yield state, server.url


def assert_no_secrets(
    records: Iterable[logging.LogRecord], secrets_: Iterable[str], *, skip: tuple[str, ...] = ()
) -> int:
    """Fail if any secret appears in a log record (message, args or traceback).

    Returns how many records were checked, so a caller can assert logs were
    captured at all. ``skip`` names logger prefixes of test peers.
    """
    values = [s for s in secrets_ if s]
    checked = 0
    for record in records:
        if record.name.startswith(skip):
            continue
        checked += 1
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += repr(record.exc_info[1]) + str(record.exc_info[1])
        for value in values:
            assert value not in text, f"secret found in log record of {record.name}"
    return checked


@pytest.fixture
def secret_log_check(
    caplog: pytest.LogCaptureFixture,
) -> Iterator[Callable[[Iterable[str]], None]]:
    """Capture every log record at DEBUG; call the fixture with the secrets to look for."""
    caplog.set_level(logging.DEBUG)
    pending: list[str] = []
    yield pending.extend
    records = caplog.get_records("setup") + caplog.get_records("call")
    checked = assert_no_secrets(records, pending, skip=("authlib",))
    assert checked > 0, "no log records were captured"
