"""The safe client factory: TLS always verified (private CA by bundle), no redirects."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trustme
from auth_peers import CLIENT_ID, CLIENT_SECRET, TokenServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from credgate.connectors.auth import (
    DEFAULT_TIMEOUT,
    BasicAuth,
    InMemoryTokenStore,
    InsecureTransportError,
    OAuth2ClientCredentialsAuth,
    check_transport,
    make_async_client,
    make_client,
)
from support import LOOPBACK, ThreadServer, hammer


@pytest.fixture(scope="module")
def private_ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A private CA, its bundle, and a server certificate for 127.0.0.1 it signed."""
    directory = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    server_cert = ca.issue_cert("127.0.0.1", "localhost")
    bundle, cert, key = directory / "ca.pem", directory / "server.pem", directory / "key.pem"
    ca.cert_pem.write_to_path(str(bundle))
    server_cert.private_key_pem.write_to_path(str(key))
    for index, blob in enumerate(server_cert.cert_chain_pems):
        blob.write_to_path(str(cert), append=index > 0)
    return bundle, cert, key


@pytest.fixture
def https_token_server(
    private_ca: tuple[Path, Path, Path],
) -> Iterator[tuple[TokenServer, str]]:
    _, cert, key = private_ca
    state = TokenServer()
    with ThreadServer(state.app(), certfile=cert, keyfile=key) as server:
        yield state, server.url


def test_tls_without_the_private_ca_fails_verification(
    https_token_server: tuple[TokenServer, str],
) -> None:
    server, url = https_token_server
    with make_client(destinations=LOOPBACK) as client, pytest.raises(httpx.ConnectError) as caught:
        client.post(f"{url}/token")
    assert isinstance(caught.value.__context__, ssl.SSLCertVerificationError) or (
        "CERTIFICATE_VERIFY_FAILED" in str(caught.value)
    )
    assert server.token_requests == 0


def test_tls_with_the_ca_bundle_works_end_to_end(
    https_token_server: tuple[TokenServer, str], private_ca: tuple[Path, Path, Path]
) -> None:
    server, url = https_token_server
    bundle = private_ca[0]
    auth = OAuth2ClientCredentialsAuth(
        CLIENT_ID, CLIENT_SECRET, f"{url}/token", store=InMemoryTokenStore()
    )
    with make_client(auth, ca_bundle=bundle, destinations=LOOPBACK) as client:
        assert client.get(f"{url}/resource").json()["ok"] is True
    assert (server.token_requests, server.resource_requests) == (1, 1)


def test_tls_async_client_with_the_ca_bundle(
    https_token_server: tuple[TokenServer, str], private_ca: tuple[Path, Path, Path]
) -> None:
    import asyncio

    _, url = https_token_server

    async def run() -> int:
        async with make_async_client(ca_bundle=private_ca[0], destinations=LOOPBACK) as client:
            return (await client.post(f"{url}/token")).status_code

    assert asyncio.run(run()) == 401  # reached the server (no client credentials sent)


def test_bad_ca_bundle_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ca_bundle: no such file"):
        make_client(ca_bundle=tmp_path / "missing.pem")
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    with pytest.raises(ValueError, match="ca_bundle: not a PEM bundle"):
        make_client(ca_bundle=junk)


def test_client_defaults_are_safe() -> None:
    with make_client() as client:
        assert client.follow_redirects is False
        assert client.timeout == DEFAULT_TIMEOUT
        assert client.timeout.connect == 5.0
        assert client.timeout.read == 30.0
        assert client.trust_env is False


@pytest.fixture
def elsewhere() -> Iterator[tuple[list[str], str]]:
    """Another origin that records the Authorization headers it receives."""
    seen: list[str] = []

    async def anything(request: Request) -> Response:
        seen.append(request.headers.get("authorization", ""))
        return JSONResponse({})

    with ThreadServer(Starlette(routes=[Route("/{path:path}", anything)])) as server:
        yield seen, server.url


def test_redirect_to_another_host_is_not_followed_with_credentials(
    elsewhere: tuple[list[str], str],
) -> None:
    seen, other = elsewhere

    async def redirect(request: Request) -> Response:
        return RedirectResponse(f"{other}/steal", status_code=307)

    app = Starlette(routes=[Route("/api", redirect)])
    with (
        ThreadServer(app) as origin,
        make_client(BasicAuth("svc", "pa55-word"), destinations=LOOPBACK) as client,
    ):
        response = client.get(f"{origin.url}/api")
    assert response.status_code == 307
    assert seen == []  # the other host never saw a request, let alone the password


def test_check_transport_allows_https_and_loopback_only() -> None:
    check_transport("https://itsm.example/api")
    check_transport("http://127.0.0.1:8080/x")
    check_transport("http://[::1]:8080/x")
    check_transport("http://localhost/x")
    with pytest.raises(InsecureTransportError, match=r"instance_url: .*http://itsm\.example"):
        check_transport("http://itsm.example/api", field="instance_url")
    with pytest.raises(InsecureTransportError):
        check_transport("ftp://127.0.0.1/x")


def test_48_threads_on_one_client_keep_their_connections_and_lose_no_request() -> None:
    # More threads than httpx's default 20 keep-alive slots, with the interpreter switching
    # threads as often as it can: a pool that closes "surplus idle" connections hands a thread
    # a connection another thread is closing (ReadError: Bad file descriptor) and reconnects
    # over and over. Every connection the client opens must stay open and every send succeed.
    peers: set[tuple[str, int]] = set()

    async def resource(request: Request) -> Response:
        assert request.client is not None
        peers.add((request.client.host, request.client.port))
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/resource", resource)])
    with ThreadServer(app) as server, make_client(destinations=LOOPBACK) as client:
        errors = hammer(lambda: client.get(f"{server.url}/resource").raise_for_status(), threads=48)
    assert errors == []
    assert len(peers) <= 48


class _HandedConnection:
    """A connection the pool has just handed to a request, which looks "expired" to the
    pool's clean-up: idle, with the answer already readable on its socket."""

    closed = False

    def is_closed(self) -> bool:
        return self.closed

    def has_expired(self) -> bool:
        return True

    def is_idle(self) -> bool:
        return True

    def is_available(self) -> bool:
        return True

    def can_handle_request(self, origin: object) -> bool:
        return True

    def close(self) -> None:
        self.closed = True


def test_the_pool_never_closes_a_connection_it_has_handed_to_a_request() -> None:
    # The race behind "ReadError: [Errno 9] Bad file descriptor", made deterministic: another
    # thread's clean-up runs between the hand-over and the request's first byte.
    import httpcore
    from httpcore._sync.connection_pool import PoolRequest

    from credgate.connectors.auth._http import _InFlightSafePool

    with make_client(destinations=LOOPBACK) as client:
        pool = client._transport._pool  # type: ignore[attr-defined]
    assert isinstance(pool, _InFlightSafePool)
    handed = _HandedConnection()
    request = PoolRequest(httpcore.Request("GET", "https://127.0.0.1/"))
    request.assign_to_connection(handed)  # type: ignore[arg-type]
    pool._connections.append(handed)
    pool._requests.append(request)
    with pool._optional_thread_lock:
        closing = pool._assign_requests_to_connections()
    pool._close_connections(closing)
    assert handed not in closing
    assert not handed.closed
    assert pool._connections == [handed]
