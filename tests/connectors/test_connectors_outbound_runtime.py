"""The outbound container over stored credentials: auths from storage, the database token store
and its lease, renewal status, the per-process cache, and "Test" through the admin API.

Every peer is a real HTTPS server on loopback whose private CA the container trusts through
``outbound_ca_bundle``; both storage back ends run.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from outbound_peers import (
    CC_CLIENT_ID,
    CC_CLIENT_SECRET,
    ResourcePeer,
    Tls,
    TlsServer,
    assert_no_secrets,
)
from sqlalchemy import select
from starlette.testclient import TestClient

from credgate.connectors.auth import (
    BasicAuth,
    BearerAuth,
    NoAuth,
    OAuth2ClientCredentialsAuth,
    RenewalError,
    Token,
)
from credgate.connectors.consent import ConnectorConsent
from credgate.connectors.credentials.models import ConnectorCredentialSecret
from credgate.connectors.tokenstore import ConnectorTokenLease, DatabaseTokenStore
from credgate.container import Container
from credgate.core.audit.services import Actor
from credgate.core.errors import InvalidInputError, NotFoundError
from credgate.models import SEALED
from support.connector_data import BASIC, UNREACHABLE, variant
from support.fixtures import trusting_test_ca  # noqa: F401 - a fixture

ACTOR = Actor("tests", "pytest")


@pytest.fixture
def peer(tls: Tls) -> Iterator[tuple[ResourcePeer, str]]:
    state = ResourcePeer()
    with TlsServer(state.app(), tls) as server:
        yield state, server.url


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


def cc_credential(container: Container, url: str, *, secret: str = CC_CLIENT_SECRET) -> str:
    view = container.connector_credentials.create(
        {
            "name": f"cc-{time.monotonic_ns()}",
            "protocol": "HTTPS",
            "url": f"{url}/",
            "authorization": {
                "type": "OAUTH2_CLIENT_CREDENTIALS",
                "client_id": CC_CLIENT_ID,
                "client_secret": secret,
                "access_token_url": f"{url}/token",
                "scope": "read",
            },
        },
        actor=ACTOR,
    )
    return view.id


def check_logs(logs: pytest.LogCaptureFixture, peer: ResourcePeer) -> None:
    checked = assert_no_secrets(logs.records, [CC_CLIENT_SECRET, *peer.issued])
    assert checked > 0


def test_auth_types_are_built_from_storage(
    container: Container, peer: tuple[ResourcePeer, str]
) -> None:
    _state, url = peer
    made: dict[str, str] = {}
    for kind, fields in (
        ("NONE", {}),
        ("BASIC", {"username": "u", "password": "p-secret"}),
        ("BEARER", {"token": "static-token", "header_prefix": "Token"}),
    ):
        made[kind] = container.connector_credentials.create(
            {
                "name": kind,
                "protocol": "HTTPS",
                "url": f"{url}/",
                "authorization": {"type": kind, **fields},
            },
            actor=ACTOR,
        ).id
    made["CC"] = cc_credential(container, url)
    outbound = container.connections
    assert isinstance(outbound.auth_for(made["NONE"]), NoAuth)
    assert isinstance(outbound.auth_for(made["BASIC"]), BasicAuth)
    bearer = outbound.auth_for(made["BEARER"])
    assert isinstance(bearer, BearerAuth)
    assert bearer.header_prefix == "Token"
    assert isinstance(outbound.auth_for(made["CC"]), OAuth2ClientCredentialsAuth)
    with pytest.raises(NotFoundError):
        outbound.auth_for("no-such-credential")


def test_sftp_credential_has_no_https_auth(container: Container) -> None:
    view = container.connector_credentials.create(
        {
            "name": "files",
            "protocol": "SFTP",
            "url": "sftp://127.0.0.1:2222/",
            "authorization": {
                "type": "BASIC",
                "username": "u",
                "password": "p",
                "host_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
            },
        },
        actor=ACTOR,
    )
    with pytest.raises(InvalidInputError) as caught:
        container.connections.auth_for(view.id)
    assert caught.value.errors[0].field == "protocol"


def test_401_once_renews_once_and_retries_once(
    container: Container, peer: tuple[ResourcePeer, str], logs: pytest.LogCaptureFixture
) -> None:
    state, url = peer
    credential_id = cc_credential(container, url)

    async def scenario() -> list[int]:
        async with container.connections.http_client(credential_id) as client:
            first = await client.get(f"{url}/resource")
            state.reject_next = 1
            second = await client.get(f"{url}/resource")
        return [first.status_code, second.status_code]

    assert asyncio.run(scenario()) == [200, 200]
    # one token at first, exactly one renewal for the 401; the rejected request was retried once
    assert state.token_requests == 2
    assert state.resource_requests == 3
    assert container.connector_credentials.get(credential_id).status == "ok"
    check_logs(logs, state)


def test_always_401_does_not_loop(
    container: Container, peer: tuple[ResourcePeer, str], logs: pytest.LogCaptureFixture
) -> None:
    state, url = peer
    credential_id = cc_credential(container, url)
    state.always_401 = True
    with container.connections.sync_http_client(credential_id) as client:
        response = client.get(f"{url}/resource")
    assert response.status_code == 401
    assert state.token_requests == 2  # the first token, and one renewal after the 401
    assert state.resource_requests == 2  # the request and its single retry
    check_logs(logs, state)


def test_token_is_sealed_at_rest_and_shared_with_another_process(
    container: Container, peer: tuple[ResourcePeer, str], settings: Any
) -> None:
    state, url = peer
    credential_id = cc_credential(container, url)
    with container.connections.sync_http_client(credential_id) as client:
        assert client.get(f"{url}/resource").status_code == 200
    (token,) = state.issued
    with container.db.session() as session:
        stored = session.scalars(
            select(ConnectorCredentialSecret.ciphertext).where(
                ConnectorCredentialSecret.credential_id == credential_id
            )
        ).all()
    assert stored
    assert all(token not in value for value in stored)
    loaded = DatabaseTokenStore(container.db, container.connector_credentials, credential_id).load()
    assert loaded is not None
    assert loaded.access_token == token
    # A second process (its own container) reads the stored token instead of fetching one.
    other = Container.open(settings)
    try:
        with other.connections.sync_http_client(credential_id) as client:
            assert client.get(f"{url}/resource").status_code == 200
    finally:
        other.close()
    assert state.token_requests == 1


def test_renewal_failure_is_recorded_as_status_without_secret(
    container: Container, peer: tuple[ResourcePeer, str], logs: pytest.LogCaptureFixture
) -> None:
    _state, url = peer
    credential_id = cc_credential(container, url, secret="not-the-right-secret")
    with (
        container.connections.sync_http_client(credential_id) as client,
        pytest.raises(RenewalError),
    ):
        client.get(f"{url}/resource")
    status = container.connector_credentials.get(credential_id).status
    assert status == "renewal failing: invalid_client"
    assert "not-the-right-secret" not in status
    assert_no_secrets(logs.records, ["not-the-right-secret"])


def test_one_auth_per_credential_until_the_credential_changes(
    container: Container, peer: tuple[ResourcePeer, str]
) -> None:
    _state, url = peer
    credential_id = cc_credential(container, url)
    outbound = container.connections
    auth = outbound.auth_for(credential_id)
    assert outbound.auth_for(credential_id) is auth
    # token saves and status changes publish on the same kind: the auth stays
    DatabaseTokenStore(container.db, container.connector_credentials, credential_id).save(
        Token("x-token", expires_at=time.time() + 60)
    )
    container.connector_credentials.set_status(credential_id, "ok")
    assert outbound.auth_for(credential_id) is auth
    # an edit (here: a new scope) builds a new one
    body = container.connector_credentials.get(credential_id).as_dict()
    body["authorization"]["scope"] = "read write"
    container.connector_credentials.update(credential_id, body, actor=ACTOR)
    changed = outbound.auth_for(credential_id)
    assert changed is not auth
    assert isinstance(changed, OAuth2ClientCredentialsAuth)
    assert changed.scope == "read write"
    container.connector_credentials.delete(credential_id, actor=ACTOR)
    with pytest.raises(NotFoundError):
        outbound.auth_for(credential_id)


def test_lease_is_a_compare_and_set(container: Container, peer: tuple[ResourcePeer, str]) -> None:
    _state, url = peer
    credential_id = cc_credential(container, url)
    store = DatabaseTokenStore(container.db, container.connector_credentials, credential_id)
    assert store.try_acquire_lease("a", 30)
    assert not store.try_acquire_lease("b", 30)
    assert store.try_acquire_lease("a", 30)  # the holder may renew its own lease
    store.release_lease("b")  # not the holder: nothing happens
    assert not store.try_acquire_lease("b", 30)
    store.release_lease("a")
    assert store.try_acquire_lease("b", 30)
    store.release_lease("b")
    assert store.try_acquire_lease("c", 0.05)
    time.sleep(0.1)
    assert store.try_acquire_lease("d", 30)  # c's lease ran out


def test_lease_has_one_winner_among_racing_threads(
    container: Container, peer: tuple[ResourcePeer, str]
) -> None:
    _state, url = peer
    credential_id = cc_credential(container, url)
    start = threading.Barrier(8)
    won: list[str] = []

    def contend(name: str) -> None:
        store = DatabaseTokenStore(container.db, container.connector_credentials, credential_id)
        start.wait()
        if store.try_acquire_lease(name, 30):
            won.append(name)

    threads = [threading.Thread(target=contend, args=(f"h{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(won) == 1
    container.connector_credentials.delete(credential_id, actor=ACTOR)
    with container.db.session() as session:  # the lease row goes with the credential
        assert session.get(ConnectorTokenLease, credential_id) is None


def test_pending_consents_are_rotated_with_the_vault() -> None:
    tables = {column.table.name for column in SEALED.columns}
    assert ConnectorConsent.__tablename__ in tables


def test_admin_api_test_connection_records_the_verdict(
    container: Container,
    admin_client: TestClient,
    peer: tuple[ResourcePeer, str],
    logs: pytest.LogCaptureFixture,
) -> None:
    state, url = peer
    good = cc_credential(container, url)
    bad = cc_credential(container, url, secret="wrong-secret-value")
    answer = admin_client.post(f"/admin/api/v1/connector-credentials/{good}/test")
    assert answer.status_code == 200, answer.text
    assert answer.json()["ok"] is True
    assert "obtained a token" in answer.json()["detail"]
    assert state.token_requests == 1
    refused = admin_client.post(f"/admin/api/v1/connector-credentials/{bad}/test").json()
    assert refused == {
        "ok": False,
        "code": "authentication_failed",
        "detail": "no token: renewal failing: invalid_client",
    }
    shown = admin_client.get(f"/admin/api/v1/connector-credentials/{bad}").json()
    assert shown["last_test"]["ok"] is False
    assert shown["last_test"]["detail"] == refused["detail"]
    assert shown["status"] == "renewal failing: invalid_client"
    assert admin_client.post("/admin/api/v1/connector-credentials/nope/test").status_code == 404
    assert_no_secrets(logs.records, [CC_CLIENT_SECRET, "wrong-secret-value", *state.issued])


def test_test_connection_needs_the_private_ca(
    container: Container, peer: tuple[ResourcePeer, str], tmp_path: Path
) -> None:
    """TLS verification is on: without the CA bundle the peer's certificate is refused."""
    _state, url = peer
    credential_id = cc_credential(container, url)
    container.connections.ca_bundle = None  # the system store does not know the test CA
    verdict = asyncio.run(container.connections.test(credential_id))
    assert not verdict.ok
    assert verdict.code == "connection_failed"
    assert "CERTIFICATE_VERIFY_FAILED" in verdict.detail or "certificate" in verdict.detail


def test_unreachable_instance_gives_a_clear_verdict(container: Container) -> None:
    down = variant(BASIC, "down", UNREACHABLE, username="u", password="pw-down")
    view = container.connector_credentials.create(down, actor=ACTOR)
    verdict = asyncio.run(container.connections.test(view.id))
    assert not verdict.ok
    assert verdict.code == "connection_failed"
    assert "127.0.0.1:9" in verdict.detail
    assert "pw-down" not in verdict.detail
    assert container.connector_credentials.get(view.id).last_test_ok is False
