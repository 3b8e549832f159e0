"""No auth, Basic and Bearer: headers, validation, masked reprs, a live round-trip."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from credgate.connectors.auth import (
    BasicAuth,
    BearerAuth,
    InsecureTransportError,
    NoAuth,
    make_client,
)
from support import LOOPBACK, ThreadServer

URL = "https://itsm.example/api/now/table/incident"
Check = Callable[[Iterable[str]], None]


def authorize(auth: httpx.Auth, url: str = URL) -> httpx.Request:
    flow = auth.auth_flow(httpx.Request("POST", url, json={"a": 1}))
    request = next(flow)
    with pytest.raises(StopIteration):
        flow.send(httpx.Response(401))  # static credentials never retry
    return request


def test_no_auth_sends_the_request_unchanged() -> None:
    request = authorize(NoAuth(), "http://hooks.example/incoming/abc")
    assert "Authorization" not in request.headers
    assert repr(NoAuth()) == "NoAuth()"


def test_basic_auth_header_and_masked_repr() -> None:
    auth = BasicAuth("svc.integration", "pä55:word")
    request = authorize(auth)
    scheme, _, encoded = request.headers["Authorization"].partition(" ")
    assert scheme == "Basic"
    assert base64.b64decode(encoded).decode() == "svc.integration:pä55:word"
    assert "pä55" not in repr(auth)
    assert "[secure]" in repr(auth)


@pytest.mark.parametrize(
    ("username", "password", "field"),
    [
        ("", "p", "username"),
        ("a:b", "p", "username"),
        ("u", "", "password"),
        ("u", "p\r\n", "password"),
    ],
)
def test_basic_auth_bad_input_names_the_field(username: str, password: str, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        BasicAuth(username, password)


@pytest.mark.parametrize(
    ("prefix", "header"),
    [
        ("Bearer", "Bearer tok-1"),
        ("", "Bearer tok-1"),
        (None, "Bearer tok-1"),
        ("SSWS", "SSWS tok-1"),
    ],
)
def test_bearer_prefix_defaults_to_bearer(prefix: str | None, header: str) -> None:
    auth = BearerAuth("tok-1", header_prefix=prefix)
    assert authorize(auth).headers["Authorization"] == header
    assert "tok-1" not in repr(auth)


@pytest.mark.parametrize(
    ("token", "prefix", "field"),
    [("", "Bearer", "token"), ("a\nb", "Bearer", "token"), ("t", "Bad Prefix", "header_prefix")],
)
def test_bearer_bad_input_names_the_field(token: str, prefix: str, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        BearerAuth(token, header_prefix=prefix)


@pytest.mark.parametrize("auth", [BasicAuth("u", "secret-pw"), BearerAuth("secret-tok")])
def test_credentials_are_not_sent_over_plain_http(auth: httpx.Auth) -> None:
    flow = auth.auth_flow(httpx.Request("GET", "http://itsm.example/api"))
    with pytest.raises(InsecureTransportError, match=r"itsm\.example") as caught:
        next(flow)
    assert "secret" not in str(caught.value)


@pytest.fixture
def echo_server() -> Iterator[str]:
    async def echo(request: Request) -> Response:
        return JSONResponse({"authorization": request.headers.get("authorization")})

    with ThreadServer(Starlette(routes=[Route("/echo", echo)])) as server:
        yield server.url


def test_live_round_trip_with_each_static_auth(echo_server: str, secret_log_check: Check) -> None:
    cases: list[tuple[httpx.Auth, str | None]] = [
        (NoAuth(), None),
        (BasicAuth("svc", "pw-secret-1"), "Basic " + base64.b64encode(b"svc:pw-secret-1").decode()),
        (BearerAuth("tok-secret-2", header_prefix="Token"), "Token tok-secret-2"),
    ]
    for auth, expected in cases:
        with make_client(auth, destinations=LOOPBACK) as client:
            assert client.get(f"{echo_server}/echo").json() == {"authorization": expected}
    secret_log_check(["pw-secret-1", "tok-secret-2"])
