"""Repeated failed client authentication is slowed, then refused with 429 and Retry-After;
successful clients are not affected."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from credgate.audit.services import Actor
from credgate.runtime import Runtime

ACTOR = Actor("tests", "pytest")


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"auth_failure_limit": 5, "auth_failure_slowdown_after": 2, "auth_lockout_seconds": 120}


def test_failures_from_one_address_are_refused_with_retry_after(
    client: TestClient, runtime: Runtime
) -> None:
    created = runtime.api_credentials.create(name="victim", permissions=["nql"], actor=ACTOR)
    client_id = created.credential.client_id
    statuses = [
        client.post("/api/v1/token", auth=(client_id, "cgs_wrong")).status_code for _ in range(5)
    ]
    assert statuses[:4] == [401] * 4
    assert statuses[4] == 429
    refused = client.post("/api/v1/token", auth=(client_id, created.client_secret))
    assert refused.status_code == 429, "the address is locked out, whatever it sends"
    assert 0 < int(refused.headers["retry-after"]) <= 121
    assert refused.json()["error"] == "temporarily_unavailable"


def test_locked_client_id_does_not_lock_out_the_real_client(runtime: Runtime, app: Any) -> None:
    created = runtime.api_credentials.create(name="target", permissions=["nql"], actor=ACTOR)
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


def test_counts_are_shared_through_the_database(runtime: Runtime, settings: Any) -> None:
    """A second node (another runtime on the same database) sees the first node's failures."""
    other = Runtime.open(settings)
    try:
        for _ in range(4):
            runtime.failure_store.add("addr:192.0.2.50", 1_000.0, runtime.throttle.policy)
        failures, blocked = other.failure_store.add(
            "addr:192.0.2.50", 1_001.0, other.throttle.policy
        )
        assert failures == 5
        assert blocked == pytest.approx(1_001.0 + 120)
    finally:
        other.close()
