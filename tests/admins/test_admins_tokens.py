"""Admin API tokens: lifetimes, listing, revocation, last use, and who may mint them.

Through the admin REST API against a real database (SQLite and PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, select, update
from starlette.testclient import TestClient

from credgate.admins.models import AdminToken
from credgate.container import Container
from credgate.core.audit.services import Actor
from credgate.core.config import Settings
from credgate.core.db import utcnow
from support import ADMIN_PASSWORD, node_client

API = "/admin/api/v1"
#: Any request that needs an administrator (one that older versions have too).
PROBE = f"{API}/signing-keys"
ACTOR = Actor("tests", "pytest")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sign_in(client: TestClient, username: str = "admin", password: str = ADMIN_PASSWORD) -> str:
    """A REST session (cookie kept by the client); returns its CSRF token."""
    answer = client.post(f"{API}/session", json={"username": username, "password": password})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["csrf_token"])


def stored(container: Container, token_id: int) -> AdminToken:
    with container.db.session() as session:
        row = session.get(AdminToken, token_id)
        assert row is not None
        session.expunge(row)
        return row


def test_tokens_get_the_default_lifetime_and_no_more_than_the_maximum(
    client: TestClient, container: Container
) -> None:
    csrf = {"X-CSRF-Token": sign_in(client)}

    def create(**body: Any) -> Any:
        return client.post(
            f"{API}/admin-tokens", json={**body, "password": ADMIN_PASSWORD}, headers=csrf
        )

    before = utcnow()
    made = create(name="ci")
    assert made.status_code == 201, made.text
    body = made.json()
    expires = dt.datetime.fromisoformat(body["expires_at"])
    assert before + dt.timedelta(days=30) <= expires <= utcnow() + dt.timedelta(days=30)
    assert stored(container, body["id"]).expires_at == expires
    assert made.headers["cache-control"] == "no-store"

    week = create(name="week", expires_in=7 * 86400)
    assert week.status_code == 201
    assert dt.datetime.fromisoformat(week.json()["expires_at"]) <= utcnow() + dt.timedelta(days=7)
    year = create(name="year", expires_in=365 * 86400)
    assert year.status_code == 201

    too_long = create(name="long", expires_in=366 * 86400)
    assert too_long.status_code == 422
    assert [e["field"] for e in too_long.json()["errors"]] == ["expires_in"]
    assert "365 days" in too_long.json()["message"]


def test_the_cli_may_issue_up_to_the_maximum_but_not_beyond(container: Container) -> None:
    year = container.admins.issue_token("admin", "yearly", actor=ACTOR, ttl=dt.timedelta(days=365))
    assert year.expires_at - year.created_at == dt.timedelta(days=365)
    with pytest.raises(Exception, match="expires_in: must be at most 365 days"):
        container.admins.issue_token("admin", "longer", actor=ACTOR, ttl=dt.timedelta(days=366))
    with pytest.raises(Exception, match="expires_in: must be at least one minute"):
        container.admins.issue_token("admin", "shorter", actor=ACTOR, ttl=dt.timedelta(seconds=5))


@pytest.mark.parametrize(
    "settings_overrides", [{"admin_token_default_days": 2, "admin_token_max_days": 3}]
)
def test_lifetimes_follow_the_settings(admin_client: TestClient, admin_token: str) -> None:
    listed = admin_client.get(f"{API}/admin-tokens").json()["items"]
    [own] = listed
    lifetime = dt.datetime.fromisoformat(own["expires_at"]) - dt.datetime.fromisoformat(
        own["created_at"]
    )
    assert lifetime == dt.timedelta(days=2)
    refused = admin_client.post(
        f"{API}/admin-tokens", json={"name": "four", "expires_in": 4 * 86400}
    )
    assert refused.status_code == 422
    assert "3 days" in refused.json()["message"]


def test_an_expired_token_is_refused(
    admin_client: TestClient, admin_token: str, container: Container
) -> None:
    assert admin_client.get(PROBE).status_code == 200
    with container.db.session() as session:
        session.execute(update(AdminToken).values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    refused = admin_client.get(PROBE)
    assert refused.status_code == 401
    assert refused.json()["error"] == "unauthenticated"
    assert admin_token not in refused.text
    # It is listed as expired (the CLI sees it; the token itself can no longer ask).
    [row] = container.admins.list_tokens("admin")
    assert row.expired


def test_the_list_shows_name_times_and_expiry_never_the_secret(
    admin_client: TestClient, admin_token: str, container: Container
) -> None:
    other = container.admins.issue_token("admin", "deploy", actor=ACTOR)
    listed = admin_client.get(f"{API}/admin-tokens")
    assert listed.status_code == 200
    items = listed.json()["items"]
    assert [i["name"] for i in items] == ["deploy", "tests"]  # newest first
    assert set(items[0]) == {
        "id",
        "admin",
        "name",
        "created_at",
        "last_used_at",
        "expires_at",
        "expired",
    }
    mine = items[1]
    assert mine["last_used_at"] is not None  # this very request used it
    assert items[0]["last_used_at"] is None
    assert mine["expired"] is False
    hashes = [stored(container, i["id"]).token_hash for i in items]
    for secret in (admin_token, other.token, *hashes):
        assert secret not in listed.text
    assert other.token not in repr(other)


def test_last_use_is_written_at_most_once_a_minute(
    admin_client: TestClient, admin_token: str, container: Container
) -> None:
    writes: list[str] = []

    def watch(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE ADMIN_TOKENS"):
            writes.append(statement)

    event.listen(container.db.engine, "before_cursor_execute", watch)
    try:
        for _ in range(5):
            assert admin_client.get(PROBE).status_code == 200
        assert len(writes) == 1
        first_use = container.admins.list_tokens("admin")[0].last_used_at
        assert first_use is not None

        with container.db.session() as session:
            session.execute(
                update(AdminToken).values(last_used_at=utcnow() - dt.timedelta(seconds=61))
            )
        writes.clear()
        for _ in range(3):
            assert admin_client.get(PROBE).status_code == 200
        assert len(writes) == 1
        later = container.admins.list_tokens("admin")[0].last_used_at
        assert later is not None
        assert later >= first_use
    finally:
        event.remove(container.db.engine, "before_cursor_execute", watch)


@pytest.fixture
def second_node(settings: Settings, container: Container) -> Iterator[TestClient]:
    """Another credgate node on the same database."""
    with node_client(Container.open(settings)) as client:
        yield client


def test_revoking_is_immediate_on_every_node(
    admin_client: TestClient, container: Container, second_node: TestClient
) -> None:
    victim = container.admins.issue_token("admin", "leaked", actor=ACTOR)
    assert admin_client.get(PROBE, headers=bearer(victim.token)).status_code == 200
    assert second_node.get(PROBE, headers=bearer(victim.token)).status_code == 200

    revoked = admin_client.delete(f"{API}/admin-tokens/{victim.id}")
    assert revoked.status_code == 204
    assert admin_client.get(PROBE, headers=bearer(victim.token)).status_code == 401
    assert second_node.get(PROBE, headers=bearer(victim.token)).status_code == 401
    assert admin_client.delete(f"{API}/admin-tokens/{victim.id}").status_code == 404
    assert [t.name for t in container.admins.list_tokens("admin")] == ["tests"]


def test_a_session_needs_the_password_to_mint_a_token(client: TestClient) -> None:
    csrf = {"X-CSRF-Token": sign_in(client)}
    old_path = client.post(f"{API}/tokens", json={"name": "from-session"}, headers=csrf)
    assert old_path.status_code == 422  # the old path follows the same rule
    assert [e["field"] for e in old_path.json()["errors"]] == ["password"]
    missing = client.post(f"{API}/admin-tokens", json={"name": "from-session"}, headers=csrf)
    assert missing.status_code == 422
    assert [e["field"] for e in missing.json()["errors"]] == ["password"]

    wrong = client.post(
        f"{API}/admin-tokens",
        json={"name": "from-session", "password": "not the password at all"},
        headers=csrf,
    )
    assert wrong.status_code == 422
    assert [e["field"] for e in wrong.json()["errors"]] == ["password"]
    assert "not the password at all" not in wrong.text

    made = client.post(
        f"{API}/admin-tokens",
        json={"name": "from-session", "password": ADMIN_PASSWORD, "expires_in": 3600},
        headers=csrf,
    )
    assert made.status_code == 201, made.text
    assert ADMIN_PASSWORD not in made.text
    token = made.json()["token"]
    assert client.get(PROBE, headers=bearer(token)).status_code == 200


@pytest.mark.parametrize(
    "settings_overrides", [{"auth_failure_limit": 3, "auth_failure_slowdown_after": 10}]
)
def test_wrong_confirmation_passwords_are_throttled(client: TestClient) -> None:
    csrf = {"X-CSRF-Token": sign_in(client)}

    def attempt(password: str) -> Any:
        body = {"name": "guess", "password": password}
        return client.post(f"{API}/admin-tokens", json=body, headers=csrf)

    assert [attempt(f"guess number {n}").status_code for n in range(3)] == [422, 422, 429]
    locked = attempt(ADMIN_PASSWORD)  # even the right one waits out the lock-out
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) > 0


def test_a_token_cannot_mint_one_that_outlives_it(client: TestClient, container: Container) -> None:
    parent = container.admins.issue_token("admin", "parent", actor=ACTOR, ttl=dt.timedelta(days=1))
    longer = client.post(
        f"{API}/admin-tokens",
        json={"name": "child", "expires_in": 2 * 86400},
        headers=bearer(parent.token),
    )
    assert longer.status_code == 422
    assert [e["field"] for e in longer.json()["errors"]] == ["expires_in"]
    child = client.post(f"{API}/admin-tokens", json={"name": "child"}, headers=bearer(parent.token))
    assert child.status_code == 201
    assert dt.datetime.fromisoformat(child.json()["expires_at"]) == parent.expires_at
    shorter = client.post(
        f"{API}/admin-tokens",
        json={"name": "hourly", "expires_in": 3600},
        headers=bearer(parent.token),
    )
    assert shorter.status_code == 201


def test_names_are_unique_per_administrator(admin_client: TestClient, container: Container) -> None:
    assert admin_client.post(f"{API}/admin-tokens", json={"name": "deploy"}).status_code == 201
    again = admin_client.post(f"{API}/admin-tokens", json={"name": "deploy"})
    assert again.status_code == 409
    assert [e["field"] for e in again.json()["errors"]] == ["name"]
    container.admins.create("bob", "bob's long password", actor=ACTOR)
    assert container.admins.issue_token("bob", "deploy", actor=ACTOR).name == "deploy"
    everyone = admin_client.get(f"{API}/admin-tokens", params={"admin": "*"}).json()["items"]
    assert sorted((i["admin"], i["name"]) for i in everyone) == [
        ("admin", "deploy"),
        ("admin", "tests"),
        ("bob", "deploy"),
    ]
    bobs = admin_client.get(f"{API}/admin-tokens", params={"admin": "bob"}).json()["items"]
    assert [i["name"] for i in bobs] == ["deploy"]
    assert admin_client.get(f"{API}/admin-tokens", params={"admin": "nobody"}).status_code == 404


def test_bad_token_requests_get_clear_errors(admin_client: TestClient) -> None:
    for body, field in (
        ({"name": ""}, "name"),
        ({"name": "x", "expires_in": 10}, "expires_in"),
        ({"name": "x", "expires_in": "soon"}, "expires_in"),
        ({"name": "x", "colour": "red"}, "colour"),
    ):
        answer = admin_client.post(f"{API}/admin-tokens", json=body)
        assert answer.status_code == 422, body
        assert field in [e["field"] for e in answer.json()["errors"]]
    assert admin_client.delete(f"{API}/admin-tokens/0").status_code == 422
    assert admin_client.delete(f"{API}/admin-tokens/abc").status_code == 422
    assert admin_client.delete(f"{API}/admin-tokens/99999").status_code == 404


def test_only_the_keyed_hash_is_stored(admin_token: str, container: Container) -> None:
    with container.db.session() as session:
        row = session.scalars(select(AdminToken)).one()
        assert row.token_hash != admin_token
        assert admin_token not in repr(row)
        assert row.token_hash == container.hasher.hash(admin_token)
