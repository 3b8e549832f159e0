"""Repeated failed client authentication is slowed, then refused with 429 and Retry-After;
a client presenting its valid secret is never refused, whoever tripped the throttle."""

from __future__ import annotations

import time
from typing import Any

import pytest
from starlette.testclient import TestClient

from credgate.container import Container
from credgate.core.audit.services import Actor
from credgate.security.models import AuthFailure

ACTOR = Actor("tests", "pytest")


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"auth_failure_limit": 5, "auth_failure_slowdown_after": 2, "auth_lockout_seconds": 120}


def test_failures_from_one_address_are_refused_with_retry_after(
    client: TestClient, container: Container
) -> None:
    created = container.api_credentials.create(name="victim", permissions=["nql"], actor=ACTOR)
    client_id = created.credential.client_id
    statuses = [
        client.post("/api/v1/token", auth=(client_id, "cgs_wrong")).status_code for _ in range(5)
    ]
    assert statuses[:4] == [401] * 4
    assert statuses[4] == 429
    refused = client.post("/api/v1/token", auth=(client_id, "cgs_wrong"))
    assert refused.status_code == 429
    assert 0 < int(refused.headers["retry-after"]) <= 121
    assert refused.json()["error"] == "temporarily_unavailable"
    # A failure from an address already refused is answered without a database write.
    with container.db.session() as session:
        row = session.get(AuthFailure, "addr:testclient")
        assert row is not None
        assert row.failures == 5


def test_valid_secret_gets_a_token_where_others_tripped_the_throttle(
    container: Container, app: Any
) -> None:
    """An integration platform's shared egress address: another client's failures, and wrong
    secrets sent for this very client id, must not keep the real client from its tokens."""
    owner = container.api_credentials.create(name="owner", permissions=["nql"], actor=ACTOR)
    other = container.api_credentials.create(name="neighbour", permissions=["nql"], actor=ACTOR)
    owner_id = owner.credential.client_id
    egress = TestClient(app, client=("203.0.113.20", 40000))
    neighbour = [
        egress.post("/api/v1/token", auth=(other.credential.client_id, "cgs_old")).status_code
        for _ in range(5)
    ]
    assert neighbour[-1] == 429, "the shared address is throttled"
    for _ in range(5):
        assert egress.post("/api/v1/token", auth=(owner_id, "cgs_guess")).status_code == 429
    for _ in range(3):
        granted = egress.post(
            "/api/v1/token",
            auth=(owner_id, owner.client_secret),
            data={"grant_type": "client_credentials"},
        )
        assert granted.status_code == 200, granted.text
        assert granted.json()["access_token"]
    # The same way in the form (client_secret_post), and the throttle still refuses failures.
    posted = egress.post(
        "/api/v1/token",
        data={
            "grant_type": "client_credentials",
            "client_id": owner_id,
            "client_secret": owner.client_secret,
        },
    )
    assert posted.status_code == 200
    assert egress.post("/api/v1/token", auth=(owner_id, "cgs_guess")).status_code == 429


def test_burst_of_wrong_secrets_from_one_ipv6_network_ends_in_429_quickly(
    container: Container, app: Any
) -> None:
    """An IPv6 host picks any address in its /64; the burst is counted as one network's."""
    started = time.monotonic()
    statuses = []
    for i in range(12):
        sender = TestClient(app, client=(f"2001:db8:7:1:{i:x}::{i + 1:x}", 5000 + i))
        statuses.append(
            sender.post("/api/v1/token", auth=(f"client{i:02d}", "cgs_guess")).status_code
        )
    assert statuses == [401] * 4 + [429] * 8
    assert time.monotonic() - started < 5, "refusals answer at once, only failures slow down"
    # Another /64 is another network.
    elsewhere = TestClient(app, client=("2001:db8:7:2::1", 1))
    assert elsewhere.post("/api/v1/token", auth=("client99", "cgs_guess")).status_code == 401


def test_locked_client_id_does_not_lock_out_the_real_client(container: Container, app: Any) -> None:
    created = container.api_credentials.create(name="target", permissions=["nql"], actor=ACTOR)
    client_id = created.credential.client_id
    attacker = TestClient(app, client=("203.0.113.9", 1234))
    owner = TestClient(app, client=("198.51.100.7", 4321))
    with attacker, owner:
        for _ in range(5):
            attacker.post("/api/v1/token", auth=(client_id, "cgs_guess"))
        assert attacker.post("/api/v1/token", auth=(client_id, "cgs_guess")).status_code == 429
        # The owner, from its own address, still gets tokens at full speed.
        for _ in range(3):
            assert (
                owner.post("/api/v1/token", auth=(client_id, created.client_secret)).status_code
                == 200
            )
        # Another address guessing the locked client id is refused at once, not checked again.
        third = TestClient(app, client=("192.0.2.1", 1))
        assert third.post("/api/v1/token", auth=(client_id, "cgs_guess")).status_code == 429


def test_counts_are_shared_through_the_database(container: Container, settings: Any) -> None:
    """A second node (another container on the same database) sees the first node's failures."""
    other = Container.open(settings)
    try:
        for _ in range(4):
            container.failure_store.add("addr:192.0.2.50", 1_000.0, container.throttle.policy)
        failures, blocked = other.failure_store.add(
            "addr:192.0.2.50", 1_001.0, other.throttle.policy
        )
        assert failures == 5
        assert blocked == pytest.approx(1_001.0 + 120)
    finally:
        other.close()
