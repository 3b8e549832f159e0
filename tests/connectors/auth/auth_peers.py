"""Loopback peers for the outbound-auth tests (imported by conftest.py and the tests).

* :class:`TokenServer` is a tiny OAuth 2.0 token endpoint (client credentials)
  plus a protected resource. It counts token and resource requests, issues
  tokens with a short ``expires_in`` and can be told to answer 401.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from support import ThreadServer, assert_no_secrets

CLIENT_ID = "connector-client"
CLIENT_SECRET = "cs_Very+Secret/Value=42"


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
    with ThreadServer(state.app()) as server:
        yield state, server.url


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
