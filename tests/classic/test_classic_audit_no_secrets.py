"""Every administrative action leaves an audit entry, and no entry holds a secret.

Drives each administrative change through the admin REST API, remembers every secret it
created or sent (client secrets, admin API tokens, passwords), then scans the audit table and the
audit-trail API's answers for each of them.
"""

from __future__ import annotations

import json

from sqlalchemy import select
from starlette.testclient import TestClient
from support_classic import basic, credential, token

from credgate.container import Container
from credgate.core.audit.models import AuditEvent
from support import ADMIN_PASSWORD

USER_PASSWORD = "user password never logged 42"


def test_administrative_actions_are_audited_without_secrets(
    admin_client: TestClient, admin_token: str, container: Container
) -> None:
    secrets = {ADMIN_PASSWORD, admin_token, USER_PASSWORD}
    api = "/admin/api/v1"

    created = admin_client.post(
        f"{api}/api-credentials", json={"name": "audited", "permissions": ["nql"]}
    ).json()
    client_id = created["client_id"]
    secrets.add(created["client_secret"])
    assert admin_client.patch(
        f"{api}/api-credentials/{client_id}", json={"permissions": ["nql", "audit-trail"]}
    ).is_success
    regenerated = admin_client.post(f"{api}/api-credentials/{client_id}/regenerate", json={})
    secrets.add(regenerated.json()["client_secret"])
    issued = admin_client.post(f"{api}/tokens", json={"name": "second"}).json()
    secrets.add(issued["token"])
    assert admin_client.post(f"{api}/signing-keys/rotate").is_success
    for profile in ("finders", "spare"):
        assert admin_client.post(
            f"{api}/profiles",
            json={"name": profile, "data_privacy": "none", "finder_access": True},
        ).is_success
    assert admin_client.delete(f"{api}/profiles/spare").status_code == 204
    for username in ("alice", "bob"):
        assert admin_client.post(
            f"{api}/users",
            json={"username": username, "password": USER_PASSWORD, "profile": "finders"},
        ).is_success
    assert admin_client.delete(f"{api}/users/bob").status_code == 204
    assert admin_client.post(
        f"{api}/engines", json={"name": "engine-1", "address": "10.0.0.1"}
    ).is_success
    assert admin_client.post(f"{api}/engines", json={"name": "engine-2"}).is_success
    assert admin_client.delete(f"{api}/engines/engine-2").status_code == 204

    # A second credential, created and deleted, and its token used on the audit trail.
    other_id, other_secret = credential(container, "audit-trail")
    secrets.add(other_secret)
    access = token(admin_client, other_id, other_secret, "service:audit-trail")
    secrets.add(access)
    assert admin_client.delete(f"{api}/api-credentials/{other_id}").status_code == 204

    with container.db.session() as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        rows = [
            (e.action, e.object_type, e.object_id, e.actor, e.source, list(e.fields))
            for e in events
        ]
    actions = {row[0] for row in rows}
    assert {
        "signing_key.create",
        "admin.create",
        "admin_token.create",
        "api_credential.create",
        "api_credential.update",
        "api_credential.regenerate",
        "api_credential.delete",
        "signing_key.rotate",
        "profile.create",
        "profile.delete",
        "user.create",
        "user.delete",
        "engine.create",
        "engine.delete",
    } <= actions
    by_admin = [row for row in rows if row[3] == "admin"]
    assert by_admin, rows
    assert all(row[4] == "testclient" or row[4].startswith("127.") for row in by_admin), by_admin

    dumped = json.dumps(rows)
    portal = admin_client.get(
        "/audit-trail/api/v1/portal/type/auditlog",
        params={"limit": 1000},
        headers=basic("alice", USER_PASSWORD),
    )
    assert portal.status_code == 200
    assert len(portal.json()) == len(rows)
    listed = admin_client.get(f"{api}/audit-events", params={"limit": 1000}).text
    for secret in secrets:
        assert secret not in dumped
        assert secret not in portal.text
        assert secret not in listed
