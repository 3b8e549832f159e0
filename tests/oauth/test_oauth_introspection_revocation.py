"""RFC 7662 introspection and RFC 7009 revocation, authenticated with the client's credentials."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from credgate.container import Container
from credgate.core.audit.services import Actor

ACTOR = Actor("tests", "pytest")


@pytest.fixture
def two_clients(container: Container) -> list[tuple[str, str]]:
    out = []
    for name in ("first", "second"):
        created = container.api_credentials.create(name=name, permissions=["nql"], actor=ACTOR)
        out.append((created.credential.client_id, created.client_secret))
    return out


def token_for(client: TestClient, cred: tuple[str, str]) -> str:
    response = client.post("/api/v1/token", auth=cred)
    assert response.status_code == 200
    return str(response.json()["access_token"])


def test_introspection_of_own_token(client: TestClient, two_clients: list[tuple[str, str]]) -> None:
    first, _ = two_clients
    token = token_for(client, first)
    body = client.post("/oauth2/default/v1/introspect", auth=first, data={"token": token}).json()
    assert body["active"] is True
    assert body["client_id"] == first[0]
    assert body["scope"] == "nql"
    assert body["exp"] - body["iat"] == 900


def test_introspection_of_another_clients_token_is_inactive(
    client: TestClient, two_clients: list[tuple[str, str]]
) -> None:
    first, second = two_clients
    token = token_for(client, first)
    assert client.post(
        "/oauth2/default/v1/introspect", auth=second, data={"token": token}
    ).json() == {"active": False}


def test_introspection_of_garbage_is_inactive_and_needs_client_auth(
    client: TestClient, two_clients: list[tuple[str, str]]
) -> None:
    first, _ = two_clients
    assert client.post(
        "/oauth2/default/v1/introspect", auth=first, data={"token": "not.a.jwt"}
    ).json() == {"active": False}
    unauthenticated = client.post("/oauth2/default/v1/introspect", data={"token": "x"})
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["error"] == "invalid_client"
    missing = client.post(
        "/oauth2/default/v1/introspect", auth=first, data={"token_type_hint": "access_token"}
    )
    assert missing.status_code == 400
    assert missing.json()["error"] == "invalid_request"


def test_revocation_makes_the_token_inactive(
    client: TestClient, two_clients: list[tuple[str, str]], container: Container
) -> None:
    first, second = two_clients
    token = token_for(client, first)
    refused = client.post("/oauth2/default/v1/revoke", auth=second, data={"token": token})
    assert refused.status_code == 400
    assert refused.json()["error"] == "unauthorized_client"
    assert (
        client.post("/oauth2/default/v1/introspect", auth=first, data={"token": token}).json()[
            "active"
        ]
        is True
    )

    revoked = client.post(
        "/oauth2/default/v1/revoke",
        auth=first,
        data={"token": token, "token_type_hint": "access_token"},
    )
    assert revoked.status_code == 200
    assert client.post(
        "/oauth2/default/v1/introspect", auth=first, data={"token": token}
    ).json() == {"active": False}
    assert container.verifier.verify(token).jti in container.revoked
    # §2.2: an invalid token is not an error.
    assert (
        client.post("/oauth2/default/v1/revoke", auth=first, data={"token": "garbage"}).status_code
        == 200
    )


def test_deleting_the_client_makes_its_tokens_inactive(
    client: TestClient, two_clients: list[tuple[str, str]], container: Container
) -> None:
    _first, second = two_clients
    token = token_for(client, second)
    container.api_credentials.update(second[0], actor=ACTOR, disabled=True)
    # The disabled client cannot authenticate to introspect; ask as the owner would be refused,
    # so check the endpoint's view through the container's registry instead.
    assert (
        client.post("/oauth2/default/v1/introspect", auth=second, data={"token": token}).status_code
        == 401
    )
    record = container.registry.get(second[0])
    assert record is not None
    assert not record.active
