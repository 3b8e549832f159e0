"""Connector credentials through the admin REST API, on SQLite and PostgreSQL: every rule of the
issue (the seed's examples included), the mask round-trip, the delete rule and the audit trail."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from credgate.connectors.credentials import MASK
from credgate.connectors.credentials.models import ConnectorCredentialSecret
from credgate.connectors.hostkeys import MD5_FINGERPRINT_MESSAGE
from credgate.container import Container
from credgate.core.audit.models import AuditEvent
from support.connector_data import (
    ALL_SECRETS,
    AUTHORIZATION_CODE,
    BASIC,
    BEARER,
    CLIENT_CREDENTIALS,
    CLIENT_SECRET,
    CODE_SECRET,
    EVERY_KIND,
    HOST_KEY,
    NO_AUTH,
    PASSWORD,
    SFTP,
    TOKEN,
)

BASE = "/admin/api/v1/connector-credentials"


def create(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(BASE, json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def fields_of(response: Any) -> set[str]:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "invalid_input"
    return {error["field"] for error in body["errors"]}


def count(container: Container) -> int:
    return container.connector_credentials.list().total


# -- the seed's examples ----------------------------------------------------------------------


SEED_INSTANCE_URLS = (
    "https://ven01063.service-now.com/",
    "https://serverName:8443/",
    "https://host.domain/",
    "https://tenant.ivanticloud.com/",
    "https://api.freshservice.com/",
    "https://api.4me.com/",
    "https://myco.atlassian.net/",
)
SEED_REFUSALS = (
    ({**NO_AUTH, "url": "http://api.4me.com/"}, "url", "https://"),
    ({**NO_AUTH, "url": "https://api.4me.com/v1/requests"}, "url", "path"),
    ({**SFTP, "url": "sftp://host/"}, "url", "port"),
    (
        {
            **SFTP,
            "authorization": {
                **SFTP["authorization"],
                "host_key": "da:47:93:b4:3a:90:5b:50:1f:20:a8:f9:b7:a1:d0:e1",
            },
        },
        "authorization.host_key",
        MD5_FINGERPRINT_MESSAGE[:20],
    ),
)


def test_seed_instance_urls_are_accepted(admin_client: TestClient) -> None:
    for number, url in enumerate(SEED_INSTANCE_URLS):
        created = create(admin_client, {**NO_AUTH, "name": f"tool {number}", "url": url})
        assert created["url"] == url.lower()


def test_seed_refusals_name_the_field(admin_client: TestClient, container: Container) -> None:
    for body, field, words in SEED_REFUSALS:
        response = admin_client.post(BASE, json=body)
        assert fields_of(response) == {field}, body["url"]
        message = response.json()["errors"][0]["message"]
        assert words.lower() in message.lower()
    assert count(container) == 0


# -- create, show, list ---------------------------------------------------------------------------


def test_every_kind_is_created_masked(admin_client: TestClient, container: Container) -> None:
    for body in EVERY_KIND:
        created = create(admin_client, body)
        assert created["name"] == body["name"]
        shown = admin_client.get(f"{BASE}/{created['id']}").json()
        assert shown == created
        for value in shown["authorization"].values():
            assert value not in ALL_SECRETS
    bearer = container.connector_credentials.find("Freshservice").as_dict()
    assert bearer["authorization"] == {"type": "BEARER", "token": MASK, "header_prefix": "Bearer"}
    sftp = container.connector_credentials.find("Exports").as_dict()
    assert sftp["authorization"]["type"] == "BASIC"
    assert sftp["authorization"]["password"] == MASK
    assert sftp["authorization"]["host_key"] == " ".join(HOST_KEY.split()[:2])
    assert "redirect_url" not in bearer


def test_authorization_code_shows_its_redirect_url(
    admin_client: TestClient, container: Container
) -> None:
    created = create(admin_client, AUTHORIZATION_CODE)
    expected = f"{container.settings.base_url}/oauth2/callback/{created['id']}"
    assert created["redirect_url"] == expected
    assert admin_client.get(f"{BASE}/{created['id']}").json()["redirect_url"] == expected


def test_metadata_and_last_test(admin_client: TestClient, container: Container) -> None:
    created = create(admin_client, BASIC)
    assert created["created_by"] == created["updated_by"] == "admin"
    assert created["last_test"] == {"at": None, "ok": None, "detail": ""}
    assert created["status"] == ""
    container.connector_credentials.record_test_result(created["id"], ok=False, detail="HTTP 401")
    container.connector_credentials.set_status(created["id"], "renewal failing: invalid_client")
    shown = admin_client.get(f"{BASE}/{created['id']}").json()
    assert shown["last_test"]["ok"] is False
    assert shown["last_test"]["detail"] == "HTTP 401"
    assert shown["last_test"]["at"] is not None
    assert shown["status"] == "renewal failing: invalid_client"


def test_every_problem_at_once_and_nothing_saved(
    admin_client: TestClient, container: Container
) -> None:
    response = admin_client.post(
        BASE,
        json={
            "name": "",
            "protocol": "HTTPS",
            "url": "http://x.example/",
            "authorization": {
                "type": "OAUTH2_CLIENT_CREDENTIALS",
                "client_secret": CLIENT_SECRET,
                "access_token_url": "http://login.example.com/token",
                "colour": "blue",
            },
            "extra": 1,
        },
    )
    assert fields_of(response) == {
        "name",
        "url",
        "extra",
        "authorization.client_id",
        "authorization.access_token_url",
        "authorization.colour",
    }
    assert CLIENT_SECRET not in response.text
    assert count(container) == 0


BAD_BODIES = (
    (b"{not json", "body"),
    (b"[1, 2]", "body"),
    (b'"text"', "body"),
    (json.dumps({**BASIC, "name": 42}).encode(), "name"),
    (json.dumps({**BASIC, "authorization": "BASIC"}).encode(), "authorization"),
    (
        json.dumps({**BASIC, "authorization": {"type": "BASIC", "username": ["a"]}}).encode(),
        "authorization.username",
    ),
    (json.dumps({**NO_AUTH, "protocol": 7}).encode(), "protocol"),
)


def test_bad_bodies_get_422_naming_the_field(
    admin_client: TestClient, container: Container
) -> None:
    created = create(admin_client, BASIC)
    for content, field in BAD_BODIES:
        for method, url in (("POST", BASE), ("PUT", f"{BASE}/{created['id']}")):
            response = admin_client.request(
                method, url, content=content, headers={"Content-Type": "application/json"}
            )
            assert field in fields_of(response), (method, content)
    assert count(container) == 1


def test_duplicate_name_is_a_conflict(admin_client: TestClient) -> None:
    create(admin_client, BASIC)
    response = admin_client.post(BASE, json={**NO_AUTH, "name": BASIC["name"]})
    assert response.status_code == 409
    assert response.json()["errors"] == [
        {"field": "name", "message": "a connector credential with this name already exists"}
    ]
    other = create(admin_client, NO_AUTH)
    renamed = admin_client.put(f"{BASE}/{other['id']}", json={**NO_AUTH, "name": BASIC["name"]})
    assert renamed.status_code == 409


def test_mask_is_refused_on_create(admin_client: TestClient, container: Container) -> None:
    for body in (BASIC, BEARER, CLIENT_CREDENTIALS, SFTP):
        secret_field = next(k for k, v in body["authorization"].items() if v in ALL_SECRETS)
        masked = {**body, "authorization": {**body["authorization"], secret_field: MASK}}
        response = admin_client.post(BASE, json=masked)
        assert fields_of(response) == {f"authorization.{secret_field}"}
    assert count(container) == 0
    with container.db.session() as session:
        assert session.scalars(select(ConnectorCredentialSecret)).all() == []


def test_list_counts_pages_and_filters(admin_client: TestClient) -> None:
    for body in EVERY_KIND:
        create(admin_client, body)
    everything = admin_client.get(BASE).json()
    assert everything["total"] == 6
    assert [item["name"] for item in everything["items"]] == sorted(b["name"] for b in EVERY_KIND)
    assert (everything["limit"], everything["next_cursor"], everything["next"]) == (50, None, None)
    # The older offset paging still answers its own shape.
    page = admin_client.get(BASE, params={"offset": 2, "limit": 2}).json()
    assert (page["total"], page["offset"], page["limit"]) == (6, 2, 2)
    assert [item["name"] for item in page["items"]] == everything_names(everything)[2:4]
    sftp = admin_client.get(BASE, params={"protocol": "SFTP"}).json()
    assert sftp["total"] == 1
    assert [item["name"] for item in sftp["items"]] == ["Exports"]
    assert admin_client.get(BASE, params={"protocol": "https"}).json()["total"] == 5
    bad = admin_client.get(BASE, params={"protocol": "FTP", "offset": -1})
    assert fields_of(bad) == {"protocol", "offset"}
    assert fields_of(admin_client.get(BASE, params={"protocol": "FTP", "limit": 0})) == {"limit"}
    assert fields_of(admin_client.get(BASE, params={"limit": "many"})) == {"limit"}
    # Found by the schemathesis run: an offset past a 64-bit integer reached SQLite as a 500.
    huge = admin_client.get(BASE, params={"offset": 2**63})
    assert huge.status_code == 422
    assert fields_of(huge) == {"offset"}


def everything_names(page: dict[str, Any]) -> list[str]:
    return [item["name"] for item in page["items"]]


def test_routes_answer_404_401_and_are_documented(admin_client: TestClient) -> None:
    for method in ("get", "delete"):
        response = getattr(admin_client, method)(f"{BASE}/no-such-id")
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"
    assert admin_client.put(f"{BASE}/no-such-id", json=BASIC).status_code == 404
    anonymous = {"Authorization": ""}
    assert admin_client.get(BASE, headers=anonymous).status_code == 401
    assert admin_client.post(BASE, json=BASIC, headers=anonymous).status_code == 401
    assert admin_client.get("/admin/api/v1/connectors", headers=anonymous).status_code == 401
    paths = admin_client.get("/openapi.json").json()["paths"]
    assert set(paths[BASE]) == {"get", "post"}
    assert set(paths[BASE + "/{credential_id}"]) == {"get", "put", "delete"}
    assert set(paths["/admin/api/v1/connectors/{connector_id}"]) == {"get", "delete"}


# -- update: the mask, type changes, run-time tokens -------------------------------------------


def test_mask_round_trip_keeps_every_secret(admin_client: TestClient, container: Container) -> None:
    originals = {}
    for body in (BASIC, BEARER, CLIENT_CREDENTIALS, AUTHORIZATION_CODE, SFTP):
        created = create(admin_client, body)
        originals[created["id"]] = container.connector_credentials.load_secrets(created["id"])
        shown = admin_client.get(f"{BASE}/{created['id']}").json()
        response = admin_client.put(f"{BASE}/{created['id']}", json=shown)
        assert response.status_code == 200, response.text
        assert response.json()["authorization"] == shown["authorization"]
        assert (
            container.connector_credentials.load_secrets(created["id"]) == originals[created["id"]]
        )
    with container.db.session() as session:
        updates = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "connector_credential.update")
        ).all()
    assert updates == []  # sending the same body back changes nothing
    assert dict(container.connector_credentials.load_secrets(next(iter(originals)))) == {
        "password": PASSWORD
    }


def test_new_secret_replaces_and_mask_never_stored(
    admin_client: TestClient, container: Container
) -> None:
    created = create(admin_client, BASIC)
    body = {**BASIC, "authorization": {**BASIC["authorization"], "password": "Pw-new-0001"}}
    assert admin_client.put(f"{BASE}/{created['id']}", json=body).status_code == 200
    assert dict(container.connector_credentials.load_secrets(created["id"])) == {
        "password": "Pw-new-0001"
    }
    # the mask where the URL changed: the stored password is not sent to a new host
    moved = {
        **BASIC,
        "url": "https://evil.example/",
        "authorization": {**BASIC["authorization"], "password": MASK},
    }
    response = admin_client.put(f"{BASE}/{created['id']}", json=moved)
    assert fields_of(response) == {"authorization.password"}
    assert container.connector_credentials.get(created["id"]).masked["url"] == BASIC["url"]
    for secrets in [container.connector_credentials.load_secrets(created["id"])]:
        assert MASK not in secrets.values()


def test_changing_the_type_drops_the_old_secrets(
    admin_client: TestClient, container: Container
) -> None:
    created = create(admin_client, BASIC)
    body = {**BASIC, "authorization": {"type": "BEARER", "token": TOKEN}}
    response = admin_client.put(f"{BASE}/{created['id']}", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["authorization"] == {
        "type": "BEARER",
        "token": MASK,
        "header_prefix": "Bearer",
    }
    assert dict(container.connector_credentials.load_secrets(created["id"])) == {"token": TOKEN}
    # a mask for the new type's secret is refused: the type changed
    back = {**BASIC, "authorization": {"type": "BASIC", "username": "svc", "password": MASK}}
    assert fields_of(admin_client.put(f"{BASE}/{created['id']}", json=back)) == {
        "authorization.password"
    }


def test_obtained_tokens_are_dropped_when_outdated(
    admin_client: TestClient, container: Container
) -> None:
    service = container.connector_credentials
    created = create(admin_client, AUTHORIZATION_CODE)
    service.save_obtained_secret(created["id"], "access_token", "At-111")
    service.save_obtained_secret(created["id"], "refresh_token", "Rt-222")
    service.save_obtained_secret(created["id"], "refresh_token", "Rt-333")  # rotated by provider
    assert dict(service.load_secrets(created["id"])) == {
        "client_secret": CODE_SECRET,
        "access_token": "At-111",
        "refresh_token": "Rt-333",
    }
    with pytest.raises(ValueError, match="not a run-time secret"):
        service.save_obtained_secret(created["id"], "password", "x")
    shown = admin_client.get(f"{BASE}/{created['id']}").json()
    renamed = admin_client.put(f"{BASE}/{created['id']}", json={**shown, "name": "4me prod"})
    assert renamed.status_code == 200
    assert set(service.load_secrets(created["id"])) == {
        "client_secret",
        "access_token",
        "refresh_token",
    }
    shown["authorization"]["scope"] = "read"
    rescoped = admin_client.put(f"{BASE}/{created['id']}", json=shown)
    assert rescoped.status_code == 200
    assert rescoped.json()["status"] == "reconnect needed"
    assert dict(service.load_secrets(created["id"])) == {"client_secret": CODE_SECRET}
    service.save_obtained_secret(created["id"], "access_token", "At-444")
    service.clear_obtained_secrets(created["id"])
    assert set(service.load_secrets(created["id"])) == {"client_secret"}


def test_get_body_with_a_foreign_id_is_refused(admin_client: TestClient) -> None:
    one = create(admin_client, BASIC)
    two = create(admin_client, NO_AUTH)
    shown = admin_client.get(f"{BASE}/{one['id']}").json()
    # every problem at once: the id, and the mask that cannot stand for another record's secret
    assert fields_of(admin_client.put(f"{BASE}/{two['id']}", json=shown)) == {
        "id",
        "authorization.password",
    }
    shown["url"] = "http://ven01063.service-now.com/"
    assert fields_of(admin_client.put(f"{BASE}/{two['id']}", json=shown)) == {
        "id",
        "url",
        "authorization.password",
    }


# -- delete and connectors ---------------------------------------------------------------------


def test_delete_leaves_connectors_readable(admin_client: TestClient, container: Container) -> None:
    created = create(admin_client, CLIENT_CREDENTIALS)
    hook = admin_client.post(
        "/admin/api/v1/connectors",
        json={"name": "Incidents", "kind": "webhook", "credential_id": created["id"]},
    )
    assert hook.status_code == 201, hook.text
    assert hook.json()["state"] == "ok"
    assert hook.json()["credential_name"] == "Jira"
    hook_id = hook.json()["id"]
    assert admin_client.delete(f"{BASE}/{created['id']}").status_code == 204
    assert admin_client.get(f"{BASE}/{created['id']}").status_code == 404
    shown = admin_client.get(f"/admin/api/v1/connectors/{hook_id}")
    assert shown.status_code == 200
    assert shown.json()["state"] == "credential missing"
    assert shown.json()["credential_id"] is None
    listed = admin_client.get("/admin/api/v1/connectors").json()
    assert listed["total"] == 1
    assert listed["items"][0]["state"] == "credential missing"
    with container.db.session() as session:
        assert session.scalars(select(ConnectorCredentialSecret)).all() == []
    assert admin_client.delete(f"/admin/api/v1/connectors/{hook_id}").status_code == 204
    assert admin_client.get(f"/admin/api/v1/connectors/{hook_id}").status_code == 404


def test_connector_input_is_checked(admin_client: TestClient) -> None:
    response = admin_client.post(
        "/admin/api/v1/connectors",
        json={"name": "x", "kind": "carrier-pigeon", "credential_id": "nope", "colour": 1},
    )
    assert fields_of(response) == {"kind", "colour"}
    response = admin_client.post(
        "/admin/api/v1/connectors", json={"name": "x", "kind": "exporter", "credential_id": "nope"}
    )
    assert fields_of(response) == {"credential_id"}


# -- audit, logs and answers never hold a secret -----------------------------------------------


def test_audit_names_fields_never_values(admin_client: TestClient, container: Container) -> None:
    created = create(admin_client, BASIC)
    body = {
        **BASIC,
        "url": "https://ven01063.service-now.com:8443/",
        "authorization": {**BASIC["authorization"], "password": "Pw-new-0002"},
    }
    assert admin_client.put(f"{BASE}/{created['id']}", json=body).status_code == 200
    assert admin_client.delete(f"{BASE}/{created['id']}").status_code == 204
    with container.db.session() as session:
        events = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.object_type == "connector_credential")
            .order_by(AuditEvent.id)
        ).all()
        rows = [(e.action, e.actor, e.object_id, list(e.fields)) for e in events]
        dumped = json.dumps(
            [[str(getattr(e, c)) for c in ("actor", "source", "fields")] for e in events]
        )
    assert rows == [
        (
            "connector_credential.create",
            "admin",
            created["id"],
            sorted(
                [
                    "name",
                    "protocol",
                    "url",
                    "authorization.type",
                    "authorization.username",
                    "authorization.password",
                ]
            ),
        ),
        (
            "connector_credential.update",
            "admin",
            created["id"],
            ["authorization.password", "url"],
        ),
        ("connector_credential.delete", "admin", created["id"], []),
    ]
    assert PASSWORD not in dumped
    assert "Pw-new-0002" not in dumped


def test_no_secret_in_answers_or_logs(
    admin_client: TestClient, container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    for body in EVERY_KIND:
        response = admin_client.post(BASE, json=body)
        seen.append(response.text)
        credential_id = response.json()["id"]
        seen.append(admin_client.get(f"{BASE}/{credential_id}").text)
        seen.append(admin_client.put(f"{BASE}/{credential_id}", json=body).text)
        bad = {**body, "url": "ftp://nowhere/"}
        seen.append(admin_client.put(f"{BASE}/{credential_id}", json=bad).text)
        seen.append(admin_client.post(BASE, json=body).text)  # the 409
        seen.append(repr(container.connector_credentials.load(credential_id)))
        seen.append(repr(container.connector_credentials.load_secrets(credential_id)))
    seen.append(admin_client.get(BASE).text)
    everything = "\n".join(seen) + caplog.text
    for secret in ALL_SECRETS:
        assert secret not in everything
