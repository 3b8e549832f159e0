"""Cookies are ``Secure`` whenever the public URL is https, however it is configured."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from credgate.app import CredgateApp
from support import ADMIN_PASSWORD

CONFIGURATIONS = [
    # (settings, whether the public URL is https)
    pytest.param(({}, False), id="default-http-host-and-port"),
    pytest.param(({"public_base_url": "http://credgate.internal:8080"}, False), id="http-base-url"),
    pytest.param(({"public_base_url": "https://credgate.example.com"}, True), id="https-base-url"),
    pytest.param(
        ({"instance": "acme", "region": "eu", "domain": "example.com"}, True), id="host-patterns"
    ),
    pytest.param(
        (
            {
                "instance": "acme",
                "region": "us",
                "domain": "example.com",
                "public_base_url": "http://10.0.0.5:8080",
            },
            True,
        ),
        id="host-patterns-and-an-http-base-url",
    ),
]


@pytest.fixture(params=CONFIGURATIONS)
def configuration(request: pytest.FixtureRequest) -> tuple[dict[str, Any], bool]:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def settings_overrides(configuration: tuple[dict[str, Any], bool]) -> dict[str, Any]:
    return configuration[0]


@pytest.fixture
def browser(app: CredgateApp, configuration: tuple[dict[str, Any], bool]) -> Iterator[TestClient]:
    # An https client for an https public URL: a cookie jar keeps Secure cookies off http.
    scheme = "https" if configuration[1] else "http"
    with TestClient(app, base_url=f"{scheme}://127.0.0.1:8080") as client:
        yield client


def _cookies(response: Any) -> dict[str, str]:
    return {c.split("=", 1)[0]: c for c in response.headers.get_list("set-cookie")}


def _secure(cookie: str) -> bool:
    return "secure" in [part.strip().lower() for part in cookie.split(";")]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_sign_in_cookies(
    browser: TestClient, configuration: tuple[dict[str, Any], bool], backend: str
) -> None:
    secure = configuration[1]
    page = browser.get("/admin/login")
    login_csrf = _cookies(page)["credgate_login_csrf"]
    assert _secure(login_csrf) is secure

    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    signed_in = browser.post(
        "/admin/login",
        data={"username": "admin", "password": ADMIN_PASSWORD, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303
    cookies = _cookies(signed_in)
    assert _secure(cookies["credgate_session"]) is secure
    assert _secure(cookies["credgate_csrf"]) is secure
    assert "httponly" in cookies["credgate_session"].lower()

    api = browser.post(
        "/admin/api/v1/session", json={"username": "admin", "password": ADMIN_PASSWORD}
    )
    assert api.status_code == 200
    assert _secure(_cookies(api)["credgate_session"]) is secure
