"""With CREDGATE_CLASSIC_BASIC_AUTH=false every Basic request gets 401; tokens still work."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient
from support_classic import PASSWORD, add_users, basic, credential, token

from credgate.container import Container


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"classic_basic_auth": False}


def test_basic_switched_off_gives_everyone_401(client: TestClient, container: Container) -> None:
    add_users(container)
    paths = [
        "/2/query?query=(select%20(name)%20(from%20device))",
        "/api/configuration/v1/engines",
        "/audit-trail/api/v1/portal/type/auditlog",
    ]
    for username in ("finder", "partial", "private", "nofinder", "nobody"):
        for path in paths:
            got = client.get(path, headers=basic(username))
            assert got.status_code == 401, (username, path, got.text)
            assert got.json()["error"] == "basic_auth_disabled"
            assert "switched off" in got.json()["message"]
            assert got.headers["www-authenticate"] == 'Bearer realm="credgate"'
            assert PASSWORD not in got.text
    bare = client.get(paths[1])
    assert bare.status_code == 401
    assert "Basic" not in bare.headers["www-authenticate"]

    client_id, secret = credential(container, "engines")
    bearer = {"Authorization": f"Bearer {token(client, client_id, secret, 'service:engines')}"}
    assert client.get(paths[1], headers=bearer).status_code == 200
