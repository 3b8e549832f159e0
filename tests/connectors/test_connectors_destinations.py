"""Where outbound connections may go: public addresses by default, what the operator allows.

Checked when a credential is saved (an address in any spelling) and when connecting (on the
address actually connected to, after one resolution). The peers are real servers on loopback:
HTTPS (uvicorn) with certificates for host names that a resolver given to the policy maps to
127.0.0.1, a plain TCP listener that counts who reaches it, and asyncssh's SFTP server.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh
import httpx
import pydantic
import pytest
import trustme
from outbound_peers import (
    CC_CLIENT_ID,
    CC_CLIENT_SECRET,
    SFTP_PASSWORD,
    SFTP_USER,
    ResourcePeer,
    SshPeer,
    Tls,
    TlsServer,
    free_port,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from credgate.connectors.auth import RefusedDestination, make_async_client
from credgate.connectors.credentials import (
    CredentialValidationError,
    validate_create,
)
from credgate.connectors.sftp import DestinationNotAllowed
from credgate.container import Container
from credgate.core.audit.services import Actor
from credgate.core.config import Settings
from credgate.core.destinations import (
    STRICT,
    DestinationPolicy,
    forbidden_reason,
    literal_address,
)
from support import LOOPBACK
from support.fixtures import trusting_test_ca  # noqa: F401 - a fixture

ACTOR = Actor("tests", "pytest")
HOSTS = ("127.0.0.1", "tool.example", "login.example")


# -- the rule ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("::1", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.5", "private"),
        ("fd00::1", "private"),
        ("0.1.2.3", "private"),
        ("100.64.0.1", "non-public"),
        ("192.0.2.1", "private"),
        ("2001:db8::1", "private"),
        ("192.0.0.8", "reserved"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("ff0e::1", "multicast"),
        ("fec0::1", "site-local"),
        # IPv6 forms that carry an IPv4 address
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "link-local"),
        ("::7f00:1", "reserved"),  # IPv4-compatible
        ("64:ff9b::7f00:1", "loopback (inside an IPv6 address)"),  # NAT64
        ("64:ff9b::a9fe:a9fe", "link-local (inside an IPv6 address)"),
        ("64:ff9b:1::808:808", "reserved"),  # local-use NAT64
        ("2002:7f00:1::1", "loopback (inside an IPv6 address)"),  # 6to4
        ("2002:a00:1::", "private (inside an IPv6 address)"),
        ("2001::1", "private"),  # Teredo
    ],
)
def test_refused_addresses(address: str, kind: str) -> None:
    assert forbidden_reason(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "2606:4700:4700::1111",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
        "2002:808:808::1",
    ],
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert forbidden_reason(ipaddress.ip_address(address)) is None
    assert STRICT.refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0x7F.0x0.0x0.0x1", "127.0.0.1"),
        ("127.0.0.1.", "127.0.0.1"),
        ("0", "0.0.0.0"),
        ("0xa9fea9fe", "169.254.169.254"),
        ("[::ffff:7f00:1]", "::ffff:7f00:1"),
        ("example.com", None),
        ("1password.com", None),
    ],
)
def test_hosts_spelled_as_numbers_are_addresses(host: str, address: str | None) -> None:
    found = literal_address(host)
    assert (str(found) if found else None) == address


@pytest.mark.parametrize("host", ["1.2.3.4.5", "999.1.1.1", "foo.123", "0x", "08"])
def test_hosts_ending_in_a_number_must_be_addresses(host: str) -> None:
    with pytest.raises(ValueError, match="not a valid IPv4 address"):
        literal_address(host)


def test_the_allow_list_takes_networks_addresses_and_host_names() -> None:
    policy = DestinationPolicy.from_entries(
        [" 10.0.0.0/8", "192.168.1.5", "fd12::/16", "Files.Corp.Example.", ""]
    )
    allowed = ["10.1.2.3", "::ffff:10.1.2.3", "192.168.1.5", "fd12::7"]
    for text in allowed:
        assert policy.refusal(ipaddress.ip_address(text)) is None, text
    for text in ("192.168.1.6", "127.0.0.1", "fd13::1", "169.254.169.254"):
        assert policy.refusal(ipaddress.ip_address(text)) is not None, text
    assert policy.hosts == {"files.corp.example"}
    resolved = policy.with_resolver(lambda host, port: ["127.0.0.1"])
    assert resolved.addresses("FILES.corp.example", 22) == ["127.0.0.1"]


def test_the_setting_is_comma_separated_and_bad_entries_are_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CREDGATE_OUTBOUND_ALLOWED_NETWORKS", "10.0.0.0/8, 192.168.1.5,files.lan")
    settings = Settings()
    assert settings.outbound_allowed_networks == ["10.0.0.0/8", "192.168.1.5", "files.lan"]
    assert settings.outbound_destinations.refusal(ipaddress.ip_address("10.9.9.9")) is None
    assert Settings(outbound_allowed_networks=[]).outbound_destinations == STRICT
    for bad in ("10.0.0.0/33", "not a host", "1.2.3.4.5"):
        monkeypatch.setenv("CREDGATE_OUTBOUND_ALLOWED_NETWORKS", bad)
        with pytest.raises(pydantic.ValidationError) as caught:
            Settings()
        assert "outbound_allowed_networks" in str(caught.value)
        assert "neither a network" in str(caught.value)


# -- when a credential is saved -----------------------------------------------------------------

FORBIDDEN_HOSTS = (
    "127.0.0.1",
    "2130706433",
    "0x7f.1",
    "017700000001",
    "0177.0.0.1",
    "127.1",
    "127.0.0.1.",
    "[::1]",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "[64:ff9b::7f00:1]",
    "[2002:7f00:1::1]",
    "0.0.0.0",
    "0",
    "169.254.169.254",
    "0xa9fea9fe",
    "[fe80::1]",
    "10.0.0.1",
    "192.168.1.5",
    "[fd00::1]",
    "100.64.0.1",
    "224.0.0.1",
    "240.0.0.1",
)


def _https(url: str, auth: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "name": "Tool",
        "protocol": "HTTPS",
        "url": url,
        "authorization": auth or {"type": "NONE"},
    }


def _client_credentials(token_url: str) -> dict[str, Any]:
    return _https(
        "https://tool.example/",
        {
            "type": "OAUTH2_CLIENT_CREDENTIALS",
            "client_id": "cid",
            "client_secret": "Cs-destinations-1",
            "access_token_url": token_url,
        },
    )


def _sftp(url: str) -> dict[str, Any]:
    key = asyncssh.generate_private_key("ssh-ed25519").export_public_key("openssh").decode()
    return {
        "name": "Files",
        "protocol": "SFTP",
        "url": url,
        "authorization": {"username": "u", "password": "Pw-destinations-1", "host_key": key},
    }


@pytest.mark.parametrize("host", FORBIDDEN_HOSTS)
def test_forbidden_addresses_are_refused_when_saved(host: str) -> None:
    for data, field_name in (
        (_https(f"https://{host}:8443/"), "url"),
        (_client_credentials(f"https://{host}/oauth/token"), "authorization.access_token_url"),
        (_sftp(f"sftp://{host}:22/"), "url"),
    ):
        with pytest.raises(CredentialValidationError) as caught:
            validate_create(data)
        [error] = caught.value.errors
        assert error.field == field_name
        assert "credgate does not connect to" in error.message
        assert "CREDGATE_OUTBOUND_ALLOWED_NETWORKS" in error.message
        assert host.strip("[]") not in error.message  # the address is never echoed


def test_allowed_and_public_addresses_are_saved_in_their_usual_form() -> None:
    assert validate_create(_https("https://134744072/")).url == "https://8.8.8.8/"
    assert validate_create(_https("https://[::ffff:8.8.8.8]/")).url == "https://[::ffff:808:808]/"
    on_premises = DestinationPolicy.from_entries(["10.0.0.0/8", "192.168.1.5"])
    for url, normalised in (
        ("https://10.1.2.3:8443/", "https://10.1.2.3:8443/"),
        ("https://0x0a.0x01.0x02.0x03/", "https://10.1.2.3/"),
        ("https://192.168.1.5/", "https://192.168.1.5/"),
    ):
        assert validate_create(_https(url), destinations=on_premises).url == normalised
    with pytest.raises(CredentialValidationError):
        validate_create(_https("https://192.168.1.6/"), destinations=on_premises)
    # host names are checked when connecting, on what they resolve to
    assert validate_create(_https("https://localhost/")).url == "https://localhost/"


def test_the_authorization_url_is_for_the_browser_and_not_checked() -> None:
    data = _https(
        "https://tool.example/",
        {
            "type": "OAUTH2_AUTHORIZATION_CODE",
            "client_id": "cid",
            "client_secret": "Cs-destinations-2",
            "authorization_url": "https://10.0.0.5/authorize",
            "access_token_url": "https://login.example/token",
        },
    )
    assert validate_create(data).authorization["authorization_url"] == (
        "https://10.0.0.5/authorize"
    )


def test_the_admin_api_names_the_refused_field(
    admin_client: TestClient, container: Container
) -> None:
    base = "/admin/api/v1/connector-credentials"
    for body, field_name in (
        (_https("https://0xa9fea9fe/"), "url"),
        (
            _client_credentials("https://[::ffff:169.254.169.254]/token"),
            "authorization.access_token_url",
        ),
        (_sftp("sftp://[::1]:22/"), "url"),
    ):
        answer = admin_client.post(base, json=body)
        assert answer.status_code == 422, answer.text
        assert [e["field"] for e in answer.json()["errors"]] == [field_name]
    assert container.connector_credentials.list().total == 0


# -- when connecting: HTTPS ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    directory = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    cert = ca.issue_cert(*HOSTS)
    found = Tls(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    ca.cert_pem.write_to_path(str(found.ca_bundle))
    cert.cert_chain_pems[0].write_to_path(str(found.certfile))
    cert.private_key_pem.write_to_path(str(found.keyfile))
    return found


@dataclass
class Recorder:
    """An HTTPS origin that records what reaches it and can redirect elsewhere."""

    location: str | None = None
    seen: list[tuple[str, str]] = field(default_factory=list)

    def app(self) -> Starlette:
        async def any_path(request: Request) -> Response:
            self.seen.append((request.url.path, request.headers.get("authorization", "")))
            if self.location:
                return RedirectResponse(self.location, status_code=302)
            return JSONResponse({"ok": True})

        return Starlette(routes=[Route("/{path:path}", any_path, methods=["GET", "POST"])])


class Listener:
    """A plain TCP listener on ``host``: it counts the connections that reach it."""

    def __init__(self, host: str, port: int = 0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(16)
        self.port: int = self.sock.getsockname()[1]
        self.accepted = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def __enter__(self) -> Listener:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()
        self._thread.join(5)


def resolver(answers: dict[str, list[str]]) -> Callable[[str, int], list[str]]:
    """A resolver that knows only ``answers`` (no /etc/hosts, no DNS)."""

    def resolve(host: str, port: int) -> list[str]:
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return list(answers[host])

    return resolve


@pytest.fixture
def recorder(tls: Tls) -> Iterator[tuple[Recorder, int]]:
    state = Recorder()
    with TlsServer(state.app(), tls) as server:
        yield state, server.port


def _test(admin_client: TestClient, credential_id: str) -> dict[str, Any]:
    answer = admin_client.post(f"/admin/api/v1/connector-credentials/{credential_id}/test")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _create(container: Container, body: dict[str, Any]) -> str:
    return container.connector_credentials.create(body, actor=ACTOR).id


def test_a_host_name_resolving_to_loopback_is_refused_unless_allowed(
    container: Container, admin_client: TestClient, recorder: tuple[Recorder, int]
) -> None:
    state, port = recorder
    credential_id = _create(
        container,
        _https(f"https://tool.example:{port}/", {"type": "BEARER", "token": "Tk-dest-1"}),
    )
    answers = resolver({"tool.example": ["127.0.0.1"]})
    container.connections.destinations = STRICT.with_resolver(answers)
    verdict = _test(admin_client, credential_id)
    assert (verdict["ok"], verdict["code"]) == (False, "destination_refused")
    assert "tool.example" in verdict["detail"]
    assert "loopback" in verdict["detail"]
    assert "127.0.0.1" not in verdict["detail"]
    assert state.seen == []  # nothing reached the server
    # allowed: the connection goes to the checked address, TLS and Host still name the host
    container.connections.destinations = LOOPBACK.with_resolver(answers)
    verdict = _test(admin_client, credential_id)
    assert (verdict["ok"], verdict["code"]) == (True, "ok"), verdict
    assert state.seen == [("/", "Bearer Tk-dest-1")]


def test_a_token_endpoint_resolving_to_loopback_is_refused(
    container: Container, admin_client: TestClient, tls: Tls
) -> None:
    tokens = ResourcePeer()
    with TlsServer(tokens.app(), tls) as server:
        credential_id = _create(
            container,
            _https(
                f"https://8.8.8.8:{server.port}/",  # never reached: the token comes first
                {
                    "type": "OAUTH2_CLIENT_CREDENTIALS",
                    "client_id": CC_CLIENT_ID,
                    "client_secret": CC_CLIENT_SECRET,
                    "access_token_url": f"https://login.example:{server.port}/token",
                },
            ),
        )
        container.connections.destinations = STRICT.with_resolver(
            resolver({"login.example": ["127.0.0.1"]})
        )
        verdict = _test(admin_client, credential_id)
    assert (verdict["ok"], verdict["code"]) == (False, "destination_refused")
    assert "login.example" in verdict["detail"]
    assert tokens.token_requests == 0  # the client secret was never sent


def test_refused_verdicts_do_not_tell_open_from_closed_ports(
    container: Container, admin_client: TestClient, recorder: tuple[Recorder, int]
) -> None:
    _state, open_port = recorder
    closed_port = free_port()
    # saved while loopback was allowed; the operator then took that back
    ids = {
        port: _create(container, {**_https(f"https://127.0.0.1:{port}/"), "name": f"p{port}"})
        for port in (open_port, closed_port)
    }
    allowed = {port: _test(admin_client, ids[port]) for port in ids}
    assert allowed[open_port]["code"] == "ok"
    assert allowed[closed_port]["code"] == "connection_failed"
    container.connections.destinations = STRICT
    refused = {port: _test(admin_client, ids[port]) for port in ids}
    assert refused[open_port] == refused[closed_port]
    assert refused[open_port]["code"] == "destination_refused"
    assert str(open_port) not in refused[open_port]["detail"]


def test_one_resolution_is_checked_and_connected_to(
    container: Container, admin_client: TestClient, recorder: tuple[Recorder, int]
) -> None:
    """DNS rebinding: the resolver answers an allowed address, then a refused one. The
    connection goes to the address that was checked; the second answer is never used."""
    state, port = recorder
    calls: list[str] = []

    def rebinding(host: str, _port: int) -> list[str]:
        calls.append(host)
        return ["127.0.0.1"] if len(calls) == 1 else ["127.0.0.2"]

    with Listener("127.0.0.2", port) as decoy:
        credential_id = _create(container, _https(f"https://tool.example:{port}/"))
        container.connections.destinations = DestinationPolicy.from_entries(
            ["127.0.0.1/32"], resolver=rebinding
        )
        verdict = _test(admin_client, credential_id)
        assert verdict["code"] == "ok", verdict
        assert calls == ["tool.example"]
        assert state.seen == [("/", "")]
        assert decoy.accepted == 0
        # a new connection resolves again, and the answer that changed is refused
        verdict = _test(admin_client, credential_id)
        assert verdict["code"] == "destination_refused"
        assert decoy.accepted == 0


def test_a_redirect_to_a_refused_address_is_not_followed(
    container: Container, admin_client: TestClient, recorder: tuple[Recorder, int], tls: Tls
) -> None:
    state, port = recorder
    with Listener("127.0.0.2") as decoy:
        state.location = f"https://127.0.0.2:{decoy.port}/latest/meta-data/"
        credential_id = _create(
            container,
            _https(f"https://127.0.0.1:{port}/", {"type": "BEARER", "token": "Tk-dest-2"}),
        )
        policy = DestinationPolicy.from_entries(["127.0.0.1/32"])
        container.connections.destinations = policy
        verdict = _test(admin_client, credential_id)
        assert verdict["code"] == "ok"  # the 302 itself is the answer
        assert "HTTP 302" in verdict["detail"]

        async def follow() -> None:
            # even a caller that follows redirects cannot reach a refused address
            async with make_async_client(ca_bundle=tls.ca_bundle, destinations=policy) as client:
                with pytest.raises(RefusedDestination) as caught:
                    await client.get(f"https://127.0.0.1:{port}/", follow_redirects=True)
            assert isinstance(caught.value, httpx.ConnectError)
            assert "loopback" in str(caught.value)

        asyncio.run(follow())
        assert decoy.accepted == 0
    assert [path for path, _auth in state.seen] == ["/", "/"]


# -- when connecting: SFTP ------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def empty_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))


def test_an_sftp_host_resolving_to_loopback_is_refused_unless_allowed(
    container: Container, admin_client: TestClient, tmp_path: Path
) -> None:
    key = asyncssh.generate_private_key("ssh-ed25519")
    root = tmp_path / "chroot"
    root.mkdir()
    with SshPeer(root, key) as ssh:
        credential_id = _create(
            container,
            {
                "name": "Files",
                "protocol": "SFTP",
                "url": f"sftp://files.example:{ssh.port}/",
                "authorization": {
                    "username": SFTP_USER,
                    "password": SFTP_PASSWORD,
                    "host_key": key.export_public_key("openssh").decode(),
                },
            },
        )
        answers = resolver({"files.example": ["127.0.0.1"]})
        container.connections.destinations = STRICT.with_resolver(answers)
        verdict = _test(admin_client, credential_id)
        assert (verdict["ok"], verdict["code"]) == (False, "destination_refused")
        assert "files.example" in verdict["detail"]
        with pytest.raises(DestinationNotAllowed):  # what an exporter gets
            asyncio.run(container.outbound.transport.open_sftp(credential_id))
        assert ssh.log.connections == 0
        container.connections.destinations = LOOPBACK.with_resolver(answers)
        verdict = _test(admin_client, credential_id)
        assert (verdict["ok"], verdict["code"]) == (True, "ok"), verdict
        assert ssh.log.connections == 1
        assert ssh.log.password_attempts == 1
