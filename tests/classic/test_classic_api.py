"""The classic APIs over HTTP Basic and classic OAuth tokens, on both storage back ends."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from starlette.testclient import TestClient
from support_classic import (
    ACTOR,
    PASSWORD,
    QUERY,
    TOKEN_URL,
    add_users,
    basic,
    credential,
    finder_inventory,
    token,
)

from credgate.container import Container


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # Three failures lock a user out; no slow-down before that, to keep the tests fast.
    return {"auth_failure_limit": 3, "auth_failure_slowdown_after": 100}


@pytest.fixture
def classic(container: Container, client: TestClient) -> TestClient:
    return finder_inventory(container, client)


def test_users_without_the_right_profile_get_403(classic: TestClient, container: Container) -> None:
    add_users(container, "partial", "private", "nofinder")
    paths = ("/2/query?query=(select%20(name)%20(from%20device))", "/api/configuration/v1/engines")
    for username, reason in (
        ("partial", "data privacy 'partial'"),
        ("private", "data privacy 'full'"),
        ("nofinder", "Finder access"),
    ):
        for path in paths:
            got = classic.get(path, headers=basic(username))
            assert got.status_code == 403, got.text
            assert reason in got.json()["message"]
            assert PASSWORD not in got.text
    assert classic.get(paths[0], headers=basic("finder")).status_code == 200


def test_failed_logins_are_refused_then_throttled(classic: TestClient) -> None:
    wrong = "not the password 999"
    for _ in range(2):
        got = classic.get("/api/configuration/v1/engines", headers=basic("finder", wrong))
        assert got.status_code == 401
        assert got.headers["www-authenticate"].startswith("Basic ")
        assert wrong not in got.text
    third = classic.get("/api/configuration/v1/engines", headers=basic("finder", wrong))
    assert third.status_code == 429
    assert int(third.headers["retry-after"]) > 0
    # Locked out now, even with the right password.
    locked = classic.get("/api/configuration/v1/engines", headers=basic("finder"))
    assert locked.status_code == 429


def test_unknown_user_and_missing_credentials_get_401(classic: TestClient) -> None:
    assert classic.get("/api/configuration/v1/engines", headers=basic("nobody")).status_code == 401
    bare = classic.get("/api/configuration/v1/engines")
    assert bare.status_code == 401
    assert "Basic" in bare.headers["www-authenticate"]
    assert "Bearer" in bare.headers["www-authenticate"]
    garbled = classic.get("/2/query", headers={"Authorization": "Basic !!!"})
    assert garbled.status_code == 401


def test_audit_trail_with_a_classic_token(classic: TestClient, container: Container) -> None:
    client_id, secret = credential(container, "audit-trail")
    access = token(classic, client_id, secret, "service:audit-trail")
    bearer = {"Authorization": f"Bearer {access}"}

    got = classic.get("/audit-trail/api/v1/portal/type/auditlog", headers=bearer)
    assert got.status_code == 200, got.text
    entries = got.json()
    total = int(got.headers["x-total-count"])
    assert total == len(entries) >= 5  # init (2), a profile, a user, the credential
    actions = [e["action"] for e in entries]
    assert "user.create" in actions
    assert "profile.create" in actions
    assert "api_credential.create" in actions
    created = next(e for e in entries if e["objectId"] == client_id)
    assert created["user"] == "tests"
    assert created["source"] == "pytest"
    assert "client_secret" in created["fields"]
    assert secret not in got.text
    times = [e["time"] for e in entries]
    assert times == sorted(times)

    page = classic.get(
        "/audit-trail/api/v1/portal/type/auditlog",
        params={"offset": 2, "limit": 3},
        headers=bearer,
    )
    assert [e["id"] for e in page.json()] == [e["id"] for e in entries[2:5]]
    assert page.headers["x-total-count"] == str(total)

    future = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    assert (
        classic.get(
            "/audit-trail/api/v1/portal/type/auditlog", params={"from": future}, headers=bearer
        ).json()
        == []
    )
    past = classic.get(
        "/audit-trail/api/v1/portal/type/auditlog",
        params={"from": "2000-01-01", "to": future},
        headers=bearer,
    )
    assert len(past.json()) == total
    bad = classic.get(
        "/audit-trail/api/v1/portal/type/auditlog", params={"from": "yesterday"}, headers=bearer
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "from"
    backwards = classic.get(
        "/audit-trail/api/v1/portal/type/auditlog",
        params={"from": future, "to": "2000-01-01T00:00:00Z"},
        headers=bearer,
    )
    assert backwards.status_code == 422
    assert backwards.json()["errors"][0]["field"] == "from"

    # The audit-trail token opens the audit trail only.
    refused = classic.get("/api/configuration/v1/engines", headers=bearer)
    assert refused.status_code == 403
    assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]


def test_classic_scope_without_the_permission_is_invalid_scope(
    classic: TestClient, container: Container
) -> None:
    client_id, secret = credential(container, "nql")
    for scope in ("service:audit-trail", "service:engines", "service:remoteaction"):
        got = classic.post(
            TOKEN_URL,
            auth=(client_id, secret),
            data={"grant_type": "client_credentials", "scope": scope},
        )
        assert got.status_code == 400
        assert got.json()["error"] == "invalid_scope"


def test_nxql_and_engines_with_classic_tokens(classic: TestClient, container: Container) -> None:
    for name, status in (("engine-b", "DISCONNECTED"), ("engine-a", "CONNECTED")):
        container.engines.add(
            name, actor=ACTOR, address=f"{name}.example.test", port=443, status=status
        )
    client_id, secret = credential(container, "nql", "engines")
    nxql = {"Authorization": f"Bearer {token(classic, client_id, secret, 'service:nxql')}"}
    got = classic.get("/2/query", params={"query": QUERY, "p1": "16"}, headers=nxql)
    assert got.status_code == 200
    assert got.text.splitlines() == ["name,ram_gb", "alpha,16"]
    assert classic.get("/api/configuration/v1/engines", headers=nxql).status_code == 403

    engines = {"Authorization": f"Bearer {token(classic, client_id, secret, 'service:engines')}"}
    listed = classic.get("/api/configuration/v1/engines", headers=engines)
    assert listed.status_code == 200
    assert listed.json() == [
        {
            "name": name,
            "databaseUID": "",
            "machineID": "",
            "description": "",
            "status": status,
            "address": f"{name}.example.test",
            "port": 443,
            "timezone": "UTC",
            "version": "",
        }
        for name, status in (("engine-a", "CONNECTED"), ("engine-b", "DISCONNECTED"))
    ]

    # A deleted credential's token stops working.
    container.api_credentials.delete(client_id, actor=ACTOR)
    gone = classic.get("/api/configuration/v1/engines", headers=engines)
    assert gone.status_code == 401
    assert 'error="invalid_token"' in gone.headers["www-authenticate"]
    forged = classic.get("/2/query", headers={"Authorization": "Bearer not.a.token"})
    assert forged.status_code == 401


def test_engine_audit_logs(classic: TestClient, container: Container) -> None:
    container.engines.add("engine-a", actor=ACTOR)
    container.engines.add("engine-b", actor=ACTOR)
    container.engines.delete("engine-b", actor=ACTOR)
    auth = basic("finder")
    all_engines = classic.get("/audit-trail/api/v1/engines/type/auditlog", headers=auth).json()
    assert [(e["action"], e["objectId"]) for e in all_engines] == [
        ("engine.create", "engine-a"),
        ("engine.create", "engine-b"),
        ("engine.delete", "engine-b"),
    ]
    one = classic.get("/audit-trail/api/v1/engine/engine-b/type/auditlog", headers=auth).json()
    assert [e["action"] for e in one] == ["engine.create", "engine.delete"]
    none = classic.get("/audit-trail/api/v1/engine/nope/type/auditlog", headers=auth)
    assert none.status_code == 200
    assert none.json() == []
