"""Forward authentication behind a real nginx: ``auth_request`` to credgate's /forward-auth, then
``proxy_pass`` to an upstream that records every request target it receives.

Two gateways, as operators write them: one passes the request target on as the client sent it
(``proxy_pass http://upstream;``), the other passes nginx's own normalised path
(``proxy_pass http://upstream/;``). Whatever the client sends, the upstream must never receive a
path whose permission the token does not hold.

Needs Debian's nginx (``nginx-light``; ``scripts/test`` installs it when run as root).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from forward_auth_paths import REFUSED, TRICKS

from credgate.app import create_app
from credgate.container import Container
from credgate.core.paths import PROTECTED
from credgate.oauth.forward_auth import PathRefusedError, normalise_path
from nginx_support import MISSING, NGINX, start_nginx
from shared_installation import *  # noqa: F403 - its fixtures replace conftest.py's here
from shared_installation import TokenFor
from support import ThreadServer, free_port

pytestmark = pytest.mark.slow


class Recorder(BaseHTTPRequestHandler):
    """The upstream: answers 200 and remembers the request target exactly as received."""

    received: list[str]

    def _answer(self) -> None:
        type(self).received.append(self.path)
        body = b"upstream"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer  # noqa: N815 - the names http.server dispatches to

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[int, list[str]]]:
    received: list[str] = []
    handler = type("Recorder", (Recorder,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], received
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def credgate_url(shared_container: Container) -> Iterator[str]:
    with ThreadServer(create_app(container=shared_container)) as server:
        yield server.url


_AUTH = """
    location = /_credgate_auth {{
        internal;
        proxy_pass http://127.0.0.1:{credgate}/forward-auth;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
        proxy_set_header X-Original-URI $request_uri;
    }}
"""


@pytest.fixture(scope="module")
def gateways(
    tmp_path_factory: pytest.TempPathFactory, credgate_url: str, upstream: tuple[int, list[str]]
) -> Iterator[dict[str, int]]:
    if NGINX is None:
        pytest.skip(MISSING)
    ports = {"verbatim": free_port(), "normalised": free_port()}
    auth = _AUTH.format(credgate=credgate_url.rsplit(":", 1)[1])
    servers = "".join(
        f"""
    server {{
        listen 127.0.0.1:{port};
        {auth}
        location / {{
            auth_request /_credgate_auth;
            proxy_pass http://127.0.0.1:{upstream[0]}{"/" if name == "normalised" else ""};
        }}
    }}"""
        for name, port in ports.items()
    )
    process = start_nginx(tmp_path_factory.mktemp("nginx"), servers, ports.values())
    try:
        yield ports
    finally:
        process.terminate()
        process.wait(timeout=10)


def _send(port: int, target: str, headers: dict[str, str]) -> int:
    """Send ``target`` byte for byte (HTTP clients would normalise it) and return the status."""
    lines = [f"GET {target} HTTP/1.1", "Host: gateway.test", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return int(answer.split(b" ", 2)[1])


def _permission(target: str) -> str | None:
    try:
        return PROTECTED.resolve(normalise_path(target))
    except PathRefusedError:
        return None


def test_the_upstream_never_gets_a_path_the_token_may_not_open(
    gateways: dict[str, int], upstream: tuple[int, list[str]], token_for: TokenFor
) -> None:
    _, received = upstream
    workflows = token_for(["workflows"])
    targets = [*TRICKS, *(u for u in REFUSED if "\x00" not in u and "\xe9" not in u)]
    targets += ["/api/v1/workflows/x/..%2F..%2Fnql/execute", "/api/v1/unknown", "/"]
    for name, port in gateways.items():
        for target in targets:
            received.clear()
            status = _send(port, target, workflows)
            assert status in (400, 403, 414), (name, target, status)
            assert received == [], (name, target, received)
        # A client's own X-Forwarded-Uri rides along in nginx's subrequest: it must not decide.
        received.clear()
        spoofed = {**workflows, "X-Forwarded-Uri": "/api/v1/workflows"}
        assert _send(port, "/api/v1/nql/execute", spoofed) == 403, name
        assert received == []
        # What the token may open goes through.
        assert _send(port, "/api/v1/workflows?limit=1", workflows) == 200, name
        assert [_permission(r) for r in received] == ["workflows"]


def test_tricky_spellings_reach_the_upstream_only_with_their_permission(
    gateways: dict[str, int], upstream: tuple[int, list[str]], token_for: TokenFor
) -> None:
    _, received = upstream
    tokens = {p: token_for([p]) for p in set(TRICKS.values())}
    seen: dict[str, set[str]] = {}
    for name, port in gateways.items():
        for target, permission in TRICKS.items():
            received.clear()
            status = _send(port, target, tokens[permission])
            if status == 400:  # nginx refuses some spellings itself (e.g. ".." above the root)
                assert received == [], (name, target)
                continue
            assert status == 200, (name, target, status)
            assert len(received) == 1, (name, target, received)
            # Whatever form the upstream got, it routes to the permission that was checked.
            assert _permission(received[0]) == permission, (name, target, received)
            seen.setdefault(name, set()).add(received[0])
    # The gateway normalising paths is the one whose upstream gets them rewritten.
    assert "/api/v1/nql/execute" in seen["normalised"]
    assert "/api/v1/workflows/../nql/execute" in seen["verbatim"]
