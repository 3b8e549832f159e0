"""Trusted proxies: the documented setting forms, and the one X-Forwarded-For resolver."""

from __future__ import annotations

import ipaddress
import json
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from asgi_call import call
from credgate.app import CredgateApp
from credgate.container import Container
from credgate.core.config import Settings
from credgate.core.proxies import client_address, parse_trusted_proxies
from served import ServedCredgate, credgate_env, run_credgate

TRUSTED = parse_trusted_proxies("127.0.0.1, 10.0.0.0/8")


def scope(peer: str, *forwarded: str) -> dict[str, Any]:
    headers = [(b"host", b"credgate")] + [(b"x-forwarded-for", v.encode()) for v in forwarded]
    return {"type": "http", "client": (peer, 40000), "headers": headers}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1,10.0.0.1", ["127.0.0.1/32", "10.0.0.1/32"]),
        (" 10.0.0.0/8 , ::1 ", ["10.0.0.0/8", "::1/128"]),
        ('["127.0.0.1", "192.168.0.0/16"]', ["127.0.0.1/32", "192.168.0.0/16"]),
        (["10.1.2.3/8"], ["10.0.0.0/8"]),
        ("", []),
    ],
)
def test_documented_forms(value: Any, expected: list[str]) -> None:
    assert [str(n) for n in parse_trusted_proxies(value)] == expected


def test_comma_separated_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDGATE_TRUSTED_PROXIES", "127.0.0.1,10.0.0.1")
    assert Settings().trusted_proxies == [
        ipaddress.ip_network("127.0.0.1"),
        ipaddress.ip_network("10.0.0.1"),
    ]


@pytest.mark.parametrize("value", ["notanip", "10.0.0.1,bad", "[1, 2", "300.0.0.1/8"])
def test_bad_values_are_named(value: str) -> None:
    with pytest.raises(ValueError, match="not"):
        parse_trusted_proxies(value)


def test_every_header_line_is_read() -> None:
    # The client sent its own line; the trusted proxy added the real address on a second one.
    request = scope("127.0.0.1", "198.51.100.7", "203.0.113.9")
    assert client_address(request, TRUSTED) == "203.0.113.9"


def test_the_right_most_untrusted_hop_is_the_client() -> None:
    request = scope("10.0.0.1", "198.51.100.7, 203.0.113.9, 10.0.0.2", "10.0.0.3")
    assert client_address(request, TRUSTED) == "203.0.113.9"


def test_an_untrusted_peer_is_the_client_whatever_it_says() -> None:
    assert client_address(scope("192.0.2.1", "203.0.113.9"), TRUSTED) == "192.0.2.1"
    assert client_address(scope("127.0.0.1", "203.0.113.9"), []) == "127.0.0.1"


def test_an_ipv4_peer_on_a_dual_stack_socket_is_trusted() -> None:
    assert client_address(scope("::ffff:127.0.0.1", "203.0.113.9"), TRUSTED) == "203.0.113.9"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"trusted_proxies": ["127.0.0.1", "10.0.0.0/8"]}


def test_the_admin_api_and_the_token_endpoint_read_every_line(
    app: CredgateApp, container: Container, admin_token: str
) -> None:
    # The client's own line comes first; the proxy (the peer, 127.0.0.1) appended a second.
    forwarded = [("x-forwarded-for", "198.51.100.7"), ("x-forwarded-for", "203.0.113.9")]
    body = b'{"name": "through a proxy", "permissions": ["nql"]}'
    status, _headers, content, _reads = call(
        app,
        "POST",
        "/admin/api/v1/api-credentials",
        [
            ("authorization", f"Bearer {admin_token}"),
            ("content-type", "application/json"),
            ("content-length", str(len(body))),
            *forwarded,
        ],
        body,
    )
    assert status == 201, content
    status, _headers, content, _reads = call(
        app,
        "GET",
        "/admin/api/v1/audit-events",
        [("authorization", f"Bearer {admin_token}"), *forwarded],
    )
    assert json.loads(content)[0]["source"] == "203.0.113.9"

    form = b"grant_type=client_credentials&client_id=nobody&client_secret=cgs_wrong"
    status, _headers, _content, _reads = call(
        app,
        "POST",
        "/oauth2/default/v1/token",
        [
            ("content-type", "application/x-www-form-urlencoded"),
            ("content-length", str(len(form))),
            *forwarded,
        ],
        form,
    )
    assert status == 401
    with container.db.session() as session:
        keys = set(session.scalars(text("SELECT key FROM auth_failures")))
    assert "addr:203.0.113.9" in keys
    assert not any("198.51.100.7" in key for key in keys)


# Start-up from the command line --------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["127.0.0.1,10.0.0.1", "127.0.0.1, 10.0.0.0/8, ::1", '["127.0.0.1", "10.0.0.0/8"]']
)
def test_credgate_starts_with_each_documented_form(tmp_path: Path, value: str) -> None:
    done = run_credgate(credgate_env(tmp_path / "var", trusted_proxies=value), "init")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr


def test_a_bad_value_stops_credgate_with_one_line_naming_the_variable(tmp_path: Path) -> None:
    done = run_credgate(credgate_env(tmp_path / "var", trusted_proxies="notanip"), "serve")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "CREDGATE_TRUSTED_PROXIES" in lines[0]
    assert "'notanip' is not an IP address or CIDR network" in lines[0]


@pytest.mark.slow
def test_a_served_credgate_resolves_multiple_header_lines(tmp_path: Path) -> None:
    with ServedCredgate(tmp_path, trusted_proxies="127.0.0.1, 10.0.0.0/8") as served:
        token = served.admin_token()
        forwarded = [("X-Forwarded-For", "198.51.100.7"), ("X-Forwarded-For", "203.0.113.9")]
        with httpx.Client(base_url=served.url, timeout=10) as http:
            created = http.post(
                "/admin/api/v1/api-credentials",
                json={"name": "through a proxy", "permissions": ["nql"]},
                headers=[("Authorization", f"Bearer {token}"), *forwarded],
            )
            assert created.status_code == 201, created.text
            events = http.get(
                "/admin/api/v1/audit-events", headers={"Authorization": f"Bearer {token}"}
            ).json()
            assert events[0]["action"] == "api_credential.create"
            assert events[0]["source"] == "203.0.113.9"
            # The token endpoint (a lean route) counts the failure against the same address.
            refused = http.post(
                "/oauth2/default/v1/token",
                data={"grant_type": "client_credentials"},
                auth=(created.json()["client_id"], "cgs_wrong"),
                headers=forwarded,
            )
            assert refused.status_code == 401
        with sqlite3.connect(served.data_dir / "credgate.db") as db:
            keys = {row[0] for row in db.execute("SELECT key FROM auth_failures")}
        assert "addr:203.0.113.9" in keys
        assert not any("198.51.100.7" in key for key in keys)
