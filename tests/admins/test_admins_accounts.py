"""Administrator accounts: disabling, changing and resetting passwords, and the audit trail.

Through the admin REST API against a real database (SQLite and PostgreSQL).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from credgate.admins.models import AdminSession
from credgate.app import CredgateApp
from credgate.container import Container
from credgate.core.audit.models import AuditEvent
from credgate.core.audit.services import Actor
from credgate.core.errors import ConflictError
from support import ADMIN_PASSWORD

API = "/admin/api/v1"
#: Any request that needs an administrator (one that older versions have too).
PROBE = f"{API}/signing-keys"
ACTOR = Actor("tests", "pytest")
BOB_PASSWORD = "bob's own long password"
NEW_PASSWORD = "a brand new password for bob"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@contextlib.contextmanager
def browser(app: CredgateApp) -> Iterator[TestClient]:
    """Another browser on the same server: its own cookie jar (the server is already running)."""
    client = TestClient(app, base_url="http://127.0.0.1:8080")
    try:
        yield client
    finally:
        client.close()


def sign_in(client: TestClient, username: str, password: str) -> Any:
    return client.post(f"{API}/session", json={"username": username, "password": password})


def csrf_of(client: TestClient, username: str, password: str) -> dict[str, str]:
    answer = sign_in(client, username, password)
    assert answer.status_code == 200, answer.text
    return {"X-CSRF-Token": answer.json()["csrf_token"]}


def sessions_of(container: Container, admin_id: int) -> int:
    with container.db.session() as session:
        return len(
            session.scalars(select(AdminSession).where(AdminSession.admin_id == admin_id)).all()
        )


@pytest.fixture
def bob(container: Container) -> int:
    return container.admins.create("bob", BOB_PASSWORD, actor=ACTOR).id


def test_disabling_stops_sign_in_sessions_and_tokens(
    app: CredgateApp, admin_client: TestClient, container: Container, bob: int
) -> None:
    bob_token = container.admins.issue_token("bob", "scripts", actor=ACTOR).token
    with browser(app) as bobs_browser:
        csrf_of(bobs_browser, "bob", BOB_PASSWORD)
        assert bobs_browser.get(PROBE).status_code == 200
        assert admin_client.get(PROBE, headers=bearer(bob_token)).status_code == 200

        disabled = admin_client.patch(f"{API}/admins/bob", json={"disabled": True})
        assert disabled.status_code == 200
        assert disabled.json()["disabled"] is True
        assert bobs_browser.get(PROBE).status_code == 401
        assert admin_client.get(PROBE, headers=bearer(bob_token)).status_code == 401
        assert sign_in(bobs_browser, "bob", BOB_PASSWORD).status_code == 401
        assert sessions_of(container, bob) == 0

        listed = admin_client.get(f"{API}/admins").json()["items"]
        assert [(a["username"], a["disabled"]) for a in listed] == [
            ("admin", False),
            ("bob", True),
        ]

        enabled = admin_client.patch(f"{API}/admins/bob", json={"disabled": False})
        assert enabled.json()["disabled"] is False
        assert admin_client.get(PROBE, headers=bearer(bob_token)).status_code == 200
        assert bobs_browser.get(PROBE).status_code == 401  # that session ended
        assert sign_in(bobs_browser, "bob", BOB_PASSWORD).status_code == 200


def test_the_last_active_administrator_cannot_be_disabled(
    admin_client: TestClient, container: Container, bob: int
) -> None:
    assert admin_client.patch(f"{API}/admins/bob", json={"disabled": True}).status_code == 200
    last = admin_client.patch(f"{API}/admins/admin", json={"disabled": True})
    assert last.status_code == 409
    assert [e["field"] for e in last.json()["errors"]] == ["disabled"]
    assert admin_client.get(PROBE).status_code == 200  # still active
    assert admin_client.patch(f"{API}/admins/nobody", json={"disabled": True}).status_code == 404
    bad = admin_client.patch(f"{API}/admins/bob", json={"disabled": "maybe"})
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["disabled"]


def test_two_administrators_disabling_each_other_at_once_leave_one_active(
    container: Container, bob: int
) -> None:
    for _ in range(5):
        barrier = threading.Barrier(2)
        outcomes: list[str] = []

        def disable(
            username: str, barrier: threading.Barrier = barrier, outcomes: list[str] = outcomes
        ) -> None:
            barrier.wait()
            try:
                container.admins.set_disabled(username, True, actor=ACTOR)
                outcomes.append("disabled")
            except ConflictError:
                outcomes.append("refused")

        threads = [threading.Thread(target=disable, args=(u,)) for u in ("admin", "bob")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes) == ["disabled", "refused"]
        assert [a.username for a in container.admins.list_admins() if not a.disabled] != []
        for username in ("admin", "bob"):
            container.admins.set_disabled(username, False, actor=ACTOR)


def test_changing_a_password_needs_the_current_one_and_ends_other_sessions(
    app: CredgateApp, container: Container, bob: int
) -> None:
    with browser(app) as laptop, browser(app) as phone:
        csrf = csrf_of(laptop, "bob", BOB_PASSWORD)
        csrf_of(phone, "bob", BOB_PASSWORD)
        url = f"{API}/me/password"

        wrong = laptop.put(
            url,
            json={"current_password": "not bob's password", "new_password": NEW_PASSWORD},
            headers=csrf,
        )
        assert wrong.status_code == 422
        assert [e["field"] for e in wrong.json()["errors"]] == ["current_password"]
        missing = laptop.put(url, json={"new_password": NEW_PASSWORD}, headers=csrf)
        assert missing.status_code == 422
        short = laptop.put(
            url, json={"current_password": BOB_PASSWORD, "new_password": "short"}, headers=csrf
        )
        assert short.status_code == 422
        assert [e["field"] for e in short.json()["errors"]] == ["new_password"]
        assert "short" not in short.json()["message"].replace("shorter", "")
        assert phone.get(PROBE).status_code == 200  # nothing changed yet

        changed = laptop.put(
            url,
            json={"current_password": BOB_PASSWORD, "new_password": NEW_PASSWORD},
            headers=csrf,
        )
        assert changed.status_code == 204
        assert laptop.get(PROBE).status_code == 200  # this session stays
        assert phone.get(PROBE).status_code == 401  # the other one ended
        assert sessions_of(container, bob) == 1
        assert sign_in(phone, "bob", BOB_PASSWORD).status_code == 401
        assert sign_in(phone, "bob", NEW_PASSWORD).status_code == 200


def test_reset_by_another_administrator(
    app: CredgateApp, admin_client: TestClient, container: Container, bob: int
) -> None:
    with browser(app) as bobs_browser, browser(app) as admins_browser:
        csrf_of(bobs_browser, "bob", BOB_PASSWORD)
        reset = admin_client.post(f"{API}/admins/bob/reset-password", json={})
        assert reset.status_code == 200, reset.text
        assert reset.headers["cache-control"] == "no-store"
        generated = reset.json()["password"]
        assert len(generated) >= 20
        assert bobs_browser.get(PROBE).status_code == 401  # every session ended
        assert sign_in(bobs_browser, "bob", BOB_PASSWORD).status_code == 401
        assert sign_in(bobs_browser, "bob", generated).status_code == 200

        # From a session, the resetting administrator's own password is needed.
        csrf = csrf_of(admins_browser, "admin", ADMIN_PASSWORD)
        without = admins_browser.post(f"{API}/admins/bob/reset-password", json={}, headers=csrf)
        assert without.status_code == 422
        assert [e["field"] for e in without.json()["errors"]] == ["password"]
        wrong = admins_browser.post(
            f"{API}/admins/bob/reset-password", json={"password": BOB_PASSWORD}, headers=csrf
        )
        assert wrong.status_code == 422
        confirmed = admins_browser.post(
            f"{API}/admins/bob/reset-password", json={"password": ADMIN_PASSWORD}, headers=csrf
        )
        assert confirmed.status_code == 200
        assert confirmed.json()["password"] != generated

        own = admin_client.post(f"{API}/admins/admin/reset-password", json={})
        assert own.status_code == 422
        assert [e["field"] for e in own.json()["errors"]] == ["username"]
        assert admin_client.post(f"{API}/admins/nobody/reset-password", json={}).status_code == 404


def test_account_changes_are_audited_without_secrets(
    admin_client: TestClient, admin_token: str, container: Container, bob: int
) -> None:
    secrets = {ADMIN_PASSWORD, BOB_PASSWORD, NEW_PASSWORD, admin_token}
    made = admin_client.post(f"{API}/admin-tokens", json={"name": "audited"}).json()
    secrets.add(made["token"])
    assert admin_client.delete(f"{API}/admin-tokens/{made['id']}").status_code == 204
    assert admin_client.patch(f"{API}/admins/bob", json={"disabled": True}).is_success
    assert admin_client.patch(f"{API}/admins/bob", json={"disabled": False}).is_success
    reset = admin_client.post(f"{API}/admins/bob/reset-password", json={}).json()
    secrets.add(reset["password"])
    bobs = container.admins.issue_token("bob", "bob", actor=ACTOR).token
    secrets.add(bobs)
    changed = admin_client.put(
        f"{API}/me/password",
        json={"current_password": reset["password"], "new_password": NEW_PASSWORD},
        headers=bearer(bobs),
    )
    assert changed.status_code == 204

    with container.db.session() as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        rows = [
            (e.action, e.object_type, e.object_id, e.actor, e.source, list(e.fields))
            for e in events
        ]
    by_action = {row[0]: row for row in rows}
    created = [row[2] for row in rows if row[0] == "admin_token.create"]
    assert str(made["id"]) in created
    assert len(set(created)) == len(created)  # a revoked token's id is never given again
    assert by_action["admin_token.revoke"][:4] == (
        "admin_token.revoke",
        "admin_token",
        str(made["id"]),
        "admin",
    )
    assert by_action["admin.disable"][:3] == ("admin.disable", "admin", "bob")
    assert by_action["admin.enable"][:3] == ("admin.enable", "admin", "bob")
    assert by_action["admin.password_reset"][2:4] == ("bob", "admin")
    assert by_action["admin.password_change"][2:4] == ("bob", "bob")
    assert by_action["admin.password_change"][5] == ["password"]
    text = repr(rows)
    for secret in secrets:
        assert secret not in text
    trail = admin_client.get(f"{API}/audit-events").text
    for secret in secrets:
        assert secret not in trail
